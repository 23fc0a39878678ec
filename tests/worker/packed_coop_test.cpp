// Packed CoOp training against the same runs trained alone (train_coop): for mixes of shots, seeds,
// epochs, context lengths and layouts, every packed run's per-epoch losses, learning rates, final
// context and test logits equal its lone run's (float32 on the CPU, relative error <= 1e-5); a run
// that diverges fails alone; a stop ends every unfinished run.
#include <gtest/gtest.h>

#include "support/clustered_data.h"
#include "tests/worker/coop_test_support.h"
#include "worker/evaluation.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/coop/packed_coop_training.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::relative_error;
using testing::tiny_encoder;

const std::vector<std::string> kClasses = {"abyssinian", "banded", "Highway_or_Road", "Annual Crop Land", "bengal"};
constexpr double kTolerance = 1e-5;

TrainingData few_shot_data(int64_t n, uint64_t seed) { return pg::testing::clustered_data(n, 5, 0.3, seed); }

struct RunSpec {
  int64_t items;  // the few-shot sample's size
  uint64_t seed;
  int epochs;
  CoOpOptions prompt;
};

CoOpOptions prompt_options(int64_t n_ctx, const std::string& init = "", bool class_specific = false) {
  CoOpOptions options;
  options.n_ctx = n_ctx;
  options.ctx_init = init;
  options.class_specific = class_specific;
  return options;
}

PackedCoOpRun make_run(const RunSpec& spec, TextEncoder& encoder) {
  TrainOptions options;
  options.epochs = spec.epochs;
  options.batch_size = 8;
  options.seed = spec.seed;
  options.lr = 0.02;
  return {CoOpPromptLearner(spec.prompt, kClasses, clip_tokenizer(), encoder, spec.seed),
          few_shot_data(spec.items, spec.seed), options};
}

// Shots 1..14 per class (1 or several batches an epoch), seeds, 1..4 epochs; n_ctx 4 and 8, a word
// init, and a class-specific context (which shares no prefix and packs as whole prompts).
const std::vector<RunSpec> kMix = {
    {5, 1, 3, prompt_options(4)},
    {20, 2, 2, prompt_options(4)},
    {70, 3, 4, prompt_options(4)},
    {20, 4, 1, prompt_options(8)},
    {40, 5, 3, prompt_options(8)},
    {20, 6, 2, prompt_options(4, "a photo of a")},
    {20, 7, 2, prompt_options(4, "", /*class_specific=*/true)},
    {12, 8, 3, prompt_options(4, "", /*class_specific=*/true)},
};

TEST(PackedCoOp, EveryRunEqualsTheSameRunAlone) {
  const torch::Tensor test_images = few_shot_data(50, 99).features;
  std::vector<TrainReport> alone_reports;
  std::vector<torch::Tensor> alone_contexts, alone_logits;
  for (const RunSpec& spec : kMix) {
    TextEncoder encoder = tiny_encoder();
    PackedCoOpRun run = make_run(spec, encoder);
    alone_reports.push_back(train_coop(run.learner, encoder, run.data, run.options));
    alone_contexts.push_back(run.learner->context().detach().clone());
    alone_logits.push_back(clip_logits(test_images, coop_text_features(run.learner, encoder), encoder->logit_scale()));
  }

  TextEncoder encoder = tiny_encoder();
  std::vector<PackedCoOpRun> runs;
  for (const RunSpec& spec : kMix) runs.push_back(make_run(spec, encoder));
  const std::vector<PackedRunResult> results = train_coop_packed(runs, encoder);
  ASSERT_EQ(results.size(), kMix.size());
  for (size_t r = 0; r < kMix.size(); ++r) {
    SCOPED_TRACE("run " + std::to_string(r));
    ASSERT_TRUE(results[r].report.has_value()) << results[r].error;
    const TrainReport& packed = *results[r].report;
    const TrainReport& alone = alone_reports[r];
    EXPECT_EQ(packed.steps, alone.steps);
    EXPECT_EQ(packed.epoch_lr, alone.epoch_lr);
    ASSERT_EQ(packed.epoch_loss.size(), alone.epoch_loss.size());
    for (size_t e = 0; e < alone.epoch_loss.size(); ++e) {
      EXPECT_NEAR(packed.epoch_loss[e], alone.epoch_loss[e], kTolerance * std::abs(alone.epoch_loss[e])) << "epoch " << e;
    }
    EXPECT_LE(relative_error(runs[r].learner->context(), alone_contexts[r]), kTolerance);
    const torch::Tensor logits =
        clip_logits(test_images, coop_text_features(runs[r].learner, encoder), encoder->logit_scale());
    EXPECT_LE(relative_error(logits, alone_logits[r]), kTolerance);
    EXPECT_TRUE(torch::equal(logits.argmax(1), alone_logits[r].argmax(1)));  // the same accuracy, image by image
  }
}

