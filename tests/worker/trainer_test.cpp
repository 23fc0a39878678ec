// CoOp trainer invariants on the tiny CLIP: Dassl's batch count (drop_last only when N >= 32), the
// per-epoch schedule, determinism per seed, learning on a separable problem, and failures (NaN loss,
// bad inputs) as pg::Error with actionable messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "support/clustered_data.h"
#include "tests/worker/coop_test_support.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/evaluation.h"
#include "worker/lr_schedule.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::expect_error;
using testing::tiny_encoder;

const std::vector<std::string> kClasses = {"abyssinian", "banded", "Highway_or_Road", "Annual Crop Land"};

CoOpPromptLearner make_learner(TextEncoder& encoder, uint64_t seed = 1) {
  CoOpOptions options;
  options.n_ctx = 4;
  return CoOpPromptLearner(options, kClasses, clip_tokenizer(), encoder, seed);
}

// n items in 4 well separated classes: class c's features are direction c of a random orthonormal
// set plus a little noise.
TrainingData separable_data(int64_t n, uint64_t seed) { return pg::testing::clustered_data(n, 4, 0.05, seed); }

TrainOptions quick_options(int epochs) {
  TrainOptions options;
  options.epochs = epochs;
  return options;
}

TEST(CoOpTrainer, BatchesPerEpochFollowDasslsDropLast) {
  EXPECT_EQ(batches_per_epoch(10, 32), 1);  // fewer than a batch: one batch of all
  EXPECT_EQ(batches_per_epoch(32, 32), 1);
  EXPECT_EQ(batches_per_epoch(33, 32), 1);  // the partial batch of 1 is dropped
  EXPECT_EQ(batches_per_epoch(64, 32), 2);
  EXPECT_EQ(batches_per_epoch(70, 32), 2);
  expect_error([] { batches_per_epoch(0, 32); }, {"0 items"});
}

TEST(CoOpTrainer, RunsTheExpectedStepsAndSchedule) {
  TextEncoder encoder = tiny_encoder();
  const std::vector<std::pair<int64_t, int64_t>> cases = {{10, 1}, {32, 1}, {33, 1}, {64, 2}, {70, 2}};
  for (const auto& [n, steps_per_epoch] : cases) {
    CoOpPromptLearner learner = make_learner(encoder);
    const TrainReport report = train_coop(learner, encoder, separable_data(n, 3), quick_options(3));
    EXPECT_EQ(report.steps, 3 * steps_per_epoch) << "N = " << n;
    ASSERT_EQ(report.epoch_lr.size(), 3u);
    ASSERT_EQ(report.epoch_loss.size(), 3u);
    EXPECT_DOUBLE_EQ(report.epoch_lr[0], 1e-5);
    EXPECT_DOUBLE_EQ(report.epoch_lr[1], 0.002);
    EXPECT_DOUBLE_EQ(report.epoch_lr[2], 0.001 * (1 + std::cos(std::acos(-1.0) / 3)));
    EXPECT_GE(report.seconds, 0.0);
  }
}

TEST(CoOpTrainer, SameSeedSameResultOtherSeedOtherOrder) {
  TextEncoder encoder = tiny_encoder();
  const TrainingData data = separable_data(70, 4);
  TrainOptions options = quick_options(4);
  CoOpPromptLearner first = make_learner(encoder);
  CoOpPromptLearner second = make_learner(encoder);
  CoOpPromptLearner reseeded = make_learner(encoder);
  ASSERT_TRUE(torch::equal(first->context(), reseeded->context()));
  const TrainReport a = train_coop(first, encoder, data, options);
  const TrainReport b = train_coop(second, encoder, data, options);
  options.seed = 2;
  const TrainReport c = train_coop(reseeded, encoder, data, options);
  EXPECT_EQ(a.epoch_loss, b.epoch_loss);
  EXPECT_TRUE(torch::equal(first->context(), second->context()));
  // Another seed visits the images in another order: other batches (2 of 32 out of 70), other steps.
  EXPECT_NE(a.epoch_loss, c.epoch_loss);
  EXPECT_FALSE(torch::equal(first->context(), reseeded->context()));
}

