// CoOp/Dassl learning-rate schedule against values worked out by hand from the closed form
// lr(e) = 0.5 * 0.002 * (1 + cos(pi * (e - 1) / 50)) after one warm-up epoch at 1e-5.
#include "worker/lr_schedule.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/worker/coop_test_support.h"

namespace pg::worker {
namespace {

using testing::expect_error;

// Every epoch's rate, exactly (not within ULPs), as PyTorch's CosineAnnealingLR steps it in CoOp.
TEST(LrSchedule, EveryEpochIsBitIdenticalToTorchsCosineAnnealingLR) {
  std::ifstream file(std::string(PG_TEST_GOLDEN_DIR) + "/worker/golden/cosine_lr.json");
  ASSERT_TRUE(file) << "tests/worker/golden/cosine_lr.json is missing (scripts/make_cosine_lr_golden.py writes it)";
  const nlohmann::json golden = nlohmann::json::parse(file);
  ASSERT_GE(golden["cases"].size(), 6u);
  for (const auto& item : golden["cases"]) {
    LrScheduleOptions options;
    options.base_lr = item["base_lr"];
    options.max_epochs = item["max_epochs"];
    options.warmup_epochs = item["warmup_epochs"];
    options.warmup_lr = item["warmup_lr"];
    const auto expected = item["lr"].get<std::vector<double>>();
    ASSERT_EQ(expected.size(), static_cast<size_t>(options.max_epochs));
    for (int epoch = 0; epoch < options.max_epochs; ++epoch) {
      EXPECT_EQ(coop_learning_rate(epoch, options), expected[static_cast<size_t>(epoch)])
          << "epoch " << epoch << " of " << item.dump().substr(0, 80);
    }
  }
}

TEST(LrSchedule, CoOpDefaultsWithFiftyEpochs) {
  const LrScheduleOptions options;  // base 0.002, 50 epochs, 1 warm-up epoch at 1e-5
  EXPECT_DOUBLE_EQ(coop_learning_rate(0, options), 1e-5);
  EXPECT_DOUBLE_EQ(coop_learning_rate(1, options), 0.002);  // the cosine restarts after the warm-up
  EXPECT_DOUBLE_EQ(coop_learning_rate(2, options), 0.0019980267284282717);
  EXPECT_DOUBLE_EQ(coop_learning_rate(25, options), 0.0010627905195293135);
  EXPECT_DOUBLE_EQ(coop_learning_rate(26, options), 0.001);  // cos(pi / 2)
  EXPECT_DOUBLE_EQ(coop_learning_rate(48, options), 1.7712749271311278e-05);
  EXPECT_DOUBLE_EQ(coop_learning_rate(49, options), 7.885298685522235e-06);
}

TEST(LrSchedule, DecreasesAfterTheWarmUp) {
  const LrScheduleOptions options;
  for (int epoch = 2; epoch < 50; ++epoch) {
    EXPECT_LT(coop_learning_rate(epoch, options), coop_learning_rate(epoch - 1, options)) << epoch;
  }
}

TEST(LrSchedule, WithoutWarmUpStartsAtTheBaseRate) {
  LrScheduleOptions options;
  options.warmup_epochs = 0;
  options.max_epochs = 10;
  EXPECT_DOUBLE_EQ(coop_learning_rate(0, options), 0.002);
  EXPECT_DOUBLE_EQ(coop_learning_rate(5, options), 0.001);
  EXPECT_DOUBLE_EQ(coop_learning_rate(9, options), 4.894348370484647e-05);
}

TEST(LrSchedule, LongerWarmUpHoldsTheWarmUpRate) {
  LrScheduleOptions options;
  options.warmup_epochs = 3;
  options.warmup_lr = 3e-4;
  EXPECT_DOUBLE_EQ(coop_learning_rate(2, options), 3e-4);
  EXPECT_DOUBLE_EQ(coop_learning_rate(3, options), 0.002);
}

TEST(LrSchedule, RejectsBadInput) {
  const LrScheduleOptions options;
  expect_error([&] { coop_learning_rate(50, options); }, {"epoch 50", "[0, 50)"});
  expect_error([&] { coop_learning_rate(-1, options); }, {"epoch -1"});
  LrScheduleOptions bad = options;
  bad.base_lr = 0;
  expect_error([&] { coop_learning_rate(1, bad); }, {"base_lr = 0"});
  bad = options;
  bad.warmup_lr = -1e-5;
  expect_error([&] { coop_learning_rate(1, bad); }, {"warmup_lr = -1e-05"});
  bad = options;
  bad.max_epochs = 0;
  expect_error([&] { coop_learning_rate(0, bad); }, {"max_epochs = 0"});
  bad = options;
  bad.warmup_epochs = -2;
  expect_error([&] { coop_learning_rate(0, bad); }, {"warmup_epochs = -2"});
}

}  // namespace
}  // namespace pg::worker
