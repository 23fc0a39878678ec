// Feature stores crafted or damaged to crash, exhaust or silently mislead the reader and the writer
// (issue #5, cases 3, 5, 8, 11, 12, 18, 19): each is a pg::Error naming the file and object.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "storage/feature_store.h"
#include "storage/feature_store_fixtures.h"
#include "storage/hdf5_edit.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

using pg::testing::error_message;
using pg::testing::Hdf5Edit;

class HostileStore : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = pg::testing::make_temp_dir("hostile_store"); }

  std::string write_store(const std::string& name = "features.h5", FeatureDtype dtype = FeatureDtype::float32) {
    const std::string path = dir_ + "/" + name;
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, dtype);
    writer.write_dataset(make_dataset());
    writer.close();
    return path;
  }

  // Everything training and `features info` read; "" when it all reads, else the error.
  static std::string read_everything(const std::string& path) {
    try {
      FeatureStoreReader reader(path);
      for (const auto& dataset : reader.datasets()) {
        reader.summary(dataset);
        reader.validate(dataset);
        for (const char* split : {"train", "val", "test"}) reader.read_split(dataset, split);
      }
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }

  std::string dir_;
};

// Strings as HDF5's own variable-length reader returns them (for files that are not damaged).
std::vector<std::string> strings_read_by_hdf5(const std::string& path, const std::string& object) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t dataset = H5Dopen2(file, object.c_str(), H5P_DEFAULT);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const hid_t space = H5Dget_space(dataset);
  std::vector<char*> pointers(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
  H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data());
  std::vector<std::string> values(pointers.begin(), pointers.end());
#if H5_VERSION_GE(1, 12, 0)
  H5Treclaim(type, space, H5P_DEFAULT, pointers.data());
#else
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, pointers.data());
#endif
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(dataset);
  H5Fclose(file);
  return values;
}

TEST_F(HostileStore, StringsReadWithoutHdf5sHeapCodeEqualHdf5sOwnReading) {
  DatasetFeatures dataset = make_dataset();
  dataset.classnames = {"", "été", std::string(5000, 'x')};  // empty, non-ASCII, larger than a heap collection's 4 KiB
  const std::string path = dir_ + "/strings.h5";
  {
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32);
    writer.write_dataset(dataset);
    writer.close();
  }
  const FeatureStoreReader reader(path);
  EXPECT_EQ(reader.classnames("dtd"), strings_read_by_hdf5(path, "/dtd/classnames"));
  EXPECT_EQ(reader.classnames("dtd"), dataset.classnames);
  EXPECT_EQ(reader.read_split("dtd", "train").paths, strings_read_by_hdf5(path, "/dtd/train/paths"));
}

std::vector<size_t> heap_collections(const std::string& bytes) {
  std::vector<size_t> found;
  for (size_t at = bytes.find("GCOL"); at != std::string::npos; at = bytes.find("GCOL", at + 1)) found.push_back(at);
  return found;
}

TEST_F(HostileStore, EveryFlippedHeapByteIsAnErrorOrHarmlessNeverACrash) {
  const std::string good = pg::testing::read_bytes(write_store());
  const std::vector<size_t> collections = heap_collections(good);
  ASSERT_GE(collections.size(), 1u);
  const std::string path = dir_ + "/flipped.h5";
  int errors = 0;
  for (const size_t start : collections) {
    for (size_t offset = 0; offset < 160 && start + offset < good.size(); ++offset) {
      std::string bytes = good;
      bytes[start + offset] = static_cast<char>(bytes[start + offset] ^ 0xff);
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      const std::string message = read_everything(path);  // a crash here fails the whole test binary
      if (!message.empty()) {
        ++errors;
        EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
      }
    }
  }
  EXPECT_GT(errors, 0);
}

TEST_F(HostileStore, AHeapObjectSizeBeyondItsCollectionIsAnError) {
  // The probe's case: the size field of the first object of the first collection (the root
  // attributes) made huge. HDF5 1.10 itself copies that many bytes.
  std::string bytes = pg::testing::read_bytes(write_store());
  const size_t size_field = heap_collections(bytes).at(0) + 16 + 8;
  for (int i = 0; i < 4; ++i) bytes[size_field + static_cast<size_t>(i)] = '\xff';
  const std::string path = dir_ + "/huge_object.h5";
  std::ofstream(path, std::ios::binary) << bytes;
  const std::string message = read_everything(path);
  EXPECT_NE(message.find("is damaged"), std::string::npos) << message;
  EXPECT_NE(message.find("the file is corrupt"), std::string::npos) << message;
}

