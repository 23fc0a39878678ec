// Prompt files: round trip of tensors of any rank with the task JSON, and the reader's errors on
// malformed files (edited with the HDF5 C API), each naming the file and the object.
#include "storage/prompt_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "storage/hdf5_edit.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

using pg::testing::Hdf5Edit;

const std::string kTask = R"({"dataset":"dtd","method":"coop","seed":1,"shots":16})";

std::vector<NamedTensor> sample_tensors() {
  NamedTensor ctx{"ctx", {2, 3}, {0.5f, -1.25f, 3.0f, 1e-7f, -2e5f, 0.0f}};
  NamedTensor csc{"ctx_csc", {2, 1, 2}, {1, 2, 3, 4}};
  NamedTensor weight{"meta_net.linear1.weight", {1, 3}, {0.1f, 0.2f, 0.3f}};
  NamedTensor scalar{"temperature", {}, {4.6052f}};
  NamedTensor empty{"unused", {0, 4}, {}};
  return {weight, ctx, scalar, csc, empty};
}

std::string read_error(const std::string& path) {
  try {
    read_prompt_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string write_error(const std::string& path, const std::string& task, const std::vector<NamedTensor>& tensors) {
  try {
    write_prompt_file(path, task, tensors);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

class PromptStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pg::testing::make_temp_dir("prompt_store");
    path_ = dir_ + "/task.h5";
  }
  std::string dir_, path_;
};

TEST_F(PromptStoreTest, RoundTrip) {
  write_prompt_file(path_, kTask, sample_tensors());
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1)
      << "the temporary file must have been renamed away";
  const PromptFile file = read_prompt_file(path_);
  EXPECT_EQ(file.path, path_);
  EXPECT_EQ(file.task_json, kTask);
  std::vector<std::string> names;
  for (const auto& tensor : file.tensors) names.push_back(tensor.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ctx", "ctx_csc", "meta_net.linear1.weight", "temperature", "unused"}));
  for (const auto& want : sample_tensors()) {
    const NamedTensor& got = file.tensor(want.name);
    EXPECT_EQ(got.shape, want.shape) << want.name;
    EXPECT_EQ(got.values, want.values) << want.name;
  }
}

TEST_F(PromptStoreTest, ReplacesAnExistingFileWhole) {
  write_prompt_file(path_, kTask, sample_tensors());
  write_prompt_file(path_, R"({"seed":2})", {NamedTensor{"ctx", {1}, {7.0f}}});
  const PromptFile file = read_prompt_file(path_);
  EXPECT_EQ(file.task_json, R"({"seed":2})");
  ASSERT_EQ(file.tensors.size(), 1u);
  EXPECT_EQ(file.tensors[0].values, std::vector<float>{7.0f});
}

TEST_F(PromptStoreTest, UnknownTensorNamesThePresentOnes) {
  write_prompt_file(path_, kTask, sample_tensors());
  try {
    read_prompt_file(path_).tensor("meta_net.linear2.bias");
    FAIL() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {path_, "meta_net.linear2.bias", "ctx, ctx_csc"});
  }
}

TEST_F(PromptStoreTest, WriterRejectsBadInput) {
  expect_contains(write_error(path_, "{not json", sample_tensors()), {path_, "'task' is not valid JSON"});
  expect_contains(write_error(path_, kTask, {NamedTensor{"ctx", {2, 3}, {1, 2, 3}}}),
                  {path_ + ": /ctx: 3 values for shape [2, 3] (6 expected)"});
  expect_contains(write_error(path_, kTask, {NamedTensor{"ctx", {1}, {NAN}}}),
                  {path_ + ": /ctx: value 0 is not finite"});
  expect_contains(write_error(path_, kTask, {NamedTensor{"a/b", {1}, {1}}}), {path_, "invalid tensor name 'a/b'"});
  expect_contains(write_error(path_, kTask, {NamedTensor{"ctx", {1}, {1}}, NamedTensor{"ctx", {1}, {2}}}),
                  {path_ + ": /ctx: tensor name given twice"});
  expect_contains(write_error(dir_ + "/no/such/folder/p.h5", kTask, sample_tensors()),
                  {dir_ + "/no/such/folder/p.h5", "cannot create"});
  EXPECT_TRUE(std::filesystem::is_empty(dir_)) << "nothing may be written for bad input";
}

TEST_F(PromptStoreTest, MissingEmptyAndNonHdf5Files) {
  expect_contains(read_error(path_), {path_, "no such file"});
  std::ofstream(path_).close();
  expect_contains(read_error(path_), {path_, "empty file"});
  std::ofstream(path_) << "ctx = [0.1, 0.2]\n";
  expect_contains(read_error(path_), {path_, "not an HDF5 file", "prompt file"});
}

TEST_F(PromptStoreTest, TruncatedFile) {
  write_prompt_file(path_, kTask, sample_tensors());
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) / 2);
  expect_contains(read_error(path_), {path_, "truncated"});
}

TEST_F(PromptStoreTest, WrongFormatAndVersion) {
  write_prompt_file(path_, kTask, sample_tensors());
  Hdf5Edit(path_).set_string_attribute("/", "format", "promptgrid-features");
  expect_contains(read_error(path_), {path_ + ": / (root): attribute 'format' is 'promptgrid-features'"});
  Hdf5Edit(path_).set_string_attribute("/", "format", "promptgrid-prompts");
  Hdf5Edit(path_).set_int_attribute("/", "format_version", 7);
  expect_contains(read_error(path_), {path_ + ": / (root): format_version 7 is not supported"});
}

TEST_F(PromptStoreTest, MissingOrBadTask) {
  write_prompt_file(path_, kTask, sample_tensors());
  Hdf5Edit(path_).set_string_attribute("/", "task", "{\"seed\": ");
  expect_contains(read_error(path_), {path_ + ": / (root): attribute 'task' is not valid JSON"});
  Hdf5Edit(path_).remove_attribute("/", "task");
  expect_contains(read_error(path_), {path_ + ": / (root): attribute 'task' is missing"});
}

TEST_F(PromptStoreTest, TensorOfWrongType) {
  write_prompt_file(path_, kTask, sample_tensors());
  Hdf5Edit(path_).put_ints("/ctx", {2, 3}, {1, 2, 3, 4, 5, 6});
  expect_contains(read_error(path_), {path_ + ": /ctx: has type integer of 32 bits, expected float32"});
}

TEST_F(PromptStoreTest, NonFiniteTensor) {
  write_prompt_file(path_, kTask, sample_tensors());
  Hdf5Edit(path_).put_floats("/ctx", {2, 3}, INFINITY);
  expect_contains(read_error(path_), {path_ + ": /ctx: value 0 is not finite"});
}

}  // namespace
}  // namespace pg::storage
