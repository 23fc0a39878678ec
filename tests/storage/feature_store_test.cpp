// The feature store: round trips in float32 and float16, views, and one test per malformed input the
// reader must reject (files edited directly with the HDF5 C API) with a message naming file and object.
#include "storage/feature_store.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/error.h"
#include "storage/feature_store_fixtures.h"
#include "storage/hdf5_edit.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

using pg::testing::Hdf5Edit;

class FeatureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = pg::testing::make_temp_dir("feature_store"); }

  // A good float32 store with dataset "dtd" (3 classes, train 5 rows with 2 views, val 2, test 3).
  std::string write_good_store(FeatureDtype dtype = FeatureDtype::float32) {
    const std::string path = dir_ + "/features.h5";
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, dtype);
    writer.write_dataset(make_dataset());
    writer.close();
    return path;
  }

  // The pg::Error message of reading `dataset`'s `split` (and its summary) from `path`.
  static std::string read_error(const std::string& path, const std::string& split = "train") {
    try {
      FeatureStoreReader reader(path);
      reader.read_split("dtd", split);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::string dir_;
};

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& part : parts) EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

TEST_F(FeatureStoreTest, RoundTripFloat32) {
  const std::string path = write_good_store();
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
  FeatureStoreReader reader(path);
  EXPECT_EQ(reader.backbone(), "ViT-B/16");
  EXPECT_EQ(reader.embed_dim(), kDim);
  EXPECT_EQ(reader.datasets(), std::vector<std::string>{"dtd"});
  EXPECT_EQ(reader.classnames("dtd"), (std::vector<std::string>{"banded", "blotchy", "bubbly"}));
  EXPECT_EQ(reader.prompt_template("dtd"), "{} texture.");
  const DatasetFeatures expected = make_dataset();
  for (const auto& [name, split] : expected.splits) {
    const SplitFeatures got = reader.read_split("dtd", name);
    EXPECT_EQ(got.rows, split.rows) << name;
    EXPECT_EQ(got.dim, kDim) << name;
    EXPECT_EQ(got.features, split.features) << name;
    EXPECT_EQ(got.labels, split.labels) << name;
    EXPECT_EQ(got.paths, split.paths) << name;
    EXPECT_EQ(got.num_views, split.num_views) << name;
    EXPECT_EQ(got.views, split.views) << name;
  }
  const DatasetSummary summary = reader.summary("dtd");
  EXPECT_EQ(summary.num_classes, 3);
  EXPECT_EQ(summary.split_rows, (std::map<std::string, int64_t>{{"train", 5}, {"val", 2}, {"test", 3}}));
  EXPECT_EQ(summary.train_views, 2);
  EXPECT_EQ(summary.dtype, "float32");
}