TEST(PackedCoOp, ADivergingRunFailsAloneAndTheOthersGoOn) {
  const std::vector<RunSpec> specs = {kMix[0], kMix[1], kMix[2]};
  std::vector<torch::Tensor> alone_contexts;
  for (const RunSpec& spec : specs) {
    TextEncoder encoder = tiny_encoder();
    PackedCoOpRun run = make_run(spec, encoder);
    train_coop(run.learner, encoder, run.data, run.options);
    alone_contexts.push_back(run.learner->context().detach().clone());
  }
  TextEncoder encoder = tiny_encoder();
  std::vector<PackedCoOpRun> runs;
  for (const RunSpec& spec : specs) runs.push_back(make_run(spec, encoder));
  runs[1].options.lr = runs[1].options.warmup_lr = 1e30;  // its loss turns NaN in its first epoch
  const std::vector<PackedRunResult> results = train_coop_packed(runs, encoder);
  EXPECT_FALSE(results[1].report.has_value());
  EXPECT_NE(results[1].error.find("loss became"), std::string::npos) << results[1].error;
  for (size_t r : {size_t{0}, size_t{2}}) {
    ASSERT_TRUE(results[r].report.has_value()) << results[r].error;
    EXPECT_LE(relative_error(runs[r].learner->context(), alone_contexts[r]), kTolerance) << "run " << r;
  }
}

TEST(PackedCoOp, BadDataFailsThatRunOnly) {
  TextEncoder encoder = tiny_encoder();
  std::vector<PackedCoOpRun> runs = {make_run(kMix[0], encoder), make_run(kMix[1], encoder)};
  runs[0].data.labels = runs[0].data.labels + 5;  // labels past the 5 classes
  const std::vector<PackedRunResult> results = train_coop_packed(runs, encoder);
  EXPECT_NE(results[0].error.find("does not fit the method's 5 classes"), std::string::npos) << results[0].error;
  EXPECT_TRUE(results[1].report.has_value());
}

TEST(PackedCoOp, AStopEndsEveryUnfinishedRunAfterItsLastSavedEpoch) {
  TextEncoder encoder = tiny_encoder();
  // Run 0 finishes in 1 step; run 1 has 4 epochs of 2 steps; the stop comes before the 4th step.
  std::vector<PackedCoOpRun> runs = {make_run({5, 1, 1, prompt_options(4)}, encoder),
                                     make_run({16, 2, 4, prompt_options(4)}, encoder)};
  int steps = 0;
  std::vector<int> saved_epochs;
  runs[1].options.stop_requested = [&] { return ++steps > 3; };
  runs[1].options.on_epoch_end = [&](const TrainState& state) { saved_epochs.push_back(state.next_epoch); };
  const std::vector<PackedRunResult> results = train_coop_packed(runs, encoder);
  EXPECT_TRUE(results[0].report.has_value());
  EXPECT_FALSE(results[1].report.has_value());
  ASSERT_TRUE(results[1].interrupted_epoch.has_value());
  EXPECT_EQ(*results[1].interrupted_epoch, 1);
  EXPECT_EQ(saved_epochs, std::vector<int>{1});
}

TEST(PackedCoOpErrors, OneDeviceAndDtypeForAll) {
  TextEncoder encoder = tiny_encoder();
  std::vector<PackedCoOpRun> runs = {make_run(kMix[0], encoder), make_run(kMix[1], encoder)};
  runs[1].options.dtype = torch::kBFloat16;
  testing::expect_error([&] { train_coop_packed(runs, encoder); }, {"one device and one dtype"});
  std::vector<PackedCoOpRun> none;
  testing::expect_error([&] { train_coop_packed(none, encoder); }, {"no runs"});
}

}  // namespace
}  // namespace pg::worker