TEST(CoOpTrainer, ResumedFromAnyEpochEndsBitIdenticalToAnUninterruptedRun) {
  TextEncoder encoder = tiny_encoder();
  TrainingData data = separable_data(70, 6);
  data.views = data.features.unsqueeze(0).repeat({2, 1, 1}) + 0.05 * torch::randn({2, 70, 32});
  TrainOptions options = quick_options(5);
  std::vector<TrainState> states;
  options.on_epoch_end = [&](const TrainState& state) { states.push_back(state); };
  CoOpPromptLearner whole = make_learner(encoder);
  const TrainReport uninterrupted = train_coop(whole, encoder, data, options);
  ASSERT_EQ(states.size(), 4u);  // after epochs 1..4, not after the last
  for (const TrainState& state : states) {
    // A fresh learner (its own random init) continues from the saved state.
    CoOpPromptLearner resumed = make_learner(encoder, /*seed=*/99);
    TrainOptions resume = quick_options(5);
    resume.resume = &state;
    const TrainReport report = train_coop(resumed, encoder, data, resume);
    EXPECT_TRUE(torch::equal(resumed->context(), whole->context())) << "resumed at epoch " << state.next_epoch;
    EXPECT_EQ(report.epoch_loss, uninterrupted.epoch_loss);
    EXPECT_EQ(report.steps, uninterrupted.steps);
  }
}

// A stop request (a pre-empted job) ends training between two steps of an epoch; the state of the
// last finished epoch then resumes to the very same result, the abandoned steps redone.
TEST(CoOpTrainer, StopRequestedMidEpochResumesFromTheLastEpochBitIdentical) {
  TextEncoder encoder = tiny_encoder();
  const TrainingData data = separable_data(70, 7);  // 2 steps per epoch
  CoOpPromptLearner whole = make_learner(encoder);
  const TrainReport uninterrupted = train_coop(whole, encoder, data, quick_options(5));

  CoOpPromptLearner stopped = make_learner(encoder);
  TrainOptions options = quick_options(5);
  std::optional<TrainState> last;
  options.on_epoch_end = [&](const TrainState& state) { last = state; };
  int asked = 0;
  options.stop_requested = [&] { return ++asked == 6; };  // before the 2nd step of epoch 3
  try {
    train_coop(stopped, encoder, data, options);
    FAIL() << "training did not stop";
  } catch (const TrainingInterrupted& stop) {
    EXPECT_EQ(stop.epoch, 2);
  }
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->next_epoch, 2);
  EXPECT_EQ(last->report.steps, 4);
  CoOpPromptLearner resumed = make_learner(encoder, /*seed=*/99);
  TrainOptions resume = quick_options(5);
  resume.resume = &*last;
  const TrainReport report = train_coop(resumed, encoder, data, resume);
  EXPECT_TRUE(torch::equal(resumed->context(), whole->context()));
  EXPECT_EQ(report.epoch_loss, uninterrupted.epoch_loss);
  EXPECT_EQ(report.steps, uninterrupted.steps);
}

TEST(CoOpTrainer, ViewsAreDrawnPerImage) {
  TextEncoder encoder = tiny_encoder();
  const TrainingData plain = separable_data(70, 5);
  // V identical copies: whatever view is drawn the batch is the same, and the draws use the generator
  // the same number of times for V = 1 and V = 3, so the runs agree exactly.
  TrainingData one_view = plain;
  one_view.views = plain.features.unsqueeze(0);
  TrainingData three_views = plain;
  three_views.views = plain.features.unsqueeze(0).repeat({3, 1, 1});
  // Three different views: a different run.
  TrainingData noisy_views = three_views;
  noisy_views.views = three_views.views + 0.1 * torch::randn({3, 70, 32});
  std::vector<torch::Tensor> contexts;
  for (const TrainingData* data : {&one_view, &three_views, &noisy_views}) {
    CoOpPromptLearner learner = make_learner(encoder);
    train_coop(learner, encoder, *data, quick_options(3));
    contexts.push_back(learner->context().detach().clone());
  }
  EXPECT_TRUE(torch::equal(contexts[0], contexts[1]));
  EXPECT_FALSE(torch::equal(contexts[1], contexts[2]));
}

TEST(CoOpTrainer, LearnsASeparableProblem) {
  // Images of class c lie around the text feature that another context (seed 99) gives class c: a
  // context exists that separates them, the initial one (seed 1) does not know it.
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner target = make_learner(encoder, 99);
  const torch::Tensor centres = classifier_weights(coop_text_features(target, encoder));
  const torch::Tensor labels = torch::arange(64, torch::kInt64) % 4;
  const torch::Tensor noise = at::normal(0.0, 0.02, {64, 32}, at::detail::createCPUGenerator(6));
  const TrainingData data{centres.index_select(0, labels) + noise, torch::Tensor(), labels};

  CoOpPromptLearner learner = make_learner(encoder, 1);
  const double before = accuracy_percent(coop_text_features(learner, encoder), data.features, data.labels);
  TrainOptions options = quick_options(30);
  options.lr = 0.02;
  const TrainReport report = train_coop(learner, encoder, data, options);
  const double after = accuracy_percent(coop_text_features(learner, encoder), data.features, data.labels);
  // The tiny model's class features are close together, so the loss has a floor well above 0.
  EXPECT_LT(report.epoch_loss.back(), 0.9 * report.epoch_loss.front()) << ::testing::PrintToString(report.epoch_loss);
  EXPECT_LT(report.epoch_loss.back(), report.epoch_loss[report.epoch_loss.size() / 2]);
  EXPECT_GE(after, before);
  EXPECT_EQ(report.steps, 60);
}

