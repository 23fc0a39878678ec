// `promptgrid features extract` end to end, against independent expectations:
//   - the golden images of ../shared/data/golden/preprocess/ through the whole command give the
//     reference's features (encode_image_rn: CLIP's _transform + the ResNet tower; the ViT tower on
//     the golden Dassl-order tensors);
//   - one process and mpirun -np 3 write byte-identical stores; so does a run resumed after a failure
//     or a SIGKILL;
//   - bad images stop the extraction naming file and split row, or with --skip-bad are listed;
//   - the synthetic benchmark's image dataset goes extract -> run -> table.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "storage/feature_store.h"
#include "storage/journal.h"
#include "support/test_data.h"
#include "worker/clip/image_encoder.h"
#include "worker/clip/state_dict.h"

namespace pg {
namespace {

using testing::run_promptgrid;
using testing::run_shell;

const std::vector<std::string> kGoldenFiles = {"baseline_500x375_q90.jpg", "progressive_375x500_q85_exif6.jpg",
                                               "rgb_224x224.png",          "gray_100x60.png",
                                               "rgba_300x200.png",         "palette_257x129.png"};

void expect_contains(const std::string& output, const std::vector<std::string>& parts) {
  for (const auto& part : parts) EXPECT_NE(output.find(part), std::string::npos) << "'" << part << "' not in:\n" << output;
}

std::string mpirun(int ranks) {
  return "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "mpirun --oversubscribe -np " + std::to_string(ranks) + " $PG";
}

torch::Tensor rows_of(const storage::SplitFeatures& split) {
  return torch::from_blob(const_cast<float*>(split.features.data()), {split.rows, split.dim}, torch::kFloat32).clone();
}

double relative_error(const torch::Tensor& got, const torch::Tensor& expected) {
  return ((got - expected).norm() / expected.norm()).item<double>();
}

class FeaturesExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("features_extract");
    images_ = dir_ + "/images";
    // The six golden images in three class folders; every split lists them all, in the golden order.
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < kGoldenFiles.size(); ++i) {
      const int label = static_cast<int>(i % 3);
      const std::string relpath = "class_" + std::to_string(label) + "/" + kGoldenFiles[i];
      make_directories(images_ + "/class_" + std::to_string(label));
      copy_file(testing::shared_data("golden/preprocess/" + kGoldenFiles[i]), images_ + "/" + relpath);
      rows.push_back({relpath, label, "class_" + std::to_string(label)});
    }
    split_ = dir_ + "/split_zhou_Golden.json";
    write_json_file_atomic(split_, {{"train", rows}, {"val", rows}, {"test", rows}});
    rn_ = testing::shared_data("golden/tiny_clip_rn.safetensors");
    vit_ = testing::shared_data("golden/tiny_clip.safetensors");
  }

  std::string extract_args(const std::string& out, const std::string& clip, const std::string& extra = "") const {
    return "features extract --images " + images_ + " --split " + split_ + " --dataset dtd --clip " + clip +
           " --out " + out + " --threads 1 --decode-threads 2 " + extra;
  }

  // The store at `out` is byte-identical to one extracted in a single uninterrupted run with `extra`.
  void expect_same_as_a_fresh_extraction(const std::string& out, const std::string& extra) const {
    const std::string fresh = dir_ + "/fresh.h5";
    ASSERT_EQ(run_promptgrid(extract_args(fresh, rn_, extra)).exit_code, 0);
    EXPECT_EQ(testing::read_bytes(out), testing::read_bytes(fresh));
  }

  std::string dir_, images_, split_, rn_, vit_;
};

