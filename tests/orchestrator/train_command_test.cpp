// End-to-end tests of `promptgrid synth` + `promptgrid train` through the real binary.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "storage/prompt_store.h"
#include "support/test_data.h"

namespace pg {
namespace {

using nlohmann::json;
using testing::make_temp_dir;
using testing::run_promptgrid;

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("train");
    const auto synth = run_promptgrid("synth --out " + dir_ + "/synthetic --datasets eurosat,dtd --threads 1");
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
  }

  std::string common_args() const {
    return " --features " + dir_ + "/synthetic/features.h5 --clip " + dir_ + "/synthetic/clip.safetensors --bpe " +
           dir_ + "/synthetic/vocab_bytes.txt --out " + dir_ + "/results --threads 1";
  }

  // Runs `train` and returns its record (the file named on the output's "record: " line).
  json train(const std::string& arguments) {
    const auto result = run_promptgrid("train" + common_args() + " " + arguments);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    const size_t at = result.output.find("record: ");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no record line in: " << result.output;
      return json();
    }
    const size_t end = result.output.find('\n', at);
    return pg::testing::read_json(result.output.substr(at + 8, end - at - 8));
  }

  std::string dir_;
};

TEST_F(TrainCommand, CoOpBeatsZeroShotClearlyOnTheSyntheticBenchmark) {
  // The synthetic image features come from a hidden context that zero-shot prompts do not know.
  const json zeroshot = train("--dataset eurosat --method zeroshot");
  const json coop = train("--dataset eurosat --shots 4 --seed 1");
  ASSERT_EQ(zeroshot["status"], "ok");
  ASSERT_EQ(coop["status"], "ok");
  const double zeroshot_accuracy = zeroshot["metrics"]["accuracy"].get<double>();
  const double coop_accuracy = coop["metrics"]["accuracy"].get<double>();
  EXPECT_GT(zeroshot_accuracy, 10.0);  // above chance (10 classes): the template does carry the class names
  EXPECT_GT(coop_accuracy, zeroshot_accuracy + 20.0) << "zero-shot " << zeroshot_accuracy << ", CoOp " << coop_accuracy;
}

TEST_F(TrainCommand, RecordCarriesTheSpecCountsScheduleAndALoadablePrompt) {
  const json record = train("--dataset eurosat --shots 2 --seed 3 --n-ctx 8");
  ASSERT_EQ(record["status"], "ok") << record.dump(2);
  EXPECT_EQ(record["spec"]["shots"], 2);
  EXPECT_EQ(record["spec"]["seed"], 3);
  EXPECT_EQ(record["spec"]["coop"]["epochs"], 100);  // CoOp's schedule for 2 shots
  EXPECT_EQ(record["counts"]["classes"], 10);
  EXPECT_EQ(record["counts"]["train"], 20);          // 2 shots x 10 classes
  EXPECT_EQ(record["counts"]["val_sampled"], 20);    // min(2, 4) per class
  EXPECT_EQ(record["counts"]["test"], 200);          // the synthetic test split: 20 per class
  EXPECT_EQ(record["train"]["steps"], 100);          // 20 < 32 images: one batch per epoch
  EXPECT_EQ(record["train"]["loss_per_epoch"].size(), 100u);
  EXPECT_LT(record["train"]["final_loss"].get<double>(), record["train"]["loss_per_epoch"][0].get<double>());
  for (const char* key : {"libtorch", "hdf5", "promptgrid"}) EXPECT_TRUE(record["software"].contains(key)) << key;
  EXPECT_TRUE(record.contains("device"));
  EXPECT_TRUE(record["timings"].contains("train_s"));

  const storage::PromptFile prompt = storage::read_prompt_file(dir_ + "/results/" + record["prompt_file"].get<std::string>());
  EXPECT_EQ(prompt.tensor("ctx").shape, (std::vector<int64_t>{8, 64}));  // n_ctx x width of the synthetic tower
  EXPECT_EQ(json::parse(prompt.task_json), record["spec"]);
}

