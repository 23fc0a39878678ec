// Training checkpoints: every trained tensor and momentum buffer round-trips; a checkpoint of another
// spec, an empty one, or a damaged one gives nothing (the task starts over); checkpoints written by CoOp
// tasks before methods shared the training loop ("ctx", "momentum") still resume.
#include "orchestrator/train_checkpoint.h"

#include <gtest/gtest.h>

#include "storage/prompt_store.h"
#include "support/test_data.h"

namespace pg::orchestrator {
namespace {

const nlohmann::json kSpec = {{"method", "cocoop"}, {"dataset", "dtd"}};

worker::TrainState some_state() {
  worker::TrainState state;
  state.next_epoch = 3;
  state.parameters = {torch::randn({4, 8}), torch::randn({2, 8}), torch::randn({2})};
  state.momentum = {torch::randn({4, 8}), torch::Tensor(), torch::randn({2})};
  state.rng_state = "1 2 3";
  state.report.epoch_loss = {2.0, 1.5, 1.25};
  state.report.epoch_lr = {1e-5, 0.002, 0.001};
  state.report.steps = 30;
  return state;
}

TEST(TrainCheckpoint, EveryTensorAndTheTrainerStateRoundTrip) {
  const std::string path = testing::make_temp_dir("checkpoint") + "/task.h5";
  const worker::TrainState saved = some_state();
  save_train_checkpoint(path, kSpec, saved);
  const auto loaded = load_train_checkpoint(path, kSpec);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->next_epoch, 3);
  ASSERT_EQ(loaded->parameters.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(loaded->parameters[i], saved.parameters[i])) << i;
  ASSERT_EQ(loaded->momentum.size(), 3u);
  EXPECT_TRUE(torch::equal(loaded->momentum[0], saved.momentum[0]));
  EXPECT_FALSE(loaded->momentum[1].defined());  // a tensor not updated yet has no buffer
  EXPECT_TRUE(torch::equal(loaded->momentum[2], saved.momentum[2]));
  EXPECT_EQ(loaded->report.epoch_loss, saved.report.epoch_loss);
  EXPECT_EQ(loaded->rng_state, "1 2 3");
  EXPECT_FALSE(load_train_checkpoint(path, {{"method", "coop"}}).has_value());  // another spec
}

TEST(TrainCheckpoint, EarlierCoOpCheckpointsResumeAndEmptyOnesStartOver) {
  const std::string dir = testing::make_temp_dir("checkpoint");
  const nlohmann::json about = {{"spec", kSpec}, {"next_epoch", 2}, {"rng_state", "7"}, {"epoch_loss", {1.0, 0.5}},
                                {"epoch_lr", {1e-5, 0.002}}, {"steps", 4}};
  const storage::NamedTensor ctx{"ctx", {2, 3}, {1, 2, 3, 4, 5, 6}};
  const storage::NamedTensor momentum{"momentum", {2, 3}, {6, 5, 4, 3, 2, 1}};
  storage::write_prompt_file(dir + "/old.h5", about.dump(), {ctx, momentum});
  const auto old = load_train_checkpoint(dir + "/old.h5", kSpec);
  ASSERT_TRUE(old.has_value());
  ASSERT_EQ(old->parameters.size(), 1u);
  EXPECT_TRUE(torch::equal(old->parameters[0], torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({2, 3})));
  ASSERT_EQ(old->momentum.size(), 1u);
  EXPECT_EQ(old->momentum[0][0][0].item<float>(), 6.f);
  storage::write_prompt_file(dir + "/empty.h5", about.dump(), {{"other", {1}, {1}}});
  EXPECT_FALSE(load_train_checkpoint(dir + "/empty.h5", kSpec).has_value());
}

}  // namespace
}  // namespace pg::orchestrator