// CLIP's own order (_transform: resize in the image's mode, convert last) with the ResNet tower: the
// reference's encode_image of the golden images, through decode, resize, crop, normalise and tower.
TEST_F(FeaturesExtractTest, ReproducesTheReferenceFeaturesInClipOrder) {
  const std::string out = dir_ + "/rn.h5";
  const auto result = run_promptgrid(extract_args(out, rn_, "--order clip --dtype float32 --batch-size 4"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto golden = worker::read_safetensors(testing::shared_data("golden/encode_image_rn.safetensors"));
  const torch::Tensor expected = golden.at("image_features");
  const storage::FeatureStoreReader store(out);
  EXPECT_NE(store.backbone().find("ResNet"), std::string::npos) << store.backbone();
  for (const std::string split : {"train", "val", "test"}) {
    const storage::SplitFeatures features = store.read_split("dtd", split);
    ASSERT_EQ(features.rows, 6);
    EXPECT_LT(relative_error(rows_of(features), expected), 1e-5) << split;
    for (int64_t row = 0; row < 6; ++row) {
      EXPECT_LT(relative_error(rows_of(features)[row], expected[row]), 1e-5) << split << " row " << row;
    }
    EXPECT_EQ(features.labels, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
    EXPECT_EQ(features.paths[4], "class_1/rgba_300x200.png");
  }
  EXPECT_EQ(store.prompt_template("dtd"), "{} texture.");
  EXPECT_EQ(store.classnames("dtd"), (std::vector<std::string>{"class_0", "class_1", "class_2"}));
  EXPECT_FALSE(std::filesystem::exists(out + ".extract-dtd")) << "the work folder is removed once published";
}

// CoOp's order (Dassl's read_image converts to RGB first; it differs for the RGBA and palette images):
// the ViT tower on the golden Dassl-order tensors (<file>@32.dassl, or <file>@32 where the orders agree).
TEST_F(FeaturesExtractTest, ReproducesTheDasslOrderByDefault) {
  const std::string out = dir_ + "/vit.h5";
  const auto result = run_promptgrid(extract_args(out, vit_, "--dtype float32"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto preprocessed = worker::read_safetensors(testing::shared_data("golden/preprocess.safetensors"));
  std::vector<torch::Tensor> images;
  for (const auto& file : kGoldenFiles) {
    const auto dassl = preprocessed.find(file + "@32.dassl");
    images.push_back(dassl != preprocessed.end() ? dassl->second : preprocessed.at(file + "@32"));
  }
  worker::ImageEncoder encoder = worker::load_image_encoder(vit_);
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = encoder.forward(torch::stack(images));
  const storage::SplitFeatures features = storage::FeatureStoreReader(out).read_split("dtd", "test");
  for (int64_t row = 0; row < 6; ++row) {
    // The tiny ViT's features differ little between images: compare the difference, not just the norm.
    EXPECT_LT((rows_of(features)[row] - expected[row]).abs().max().item<double>(), 1e-6) << "row " << row;
  }
}

TEST_F(FeaturesExtractTest, ViewsAreReproducibleAugmentations) {
  const std::string first = dir_ + "/first.h5", second = dir_ + "/second.h5";
  ASSERT_EQ(run_promptgrid(extract_args(first, rn_, "--views 3 --dtype float32")).exit_code, 0);
  ASSERT_EQ(run_promptgrid(extract_args(second, rn_, "--views 3 --dtype float32 --batch-size 1")).exit_code, 0);
  const storage::SplitFeatures train = storage::FeatureStoreReader(first).read_split("dtd", "train");
  ASSERT_EQ(train.num_views, 3);
  const torch::Tensor views = torch::from_blob(const_cast<float*>(train.views.data()), {3, 6, train.dim}).clone();
  // Random crops and flips: no view equals the test-transform features, nor another view.
  for (int64_t v = 0; v < 3; ++v) {
    EXPECT_GT((views[v] - rows_of(train)).abs().max().item<double>(), 1e-3) << "view " << v;
    for (int64_t w = v + 1; w < 3; ++w) EXPECT_GT((views[v] - views[w]).abs().max().item<double>(), 1e-3);
  }
  // The same views whatever the batching (seeds follow the image, not its row or unit).
  const storage::SplitFeatures again = storage::FeatureStoreReader(second).read_split("dtd", "train");
  const torch::Tensor views_again = torch::from_blob(const_cast<float*>(again.views.data()), {3, 6, again.dim}).clone();
  EXPECT_LT(relative_error(views_again, views), 1e-5);
  // Another seed draws other views.
  const std::string reseeded = dir_ + "/reseeded.h5";
  ASSERT_EQ(run_promptgrid(extract_args(reseeded, rn_, "--views 3 --dtype float32 --seed 7")).exit_code, 0);
  const storage::SplitFeatures other = storage::FeatureStoreReader(reseeded).read_split("dtd", "train");
  EXPECT_NE(other.views, train.views);
  EXPECT_EQ(other.features, train.features);
}

TEST_F(FeaturesExtractTest, MpiRanksWriteTheSameBytesAsOneProcess) {
  const std::string alone = dir_ + "/alone.h5", ranks = dir_ + "/ranks.h5";
  const auto single = run_promptgrid(extract_args(alone, rn_, "--views 1 --batch-size 2"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto mpi = run_shell(mpirun(3) + " " + extract_args(ranks, rn_, "--views 1 --batch-size 2"));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;
  EXPECT_EQ(testing::read_bytes(alone), testing::read_bytes(ranks));
}

TEST_F(FeaturesExtractTest, BadImagesAreAllNamedWithTheirRowsThenTheRunResumes) {
  const std::string broken = images_ + "/class_2/rgb_224x224.png";
  const std::string good = testing::read_bytes(broken);
  write_file_atomic(broken, good.substr(0, good.size() / 2));  // truncated
  const std::string out = dir_ + "/resumed.h5";
  const auto failed = run_promptgrid(extract_args(out, rn_, "--batch-size 2"));
  EXPECT_EQ(failed.exit_code, 2) << failed.output;
  // Every split lists the image: all three rows are reported in one run, in split order.
  expect_contains(failed.output, {"3 image(s) could not be read: train row 2 of " + split_, "rgb_224x224.png",
                                  "val row 2 of ", "test row 2 of ", "--skip-bad"});
  EXPECT_FALSE(file_exists(out));
  // Every unit was kept; the three holding the bad image are computed again after the fix.
  EXPECT_TRUE(file_exists(out + ".extract-dtd/train.image.0000000.chunk"));
  write_file_atomic(broken, good);
  const auto resumed = run_promptgrid(extract_args(out, rn_, "--batch-size 2"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_contains(resumed.output, {"resuming; 12 of 18 images were encoded by an earlier run"});
  expect_same_as_a_fresh_extraction(out, "--batch-size 2");
}

// Units left without their manifest, or with other settings, are never mixed into a store.
TEST_F(FeaturesExtractTest, UnitsOfOtherSettingsAreNotReused) {
  const std::string out = dir_ + "/settings.h5";
  ASSERT_EQ(run_promptgrid(extract_args(out, rn_, "--views 1 --keep-work")).exit_code, 0);
  std::filesystem::remove(out);
  std::filesystem::remove(out + ".extract-dtd/manifest.json");
  const auto reseeded = run_promptgrid(extract_args(out, rn_, "--views 1 --seed 5"));
  ASSERT_EQ(reseeded.exit_code, 0) << reseeded.output;
  expect_contains(reseeded.output, {"left with no manifest; starting over"});
  expect_same_as_a_fresh_extraction(out, "--views 1 --seed 5");
}

TEST_F(FeaturesExtractTest, KilledExtractionResumesToTheSameStore) {
  const std::string out = dir_ + "/killed.h5";
  // Batches of one image, so the kill lands between units; the shell waits for the first unit file.
  const auto killed = run_shell("$PG " + extract_args(out, rn_, "--batch-size 1 --views 4") +
                                " > /dev/null 2>&1 & pid=$!; "
                                "for i in $(seq 1 600); do ls " + out + ".extract-dtd/*.chunk >/dev/null 2>&1 && break; "
                                "sleep 0.01; done; kill -9 $pid; wait $pid; echo killed=$?");
  expect_contains(killed.output, {"killed=137"});
  ASSERT_FALSE(file_exists(out)) << "the store is published only when complete";
  const auto resumed = run_promptgrid(extract_args(out, rn_, "--batch-size 1 --views 4"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_as_a_fresh_extraction(out, "--batch-size 1 --views 4");
}

TEST_F(FeaturesExtractTest, SkipBadListsTheImagesLeftOut) {
  std::filesystem::remove(images_ + "/class_0/gray_100x60.png");
  write_file_atomic(images_ + "/class_1/progressive_375x500_q85_exif6.jpg", "not an image at all");
  const std::string out = dir_ + "/skipped.h5";
  const auto missing = run_promptgrid(extract_args(out, rn_));
  EXPECT_EQ(missing.exit_code, 2);
  // Every split lists the image: three rows are missing.
  expect_contains(missing.output, {"3 image(s) of " + split_ + " are missing", "class_0/gray_100x60.png (train row 3)",
                                   "(test row 3)", "--skip-bad"});
  const auto result = run_promptgrid(extract_args(out, rn_, "--skip-bad --views 1"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_contains(result.output, {"skipped train row 1: ", "progressive_375x500_q85_exif6.jpg", "skipped test row 3: "});
  const storage::FeatureStoreReader store(out);
  for (const std::string split : {"train", "val", "test"}) {
    const storage::SplitFeatures features = store.read_split("dtd", split);
    EXPECT_EQ(features.rows, 4) << split;
    ASSERT_EQ(features.skipped.size(), 2u) << split;
    EXPECT_EQ(features.skipped[0].split_row, 1);
    EXPECT_EQ(features.skipped[0].path, "class_1/progressive_375x500_q85_exif6.jpg");
    EXPECT_EQ(features.skipped[1].split_row, 3);
    EXPECT_EQ(features.paths, (std::vector<std::string>{"class_0/baseline_500x375_q90.jpg", "class_2/rgb_224x224.png",
                                                        "class_1/rgba_300x200.png", "class_2/palette_257x129.png"}));
    EXPECT_EQ(features.labels, (std::vector<int32_t>{0, 2, 1, 2}));
  }
  expect_contains(run_promptgrid("features info " + out).output, {"skipped:  test 2, train 2, val 2"});
}

TEST_F(FeaturesExtractTest, UserMistakesAreClearErrors) {
  const std::string out = dir_ + "/errors.h5";
  // A checkpoint without an image tower.
  const std::string text_only = dir_ + "/text_only.safetensors";
  worker::StateDict state = worker::read_safetensors(vit_);
  for (auto it = state.begin(); it != state.end();) it = it->first.rfind("visual.", 0) == 0 ? state.erase(it) : std::next(it);
  worker::write_safetensors(text_only, state);
  auto result = run_promptgrid(extract_args(out, text_only));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {text_only});
  // Mistakes found before any image is encoded.
  result = run_promptgrid(extract_args(out, rn_, "--template nothing"));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {"--template 'nothing' has no '{}'"});
  result = run_promptgrid(extract_args(out, rn_, "--source nosuch"));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {"unknown dataset 'nosuch'"});
  result = run_promptgrid(extract_args(out, dir_ + "/nope.pt"));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {"--clip " + dir_ + "/nope.pt: no such file"});
  result = run_promptgrid(extract_args(out, rn_, "--seed -1"));
  EXPECT_EQ(result.exit_code, 2);
  write_file_atomic(dir_ + "/notes.txt", "not a store");
  result = run_promptgrid(extract_args(dir_ + "/notes.txt", rn_));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {"--out: " + dir_ + "/notes.txt", "give a new file, or a feature store"});
  // Not a folder.
  result = run_promptgrid("features extract --images " + dir_ + "/nowhere --split " + split_ +
                          " --dataset dtd --clip " + rn_ + " --out " + out);
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {"--images " + dir_ + "/nowhere: not a folder"});
  // A dataset the store already has, and a store of another backbone.
  ASSERT_EQ(run_promptgrid(extract_args(out, rn_)).exit_code, 0);
  result = run_promptgrid(extract_args(out, rn_));
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {out + ": already holds dtd"});
  result = run_promptgrid("features extract --images " + images_ + " --split " + split_ + " --dataset eurosat --clip " +
                          vit_ + " --out " + out + " --threads 1");
  EXPECT_EQ(result.exit_code, 2);
  expect_contains(result.output, {out + ": holds backbone", "extract into another store"});
  // Another dataset of the same backbone is appended.
  result = run_promptgrid("features extract --images " + images_ + " --split " + split_ + " --dataset eurosat --clip " +
                          rn_ + " --out " + out + " --threads 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(storage::FeatureStoreReader(out).datasets(), (std::vector<std::string>{"dtd", "eurosat"}));
}

// A test-only dataset of the domain-generalization protocol: its split file's test images alone.
TEST_F(FeaturesExtractTest, TestOnlyDatasetTakesItsSourcesTemplate) {
  const std::string out = dir_ + "/shifted.h5";
  const auto result = run_promptgrid("features extract --images " + images_ + " --split " + split_ +
                                     " --dataset imagenet_sketch --source imagenet --clip " + rn_ + " --out " + out +
                                     " --threads 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const storage::FeatureStoreReader store(out);
  const storage::DatasetSummary summary = store.summary("imagenet_sketch");
  EXPECT_EQ(summary.split_rows, (std::map<std::string, int64_t>{{"test", 6}}));
  EXPECT_EQ(summary.source, "imagenet");
  EXPECT_EQ(summary.prompt_template, "a photo of a {}.");
  const auto views = run_promptgrid("features extract --images " + images_ + " --split " + split_ +
                                    " --dataset imagenet_r --source imagenet --views 2 --clip " + rn_ + " --out " + out);
  EXPECT_EQ(views.exit_code, 2);
  expect_contains(views.output, {"--views with --source"});
}

// The README's walk-through: the synthetic benchmark's images, extracted, then a sweep and its table.
TEST(FeaturesExtractSynthetic, ExtractRunTable) {
  const std::string dir = testing::make_temp_dir("extract_synthetic");
  auto result = run_promptgrid("synth --out " + dir + "/synthetic --datasets dtd --max-classes 10 --threads 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string synthetic = dir + "/synthetic";
  result = run_promptgrid("features extract --images " + synthetic + "/images --split " + synthetic +
                          "/split_zhou_DescribableTextures.json --dataset dtd --clip " + synthetic +
                          "/clip.safetensors --out " + dir + "/extracted.h5 --views 2 --threads 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ofstream(dir + "/sweep.yaml") << "features: extracted.h5\nclip: synthetic/clip.safetensors\n"
                                        "vocab: synthetic/vocab_bytes.txt\nprotocol: fewshot\ndatasets: [dtd]\n"
                                        "shots: [4]\nseeds: [1]\nmethods:\n  - name: zeroshot\n"
                                        "  - name: linear_probe\n  - name: coop\n    n_ctx: 4\n    epochs: 5\n";
  result = run_promptgrid("run " + dir + "/sweep.yaml --out " + dir + "/sweep --threads 1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string table = testing::read_bytes(dir + "/sweep/tables/fewshot.md");
  expect_contains(table, {"Linear probe", "CoOp", "dtd"});
  // The textures differ in pattern, not colour: a linear probe on 4 shots of the random tower's
  // features tells the 10 classes apart better than chance (10%).
  bool probe_seen = false;
  for (const auto& record : storage::read_journal(dir + "/sweep/journal.jsonl").records) {
    if (record["spec"]["method"] != "linear_probe") continue;
    probe_seen = true;
    EXPECT_GT(record["metrics"]["accuracy"].get<double>(), 20.0) << record.dump();
  }
  EXPECT_TRUE(probe_seen);
}

}  // namespace
}  // namespace pg
