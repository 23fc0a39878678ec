#include "sweeps/split_file.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"

namespace pg::sweeps {
namespace {

std::string write_split(const std::string& name, const std::string& contents) {
  const std::string path = testing::make_temp_dir("split_file") + "/" + name;
  write_file_atomic(path, contents);
  return path;
}

// Runs `action`, expecting a pg::Error whose message contains every one of `parts`.
template <typename Action>
void expect_error(Action action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "expected a pg::Error";
  } catch (const Error& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
    }
  }
}

TEST(SplitFile, ReadsTheDtdSplit) {
  const SplitFile split = read_split_file(testing::shared_data("splits/split_zhou_DescribableTextures.json"));
  // Sizes and first entry as in the file (python3: len(d['train']), d['train'][0], ...).
  EXPECT_EQ(split.train.size(), 2820u);
  EXPECT_EQ(split.val.size(), 1128u);
  EXPECT_EQ(split.test.size(), 1692u);
  EXPECT_EQ(split.train[0].relpath, "banded/banded_0133.jpg");
  EXPECT_EQ(split.train[0].label, 0);
  EXPECT_EQ(split.train[0].classname, "banded");
  EXPECT_EQ(&split.split("val"), &split.val);
  const std::vector<std::string> names = classnames_by_label(split);
  ASSERT_EQ(names.size(), 47u);
  EXPECT_EQ(names[0], "banded");
}

TEST(SplitFile, EuroSatClassNamesHaveSpaces) {
  const SplitFile split = read_split_file(testing::shared_data("splits/split_zhou_EuroSAT.json"));
  const std::vector<std::string> names = classnames_by_label(split);
  ASSERT_EQ(names.size(), 10u);
  EXPECT_EQ(names[0], "Annual Crop Land");
}

TEST(SplitFile, UnknownSplitNameIsAnError) {
  const SplitFile split = read_split_file(write_split("ok.json", R"({"train": [], "val": [], "test": []})"));
  expect_error([&] { split.split("validation"); }, {"ok.json", "'validation'", "train, val or test"});
}

TEST(SplitFile, TopLevelMustBeAnObject) {
  const std::string path = write_split("list.json", "[1, 2]");
  expect_error([&] { read_split_file(path); }, {path, "top level is array", "expected an object"});
}

TEST(SplitFile, MissingSplitIsNamed) {
  const std::string path = write_split("no_val.json", R"({"train": [], "test": []})");
  expect_error([&] { read_split_file(path); }, {path, "split 'val' is missing"});
}

TEST(SplitFile, SplitMustBeAList) {
  const std::string path = write_split("val_object.json", R"({"train": [], "val": {}, "test": []})");
  expect_error([&] { read_split_file(path); }, {path, "split 'val' is object", "expected a list"});
}

TEST(SplitFile, WrongFieldTypesNameSplitIndexAndField) {
  const std::string label_string =
      write_split("label.json", R"({"train": [], "val": [["a.jpg", 0, "a"], ["b.jpg", "1", "b"]], "test": []})");
  expect_error([&] { read_split_file(label_string); },
               {label_string, "val[1]", "field 1 (label)", "is string", "expected an integer"});

  const std::string relpath_number = write_split("relpath.json", R"({"train": [[3, 0, "a"]], "val": [], "test": []})");
  expect_error([&] { read_split_file(relpath_number); }, {"train[0]", "field 0 (relpath)", "expected a string"});

  const std::string classname_null =
      write_split("classname.json", R"({"train": [], "val": [], "test": [["a.jpg", 0, null]]})");
  expect_error([&] { read_split_file(classname_null); }, {"test[0]", "field 2 (classname)", "is null"});

  const std::string label_float = write_split("float.json", R"({"train": [["a.jpg", 0.5, "a"]], "val": [], "test": []})");
  expect_error([&] { read_split_file(label_float); }, {"train[0]", "field 1 (label)", "expected an integer"});
}

TEST(SplitFile, EntriesMustHaveThreeFields) {
  const std::string path = write_split("short.json", R"({"train": [["a.jpg", 0]], "val": [], "test": []})");
  expect_error([&] { read_split_file(path); }, {path, "train[0]", "array of 2 items", "[relpath"});
  const std::string scalar = write_split("scalar.json", R"({"train": ["a.jpg"], "val": [], "test": []})");
  expect_error([&] { read_split_file(scalar); }, {"train[0] is string"});
}

TEST(SplitFile, NegativeLabelIsAnError) {
  const std::string path = write_split("negative.json", R"({"train": [["a.jpg", -1, "a"]], "val": [], "test": []})");
  expect_error([&] { read_split_file(path); }, {"train[0]", "field 1 (label) is -1", "0..n-1"});
}

TEST(SplitFile, MissingFileAndBadJsonNameThePath) {
  expect_error([] { read_split_file("/nonexistent/split.json"); }, {"/nonexistent/split.json", "cannot open"});
  const std::string path = write_split("broken.json", "{\"train\": [");
  expect_error([&] { read_split_file(path); }, {path, "not valid JSON"});
}

TEST(SplitFile, ClassNamesNeedLabelsWithoutGaps) {
  const std::string path = write_split(
      "gap.json", R"({"train": [["a.jpg", 0, "a"], ["c.jpg", 2, "c"]], "val": [], "test": [["a2.jpg", 0, "a"]]})");
  const SplitFile split = read_split_file(path);
  expect_error([&] { classnames_by_label(split); }, {path, "label 1 never occurs", "label 2 does", "0..n-1"});
}

TEST(SplitFile, ClassNamesMustAgreeAcrossSplits) {
  const std::string path = write_split(
      "clash.json", R"({"train": [["a.jpg", 0, "cat"], ["b.jpg", 1, "dog"]], "val": [], "test": [["c.jpg", 1, "wolf"]]})");
  const SplitFile split = read_split_file(path);
  expect_error([&] { classnames_by_label(split); }, {path, "label 1", "'dog'", "'wolf'", "test[0]"});
}

TEST(SplitFile, ClassNamesIndexedByLabelWhateverTheFileOrder) {
  const std::string path = write_split(
      "order.json", R"({"train": [["b.jpg", 1, "dog"]], "val": [["a.jpg", 0, "cat"]], "test": [["c.jpg", 1, "dog"]]})");
  EXPECT_EQ(classnames_by_label(read_split_file(path)), (std::vector<std::string>{"cat", "dog"}));
}

}  // namespace
}  // namespace pg::sweeps