TEST_F(TrainCommand, SameSeedSameResultOtherSeedOtherSample) {
  const json first = train("--dataset eurosat --shots 1 --seed 2 --epochs 5");
  const json again = train("--dataset eurosat --shots 1 --seed 2 --epochs 5");
  const json other = train("--dataset eurosat --shots 1 --seed 3 --epochs 5");
  EXPECT_EQ(first["train"]["loss_per_epoch"], again["train"]["loss_per_epoch"]);
  EXPECT_EQ(first["metrics"], again["metrics"]);
  EXPECT_NE(first["task_id"], other["task_id"]);
  EXPECT_NE(first["train"]["loss_per_epoch"], other["train"]["loss_per_epoch"]);
}

TEST_F(TrainCommand, Base2NovelReportsBaseNovelAndHarmonicMean) {
  const json record = train("--dataset dtd --protocol base2novel --shots 2 --epochs 10");
  ASSERT_EQ(record["status"], "ok") << record.dump(2);
  EXPECT_EQ(record["counts"]["classes"], 24);        // ceil(47 / 2) base classes
  EXPECT_EQ(record["counts"]["novel_classes"], 23);
  EXPECT_EQ(record["counts"]["train"], 48);          // 2 shots of the base classes only
  EXPECT_EQ(record["counts"]["test"], 24 * 20);
  EXPECT_EQ(record["counts"]["novel_test"], 23 * 20);
  const double base = record["metrics"]["base"], novel = record["metrics"]["novel"];
  EXPECT_NEAR(record["metrics"]["harmonic"].get<double>(), 2 * base * novel / (base + novel), 1e-9);

  const json zeroshot = train("--dataset dtd --protocol base2novel --method zeroshot");
  EXPECT_TRUE(zeroshot["metrics"].contains("novel"));
}

TEST_F(TrainCommand, FailedTaskWritesAFailedRecordWithItsKindAndExitsWithTwo) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "fp16 runs on this machine's CUDA device: nothing fails";
  // Half precision fails inside the task on a CPU-only machine: a failed record, and the runner goes on.
  const auto result = run_promptgrid("train" + common_args() + " --dataset eurosat --precision fp16 --epochs 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  const size_t at = result.output.find("(record: ");
  ASSERT_NE(at, std::string::npos) << result.output;
  const std::string path = result.output.substr(at + 9, result.output.find(')', at) - at - 9);
  const json record = pg::testing::read_json(path);
  EXPECT_EQ(record["status"], "failed");
  EXPECT_EQ(record["error_kind"], "user");
  EXPECT_NE(record["error"].get<std::string>().find("fp16 needs a CUDA device"), std::string::npos);
}

TEST_F(TrainCommand, InvalidSpecIsRefusedBeforeAnythingRuns) {
  // Class-specific contexts exist only for base classes: a base2novel CSC task cannot be tested on novel ones.
  const auto result = run_promptgrid("train" + common_args() + " --dataset eurosat --protocol base2novel --csc --epochs 1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("class-specific context (CSC)"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("(record: "), std::string::npos) << result.output;
  EXPECT_FALSE(file_exists(dir_ + "/results")) << "no record for a task that never ran";
}

TEST_F(TrainCommand, UnknownDatasetNamesTheStoreAndTheDatasets) {
  const auto result = run_promptgrid("train" + common_args() + " --dataset imagenet --method zeroshot");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("imagenet"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("features.h5"), std::string::npos) << result.output;
}

TEST_F(TrainCommand, VocabularyThatDoesNotFitTheCheckpointIsRefused) {
  const std::string real_vocab = testing::shared_data("clip/bpe_simple_vocab_16e6.txt.gz");
  const auto result = run_promptgrid("train --features " + dir_ + "/synthetic/features.h5 --clip " + dir_ +
                                     "/synthetic/clip.safetensors --bpe " + real_vocab + " --out " + dir_ +
                                     "/results --dataset eurosat --method zeroshot");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("vocabulary of 514"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("49408"), std::string::npos) << result.output;
}

TEST_F(TrainCommand, HalfPrecisionOnTheCpuIsRefusedWithAFix) {
  const auto result = run_promptgrid("train" + common_args() + " --dataset eurosat --precision fp16 --epochs 1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("fp16 needs a CUDA device"), std::string::npos) << result.output;
}

TEST_F(TrainCommand, CudaDeviceWithoutCudaIsRefused) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present: nothing to refuse";
  const auto result = run_promptgrid("train" + common_args() + " --dataset eurosat --device cuda --epochs 1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("no CUDA device"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace pg