TEST_F(FeatureStoreTest, Float16IsStoredAsIeeeHalfAndChunked) {
  const std::string path = write_good_store(FeatureDtype::float16);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t dataset = H5Dopen2(file, "/dtd/train/features", H5P_DEFAULT);
  const hid_t type = H5Dget_type(dataset);
  EXPECT_EQ(H5Tget_class(type), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(type), 2u);
  EXPECT_EQ(H5Tget_order(type), H5T_ORDER_LE);
  size_t spos, epos, esize, mpos, msize;
  H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize);
  EXPECT_EQ(std::vector<size_t>({spos, epos, esize, mpos, msize}), std::vector<size_t>({15, 10, 5, 0, 10}));
  EXPECT_EQ(H5Tget_ebias(type), 15u);
  // The raw bits of the first values: 1.0 would be 0x3C00; here -18/8 = -2.25 -> 0xC080, -17/8 -> 0xC040.
  std::vector<uint16_t> raw(5 * kDim);
  const hid_t raw_type = H5Tcopy(type);
  ASSERT_GE(H5Dread(dataset, raw_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
  EXPECT_EQ(raw[0], 0xC080);
  EXPECT_EQ(raw[1], 0xC040);
  const hid_t properties = H5Dget_create_plist(dataset);
  EXPECT_EQ(H5Pget_layout(properties), H5D_CHUNKED);
  H5Pclose(properties);
  H5Tclose(raw_type);
  H5Tclose(type);
  H5Dclose(dataset);
  H5Fclose(file);
  EXPECT_EQ(FeatureStoreReader(path).summary("dtd").dtype, "float16");
}

TEST_F(FeatureStoreTest, RoundTripFloat16ExactAndRounded) {
  // Exactly representable values come back bit-exact; others within float16's half-ulp (2^-11 relative).
  SplitFeatures split = make_split(3, 0, 0);
  split.features = {1.0f, -0.5f, 65504.0f, std::ldexp(1.0f, -24),  // exact
                    0.1f, -3.14159f, 1234.567f, 1e-3f,             // rounded
                    0.0f, -0.0f, 2.0f / 3.0f, 1.0f + 1e-4f};
  DatasetFeatures dataset = make_dataset();
  dataset.splits = {{"test", split}};
  const std::string path = dir_ + "/half.h5";
  {
    FeatureStoreWriter writer(path, "RN50", kDim, FeatureDtype::float16);
    writer.write_dataset(dataset);
    writer.close();
  }
  const SplitFeatures got = FeatureStoreReader(path).read_split("dtd", "test");
  for (const size_t i : {0u, 1u, 2u, 3u, 8u, 9u}) {
    uint32_t want, have;
    std::memcpy(&want, &split.features[i], 4);
    std::memcpy(&have, &got.features[i], 4);
    EXPECT_EQ(have, want) << "value " << split.features[i];
  }
  for (const size_t i : {4u, 5u, 6u, 7u, 10u, 11u}) {
    const float want = split.features[i];
    EXPECT_LE(std::fabs(got.features[i] - want), std::fabs(want) * std::ldexp(1.0f, -11)) << want;
    EXPECT_NE(got.features[i], want) << "not representable in float16, so it must have been rounded";
  }
  EXPECT_EQ(got.features[6], 1235.0f);  // float16 spacing in [1024, 2048) is 1
  EXPECT_EQ(got.features[11], 1.0f);    // 1e-4 is below half of the spacing 2^-10 at 1
}

TEST_F(FeatureStoreTest, ViewsRoundTripInFloat16) {
  const std::string path = write_good_store(FeatureDtype::float16);
  const SplitFeatures got = FeatureStoreReader(path).read_split("dtd", "train");
  EXPECT_EQ(got.num_views, 2);
  EXPECT_EQ(got.views, make_dataset().splits.at("train").views);  // multiples of 1/4: exact in float16
  EXPECT_TRUE(FeatureStoreReader(path).read_split("dtd", "val").views.empty());
}

TEST_F(FeatureStoreTest, AppendAddsADataset) {
  const std::string path = write_good_store();
  {
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float16, WriteMode::append);
    writer.write_dataset(make_dataset("eurosat"));
    writer.close();
  }
  FeatureStoreReader reader(path);
  EXPECT_EQ(reader.datasets(), (std::vector<std::string>{"dtd", "eurosat"}));
  EXPECT_EQ(reader.summary("dtd").dtype, "float32");
  EXPECT_EQ(reader.summary("eurosat").dtype, "float16");
  EXPECT_EQ(reader.read_split("eurosat", "val").labels, make_dataset().splits.at("val").labels);
}

TEST_F(FeatureStoreTest, AppendRejectsOtherBackboneAndExistingDataset) {
  const std::string path = write_good_store();
  try {
    FeatureStoreWriter writer(path, "RN50", 1024, FeatureDtype::float32, WriteMode::append);
    FAIL() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {path, "ViT-B/16", "RN50", "1024"});
  }
  FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32, WriteMode::append);
  try {
    writer.write_dataset(make_dataset());
    FAIL() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {path, "/dtd", "already in the store"});
  }
}

// ----- writer invariants: a bad store cannot be written --------------------------------------------