TEST_F(HostileStore, ASplitDeclaringRowsTheFileDoesNotHoldIsAnError) {
  const std::string path = write_store();
  {
    // 2^26 rows, chunked like promptgrid's own datasets, never written: a few KB on disk.
    Hdf5Edit edit(path);
    edit.remove("/dtd/test/features");
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hsize_t dims[2] = {hsize_t{1} << 26, static_cast<hsize_t>(kDim)}, chunk[2] = {1024, static_cast<hsize_t>(kDim)};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(properties, 2, chunk);
  H5Dclose(H5Dcreate2(file, "/dtd/test/features", H5T_IEEE_F32LE, space, H5P_DEFAULT, properties, H5P_DEFAULT));
  H5Pclose(properties);
  H5Sclose(space);
  H5Fclose(file);
  EXPECT_LT(std::filesystem::file_size(path), 100'000u);
  const std::string message = error_message([&] { FeatureStoreReader(path).summary("dtd"); });
  EXPECT_NE(message.find(path + ": /dtd/test/features: declares shape [67108864, 4]"), std::string::npos) << message;
  EXPECT_NE(message.find("chunks were ever written"), std::string::npos) << message;
}

TEST_F(HostileStore, AContiguousDatasetBeyondTheFileIsAnError) {
  const std::string path = write_store();
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, "/dtd/val/labels", H5P_DEFAULT);
  const hsize_t rows = 2;
  const hid_t space = H5Screate_simple(1, &rows, nullptr);
  H5Dclose(H5Dcreate2(file, "/dtd/val/labels", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(space);
  H5Fclose(file);
  EXPECT_NE(read_everything(path).find("/dtd/val/labels: declares shape [2] but the file"), std::string::npos)
      << read_everything(path);
}

TEST_F(HostileStore, Float16IsRefusedForValuesItWouldTurnIntoInfinity) {
  DatasetFeatures dataset = make_dataset();
  dataset.splits["val"].features[5] = 70000.0f;
  const std::string path = dir_ + "/half.h5";
  FeatureStoreWriter half(path, "ViT-B/16", kDim, FeatureDtype::float16);
  const std::string message = error_message([&] { half.write_dataset(dataset); });
  EXPECT_NE(message.find("/dtd/val/features: row 1 holds 70000, beyond float16's largest value 65504"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--dtype float32"), std::string::npos) << message;
  FeatureStoreWriter full(dir_ + "/full.h5", "ViT-B/16", kDim, FeatureDtype::float32);
  EXPECT_NO_THROW(full.write_dataset(dataset));
}

TEST_F(HostileStore, AllZeroRowsAreRefusedOnWriteAndOnRead) {
  DatasetFeatures dataset = make_dataset();
  for (int64_t i = 0; i < kDim; ++i) dataset.splits["test"].features[static_cast<size_t>(kDim + i)] = 0.0f;
  FeatureStoreWriter writer(dir_ + "/zero.h5", "ViT-B/16", kDim, FeatureDtype::float32);
  EXPECT_NE(error_message([&] { writer.write_dataset(dataset); }).find("/dtd/test/features: row 1 is all zeros"),
            std::string::npos);
  const std::string path = write_store();
  Hdf5Edit(path).put_floats("/dtd/test/features", {3, kDim}, 0.0f);
  const std::string message = read_everything(path);
  EXPECT_NE(message.find(path + ": /dtd/test/features: row 0 is all zeros"), std::string::npos) << message;
}

TEST_F(HostileStore, TextThatIsNotUtf8IsAnErrorNamingTheAttribute) {
  const std::string path = write_store();
  Hdf5Edit(path).set_string_attribute("/", "backbone", "ViT\xff");
  const std::string message = error_message([&] { FeatureStoreReader reader(path); });
  EXPECT_NE(message.find("attribute 'backbone': string 0 is not valid UTF-8"), std::string::npos) << message;
  DatasetFeatures dataset = make_dataset();
  dataset.classnames[1] = "bl\xc3otchy";
  FeatureStoreWriter writer(dir_ + "/names.h5", "ViT-B/16", kDim, FeatureDtype::float32);
  EXPECT_NE(error_message([&] { writer.write_dataset(dataset); }).find("class 1 is not valid UTF-8"), std::string::npos);
}

TEST_F(HostileStore, AWriterThatIsNotClosedLeavesNothingBehind) {
  const std::string path = dir_ + "/never.h5";
  {
    FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32);
    writer.write_dataset(make_dataset());
  }  // no close(): as when an exception unwinds
  EXPECT_FALSE(std::filesystem::exists(path));
  const std::string store = write_store();
  const std::string before = pg::testing::read_bytes(store);
  {
    FeatureStoreWriter writer(store, "ViT-B/16", kDim, FeatureDtype::float32, WriteMode::append);
    writer.write_dataset(make_dataset("eurosat"));
  }
  EXPECT_EQ(pg::testing::read_bytes(store), before);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1)
      << "temporary or lock files left in " << dir_;
}

TEST_F(HostileStore, AHalfWrittenDatasetDoesNotCountAsPresent) {
  // A store an older writer left with a dataset missing its test features: importing that dataset
  // again replaces it instead of being refused forever as "already in the store".
  const std::string path = write_store();
  Hdf5Edit(path).remove("/dtd/test/features");
  EXPECT_NE(error_message([&] { FeatureStoreReader(path).read_split("dtd", "test"); }).find("dataset is missing"),
            std::string::npos);
  FeatureStoreWriter writer(path, "ViT-B/16", kDim, FeatureDtype::float32, WriteMode::append);
  writer.write_dataset(make_dataset());
  writer.close();
  {
    const FeatureStoreReader reader(path);
    EXPECT_EQ(reader.datasets(), std::vector<std::string>{"dtd"});
    EXPECT_EQ(reader.read_split("dtd", "test").features, make_dataset().splits.at("test").features);
  }
  // A complete dataset, though, is written once.
  FeatureStoreWriter again(path, "ViT-B/16", kDim, FeatureDtype::float32, WriteMode::append);
  EXPECT_NE(error_message([&] { again.write_dataset(make_dataset()); }).find("already in the store"), std::string::npos);
  // A dataset cut short before its last split is incomplete too; and a replaced dataset is not
  // written twice by one writer.
  Hdf5Edit(path).remove("/dtd/test");
  FeatureStoreWriter twice(path, "ViT-B/16", kDim, FeatureDtype::float32, WriteMode::append);
  twice.write_dataset(make_dataset());
  EXPECT_NE(error_message([&] { twice.write_dataset(make_dataset()); }).find("already in the store"), std::string::npos);
}

TEST_F(HostileStore, ASecondWriterOfTheSamePathIsRefused) {
  const std::string path = dir_ + "/busy.h5";
  FeatureStoreWriter first(path, "ViT-B/16", kDim, FeatureDtype::float32);
  const std::string message =
      error_message([&] { FeatureStoreWriter second(path, "ViT-B/16", kDim, FeatureDtype::float32); });
  EXPECT_NE(message.find(path + ": another promptgrid process"), std::string::npos) << message;
}

TEST_F(HostileStore, ATestSplitStreamsInChunksExactlyAsItReads) {
  const std::string path = write_store();
  const FeatureStoreReader reader(path);
  const SplitFeatures whole = reader.read_split("dtd", "test");
  std::vector<float> features;
  std::vector<int32_t> labels;
  int64_t expected_first = 0;
  reader.for_each_chunk("dtd", "test", 2, [&](const SplitChunk& chunk) {
    EXPECT_EQ(chunk.first_row, expected_first);
    EXPECT_LE(chunk.rows, 2);
    expected_first += chunk.rows;
    features.insert(features.end(), chunk.features.begin(), chunk.features.end());
    labels.insert(labels.end(), chunk.labels.begin(), chunk.labels.end());
  });
  EXPECT_EQ(features, whole.features);
  EXPECT_EQ(labels, whole.labels);
}

}  // namespace
}  // namespace pg::storage