TEST(CoOpTrainer, BFloat16KeepsAFloat32MasterContext) {
  const TrainingData data = separable_data(32, 12);
  TextEncoder reference_encoder = tiny_encoder();
  CoOpPromptLearner reference = make_learner(reference_encoder);
  CoOpTrainStep reference_step(reference, reference_encoder, TrainOptions{});
  const torch::Tensor expected = reference_step.logits(data.features);

  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner = make_learner(encoder);
  TrainOptions options;
  options.dtype = torch::kBFloat16;
  CoOpTrainStep step(learner, encoder, options);
  EXPECT_EQ(encoder->parameters().front().scalar_type(), torch::kBFloat16);  // converted in place
  EXPECT_EQ(encoder->ln_final()->weight.scalar_type(), torch::kFloat32);  // LayerNorm stays float32, as CLIP
  const torch::Tensor logits = step.logits(data.features);
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  // bfloat16 keeps 8 significant bits: logits of size ~100 agree to a few percent.
  EXPECT_LE(testing::relative_error(logits, expected), 0.05);
  const torch::Tensor loss = step.step(data.features, data.labels);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  EXPECT_EQ(learner->context().scalar_type(), torch::kFloat32);
  EXPECT_EQ(learner->context().grad().scalar_type(), torch::kFloat32);
  EXPECT_EQ(step.momentum_buffer().scalar_type(), torch::kFloat32);
}

TEST(CoOpTrainerErrors, DivergingLossIsAnError) {
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner = make_learner(encoder);
  TrainOptions options = quick_options(3);
  options.lr = 1e30;
  options.warmup_lr = 1e30;
  expect_error([&] { train_coop(learner, encoder, separable_data(64, 7), options); },
               {"loss became", "at epoch 1/3, step", "lower the learning rate"});
}

TEST(CoOpTrainerErrors, RejectsNonFiniteFeatures) {
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner = make_learner(encoder);
  TrainingData data = separable_data(40, 8);
  data.features[3][5] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { train_coop(learner, encoder, data, quick_options(1)); }, {"training features", "NaN"});
  TrainingData bad_views = separable_data(40, 8);
  bad_views.views = bad_views.features.unsqueeze(0).clone();
  bad_views.views[0][1][2] = std::numeric_limits<float>::infinity();
  expect_error([&] { train_coop(learner, encoder, bad_views, quick_options(1)); },
               {"training views", "NaN or infinite"});
}

TEST(CoOpTrainerErrors, RejectsMismatchedData) {
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner = make_learner(encoder);
  const TrainingData good = separable_data(40, 9);

  TrainingData wrong_dim = good;
  wrong_dim.features = torch::zeros({40, 31});
  expect_error([&] { train_coop(learner, encoder, wrong_dim, quick_options(1)); }, {"[40, 31]", "[N, 32]", "backbone"});

  TrainingData few_labels = good;
  few_labels.labels = good.labels.slice(0, 0, 39);
  expect_error([&] { train_coop(learner, encoder, few_labels, quick_options(1)); }, {"labels", "[39]", "[40]"});

  TrainingData big_label = good;
  big_label.labels = good.labels.clone();
  big_label.labels[0] = 4;
  expect_error([&] { train_coop(learner, encoder, big_label, quick_options(1)); }, {"[0, 4]", "4 classes", "0..3"});

  TrainingData bad_views = good;
  bad_views.views = torch::zeros({2, 39, 32});
  expect_error([&] { train_coop(learner, encoder, bad_views, quick_options(1)); },
               {"views", "[2, 39, 32]", "[V, 40, 32]"});
}

TEST(CoOpTrainerErrors, RejectsBadOptions) {
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner = make_learner(encoder);
  const TrainingData data = separable_data(40, 10);
  const auto expect_option_error = [&](const TrainOptions& options, const std::string& part) {
    expect_error([&] { train_coop(learner, encoder, data, options); }, {part});
  };
  TrainOptions options;
  options.epochs = 0;
  expect_option_error(options, "epochs = 0");
  options = TrainOptions{};
  options.batch_size = 0;
  expect_option_error(options, "batch_size = 0");
  options = TrainOptions{};
  options.lr = std::nan("");
  expect_option_error(options, "lr = nan");
  options = TrainOptions{};
  options.weight_decay = -1;
  expect_option_error(options, "weight_decay = -1");
  options = TrainOptions{};
  options.dtype = torch::kInt32;
  expect_option_error(options, "dtype = Int");
  options.dtype = torch::kFloat16;
  expect_option_error(options, "float16 needs a CUDA device");
}

}  // namespace
}  // namespace pg::worker