std::string write_error(const std::string& path, const DatasetFeatures& dataset) {
  try {
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32);
    writer.write_dataset(dataset);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(FeatureStoreTest, WriterRejectsBadDatasets) {
  const std::string path = dir_ + "/bad.h5";
  DatasetFeatures dataset = make_dataset();
  dataset.splits["train"].dim = 6;
  dataset.splits["train"].features.resize(5 * 6);
  expect_contains(write_error(path, dataset),
                  {path + ": /dtd/train/features has shape [5, 6], expected D = 4 from backbone ViT-B/16"});

  dataset = make_dataset();
  dataset.splits["val"].labels[1] = 3;
  expect_contains(write_error(path, dataset), {path, "/dtd/val/labels", "label 3, outside [0, 3)"});

  dataset = make_dataset();
  dataset.splits["test"].paths.pop_back();
  expect_contains(write_error(path, dataset), {path, "/dtd/test/paths", "has 2 rows, but features has 3"});

  dataset = make_dataset();
  dataset.splits["val"].num_views = 1;
  dataset.splits["val"].views.resize(2 * kDim);
  expect_contains(write_error(path, dataset), {path, "/dtd/val/views", "only stored for the train split"});

  dataset = make_dataset();
  dataset.splits["train"].views.pop_back();
  expect_contains(write_error(path, dataset), {path, "/dtd/train/views", "values given for shape [2, 5, 4]"});

  dataset = make_dataset();
  dataset.prompt_template = "a photo.";
  expect_contains(write_error(path, dataset), {path, "/dtd", "no '{}'"});

  dataset = make_dataset();
  dataset.splits["train"].features[3] = NAN;
  expect_contains(write_error(path, dataset), {path, "/dtd/train/features", "row 0", "non-finite"});

  dataset = make_dataset();
  dataset.splits["holdout"] = make_split(1, 0, 0);
  expect_contains(write_error(path, dataset), {path, "/dtd/holdout", "unknown split"});
  // A store whose write failed is discarded, not published, and no temporary file is left behind.
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

// ----- reader: malformed files ------------------------------------------------------------------

TEST_F(FeatureStoreTest, MissingFile) {
  const std::string path = dir_ + "/absent.h5";
  expect_contains(read_error(path), {path, "no such file"});
}

TEST_F(FeatureStoreTest, EmptyFile) {
  const std::string path = dir_ + "/empty.h5";
  std::ofstream(path).close();
  expect_contains(read_error(path), {path, "empty file"});
}

TEST_F(FeatureStoreTest, TextFileIsNotHdf5) {
  const std::string path = dir_ + "/notes.h5";
  std::ofstream(path) << "just some text, certainly not HDF5\n";
  expect_contains(read_error(path), {path, "not an HDF5 file", "feature store"});
}

TEST_F(FeatureStoreTest, TruncatedFile) {
  const std::string good = write_good_store();
  const std::string path = dir_ + "/truncated.h5";
  std::filesystem::copy_file(good, path);
  std::filesystem::resize_file(path, std::filesystem::file_size(good) / 2);
  expect_contains(read_error(path), {path, "truncated"});
}

TEST_F(FeatureStoreTest, WrongFormatAttribute) {
  const std::string path = write_good_store();
  Hdf5Edit(path).set_string_attribute("/", "format", "promptgrid-prompts");
  expect_contains(read_error(path), {path, "/ (root)", "'format' is 'promptgrid-prompts'", "promptgrid-features"});
}

TEST_F(FeatureStoreTest, UnknownFormatVersion) {
  const std::string path = write_good_store();
  Hdf5Edit(path).set_int_attribute("/", "format_version", 2);
  expect_contains(read_error(path), {path, "/ (root)", "format_version 2 is not supported"});
}

TEST_F(FeatureStoreTest, MissingRootAttribute) {
  const std::string path = write_good_store();
  Hdf5Edit(path).remove_attribute("/", "embed_dim");
  expect_contains(read_error(path), {path, "/ (root)", "attribute 'embed_dim' is missing"});
}

TEST_F(FeatureStoreTest, WrongAttributeType) {
  const std::string path = write_good_store();
  Hdf5Edit(path).set_string_attribute("/", "embed_dim", "512");
  expect_contains(read_error(path), {path, "/ (root)", "'embed_dim' is of type string, expected an integer"});
}

TEST_F(FeatureStoreTest, MissingGroup) {
  const std::string path = write_good_store();
  Hdf5Edit(path).remove("/dtd/val");
  expect_contains(read_error(path, "val"), {path + ": /dtd/val: group is missing"});
  // The other splits still read.
  EXPECT_EQ(FeatureStoreReader(path).summary("dtd").split_rows.count("val"), 0u);
}

TEST_F(FeatureStoreTest, MissingDataset) {
  const std::string path = write_good_store();
  Hdf5Edit(path).remove("/dtd/train/labels");
  expect_contains(read_error(path), {path + ": /dtd/train/labels: dataset is missing"});
}

TEST_F(FeatureStoreTest, MissingClassnames) {
  const std::string path = write_good_store();
  Hdf5Edit(path).remove("/dtd/classnames");
  expect_contains(read_error(path), {path + ": /dtd/classnames: dataset is missing"});
}

TEST_F(FeatureStoreTest, MissingDatasetAttribute) {
  const std::string path = write_good_store();
  Hdf5Edit(path).remove_attribute("/dtd", "template");
  expect_contains(read_error(path), {path + ": /dtd: attribute 'template' is missing"});
}

TEST_F(FeatureStoreTest, UnknownDatasetName) {
  const std::string path = write_good_store();
  try {
    FeatureStoreReader(path).summary("eurosat");
    FAIL() << "no error";
  } catch (const Error& e) {
    expect_contains(e.what(), {path, "/eurosat", "not in the store", "dtd"});
  }
}

TEST_F(FeatureStoreTest, WrongRank) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_floats("/dtd/train/features", {20});
  expect_contains(read_error(path), {path + ": /dtd/train/features: has rank 1 (shape [20]), expected rank 2"});
}

TEST_F(FeatureStoreTest, DimensionDoesNotMatchEmbedDim) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_floats("/dtd/train/features", {5, 768});
  expect_contains(read_error(path),
                  {path + ": /dtd/train/features has shape [5, 768], expected D = 4 from backbone ViT-B/16"});
}

TEST_F(FeatureStoreTest, FeaturesOfWrongTypeClass) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_ints("/dtd/train/features", {5, 4}, std::vector<int32_t>(20, 1));
  expect_contains(read_error(path), {path + ": /dtd/train/features: has type integer, expected float16 or float32"});
}

TEST_F(FeatureStoreTest, LabelsOfWrongTypeClass) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_floats("/dtd/train/labels", {5});
  expect_contains(read_error(path), {path + ": /dtd/train/labels: has type float, expected int32"});
}

TEST_F(FeatureStoreTest, PathsOfWrongTypeClass) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_ints("/dtd/test/paths", {3}, {0, 1, 2});
  expect_contains(read_error(path, "test"), {path + ": /dtd/test/paths: has type integer, expected strings"});
}

TEST_F(FeatureStoreTest, LabelOutOfRange) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_ints("/dtd/train/labels", {5}, {0, 1, 2, 3, 0});
  expect_contains(read_error(path), {path + ": /dtd/train/labels: row 3 has label 3, outside [0, 3)"});
  Hdf5Edit(path).put_ints("/dtd/train/labels", {5}, {0, -1, 2, 1, 0});
  expect_contains(read_error(path), {path + ": /dtd/train/labels: row 1 has label -1, outside [0, 3)"});
}

TEST_F(FeatureStoreTest, LabelRowsDoNotMatchFeatures) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_ints("/dtd/train/labels", {4}, {0, 1, 2, 0});
  expect_contains(read_error(path), {path + ": /dtd/train/labels: has 4 rows, but features has 5"});
}

TEST_F(FeatureStoreTest, PathRowsDoNotMatchFeatures) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_strings("/dtd/train/paths", {"a.jpg", "b.jpg"});
  expect_contains(read_error(path), {path + ": /dtd/train/paths: has 2 rows, but features has 5"});
}

TEST_F(FeatureStoreTest, ViewsShapeMismatch) {
  const std::string path = write_good_store();
  Hdf5Edit(path).put_floats("/dtd/train/views", {2, 4, 4});
  expect_contains(read_error(path),
                  {path + ": /dtd/train/views has shape [2, 4, 4], expected [V, 5, 4]"});
  Hdf5Edit(path).put_floats("/dtd/train/views", {5, 4});
  expect_contains(read_error(path), {path + ": /dtd/train/views: has rank 2"});
}

TEST_F(FeatureStoreTest, ClassnamesCountDiffersFromNumClasses) {
  const std::string path = write_good_store();
  Hdf5Edit(path).set_int_attribute("/dtd", "num_classes", 4);
  expect_contains(read_error(path), {path + ": /dtd/classnames: has 3 class names, but num_classes is 4"});
}

TEST_F(FeatureStoreTest, ReadsFixedLengthStringsToo) {
  // h5py writes numpy bytes arrays as fixed-length strings; they read the same.
  const std::string path = write_good_store();
  {
    Hdf5Edit edit(path);
    edit.remove("/dtd/classnames");
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 8);
  const hsize_t dims[1] = {3};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t dataset = H5Dcreate2(file, "/dtd/classnames", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const char names[24] = "banded\0\0blotchy\0bubbly\0";
  ASSERT_GE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, names), 0);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);
  EXPECT_EQ(FeatureStoreReader(path).classnames("dtd"), (std::vector<std::string>{"banded", "blotchy", "bubbly"}));
}

}  // namespace
}  // namespace pg::storage

namespace pg::storage {
namespace {

class SkippedImagesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = pg::testing::make_temp_dir("skipped_images"); }
  std::string write(const DatasetFeatures& dataset, const std::string& name = "features.h5") {
    const std::string path = dir_ + "/" + name;
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32);
    writer.write_dataset(dataset);
    writer.close();
    return path;
  }
  std::string dir_;
};

DatasetFeatures dataset_with_skipped() {
  DatasetFeatures dataset = make_dataset();
  dataset.splits["train"].skipped = {{1, "banded/broken.jpg", "banded/broken.jpg: not a JPEG or PNG file"},
                                     {6, "bubbly/gone.jpg", "bubbly/gone.jpg: no such file"}};
  dataset.splits["test"].skipped = {{0, "blotchy/cut.png", "blotchy/cut.png: truncated"}};
  return dataset;
}

TEST_F(SkippedImagesTest, RoundTripAndSummary) {
  const std::string path = write(dataset_with_skipped());
  const FeatureStoreReader reader(path);
  reader.validate("dtd");
  const SplitFeatures train = reader.read_split("dtd", "train");
  ASSERT_EQ(train.skipped.size(), 2u);
  EXPECT_EQ(train.skipped[1].split_row, 6);
  EXPECT_EQ(train.skipped[1].path, "bubbly/gone.jpg");
  EXPECT_EQ(train.skipped[1].reason, "bubbly/gone.jpg: no such file");
  EXPECT_EQ(train.rows, 5);  // the rows themselves are unchanged: skipped images have none
  EXPECT_TRUE(reader.read_split("dtd", "val").skipped.empty());
  const DatasetSummary summary = reader.summary("dtd");
  EXPECT_EQ(summary.split_skipped, (std::map<std::string, int64_t>{{"train", 2}, {"test", 1}}));
}

TEST_F(SkippedImagesTest, WriterRejectsRowsOutOfOrder) {
  DatasetFeatures dataset = dataset_with_skipped();
  dataset.splits["train"].skipped[1].split_row = 1;
  const std::string message = pg::testing::error_message([&] { write(dataset); });
  EXPECT_NE(message.find("/dtd/train/skipped_rows: entry 1 is row 1"), std::string::npos) << message;
}

TEST_F(SkippedImagesTest, ReaderRejectsMalformedLists) {
  std::string path = write(dataset_with_skipped());
  pg::testing::Hdf5Edit(path).put_strings("/dtd/train/skipped_paths", {"a.jpg"});
  std::string message = pg::testing::error_message([&] { FeatureStoreReader(path).read_split("dtd", "train"); });
  EXPECT_NE(message.find("/dtd/train/skipped_paths: has 1 entries, but skipped_rows has 2"), std::string::npos)
      << message;
  path = write(dataset_with_skipped(), "second.h5");
  pg::testing::Hdf5Edit(path).put_ints("/dtd/train/skipped_rows", {2}, {5, 3});
  message = pg::testing::error_message([&] { FeatureStoreReader(path).read_split("dtd", "train"); });
  EXPECT_NE(message.find("/dtd/train/skipped_rows: entry 1 is row 3"), std::string::npos) << message;
  path = write(dataset_with_skipped(), "third.h5");
  pg::testing::Hdf5Edit(path).remove("/dtd/train/skipped_reasons");
  message = pg::testing::error_message([&] { FeatureStoreReader(path).read_split("dtd", "train"); });
  EXPECT_NE(message.find("/dtd/train/skipped_reasons: dataset is missing"), std::string::npos) << message;
}

// No modification times in the file: the same content written twice, a second apart, gives the same
// bytes (what makes an extraction by N ranks byte-identical to one by a single process).
TEST_F(SkippedImagesTest, SameContentSameBytes) {
  const std::string first = write(dataset_with_skipped(), "first.h5");
  ::sleep(1);
  const std::string second = write(dataset_with_skipped(), "second.h5");
  EXPECT_EQ(pg::testing::read_bytes(first), pg::testing::read_bytes(second));
}

}  // namespace
}  // namespace pg::storage
