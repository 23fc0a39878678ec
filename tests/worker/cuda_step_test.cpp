// The GPU step (issue 10, DESIGN §5), on a CUDA device only: every test skips, saying so, without one.
// A CUDA graph replays exactly the kernels the launched step runs; half precisions on the device stay
// within what their precision allows of float32 on the same device.
#include <gtest/gtest.h>

#include <cmath>

#include "support/clustered_data.h"
#include "tests/worker/coop_test_support.h"
#include "worker/evaluation.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/methods/coop/coop_trainer.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::relative_error;
using testing::tiny_encoder;

const std::vector<std::string> kClasses = {"abyssinian", "banded", "Highway_or_Road", "Annual Crop Land"};

CoOpPromptLearner make_learner(TextEncoder& encoder, uint64_t seed = 1) {
  CoOpOptions options;
  options.n_ctx = 4;
  return CoOpPromptLearner(options, kClasses, clip_tokenizer(), encoder, seed);
}

TrainOptions cuda_options(int epochs) {
  TrainOptions options;
  options.epochs = epochs;
  options.device = torch::Device(torch::kCUDA);
  return options;
}

TEST(CudaStep, GraphReplayTrainsAsLaunchedSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const TrainingData data = pg::testing::clustered_data(70, 4, 0.05, 8);  // 2 steps per epoch
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner graphed = make_learner(encoder);
  CoOpPromptLearner launched = make_learner(encoder);
  TrainOptions options = cuda_options(4);
  const TrainReport replayed = train_coop(graphed, encoder, data, options);
  options.cuda_graph = false;
  const TrainReport eager = train_coop(launched, encoder, data, options);
  EXPECT_TRUE(replayed.cuda_graph);
  EXPECT_FALSE(eager.cuda_graph);
  ASSERT_EQ(replayed.epoch_loss.size(), eager.epoch_loss.size());
  for (size_t epoch = 0; epoch < eager.epoch_loss.size(); ++epoch) {
    EXPECT_NEAR(replayed.epoch_loss[epoch], eager.epoch_loss[epoch], 1e-6 * std::abs(eager.epoch_loss[epoch]))
        << "epoch " << epoch + 1;
  }
  EXPECT_LE(relative_error(graphed->context(), launched->context()), 1e-6);
  EXPECT_EQ(replayed.steps, 8);
}

// One step's context gradient in bfloat16 and float16 against float32, all on the device: the encoder's
// 8 (bf16) or 11 (fp16) significant bits allow errors of a few percent and a few tenths of a percent.
TEST(CudaStep, HalfPrecisionGradientsAgreeWithFloat32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const TrainingData data = pg::testing::clustered_data(32, 4, 0.05, 9);
  const torch::Device cuda(torch::kCUDA);
  auto gradient = [&](torch::Dtype dtype) {
    TextEncoder encoder = tiny_encoder();
    CoOpPromptLearner learner = make_learner(encoder);
    TrainOptions options = cuda_options(1);
    options.dtype = dtype;
    CoOpTrainStep step(learner, encoder, options);
    step.step(data.features.to(cuda), data.labels.to(cuda));
    return learner->context().grad().to(torch::kCPU, torch::kFloat64);
  };
  const torch::Tensor float32 = gradient(torch::kFloat32);
  EXPECT_LE(relative_error(gradient(torch::kBFloat16), float32), 5e-2);
  EXPECT_LE(relative_error(gradient(torch::kFloat16), float32), 1e-2);
}

// Trained in each precision, the contexts classify held-out images alike: within half a point of
// float32's accuracy (the bar). Images of class c lie around the text feature another context
// (seed 99) gives class c, as in the trainer's LearnsASeparableProblem.
TEST(CudaStep, HalfPrecisionAccuraciesWithinHalfAPointOfFloat32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  TextEncoder target_encoder = tiny_encoder();
  CoOpPromptLearner target = make_learner(target_encoder, 99);
  const torch::Tensor centres = classifier_weights(coop_text_features(target, target_encoder));
  auto images = [&](int64_t n, uint64_t seed) {
    const torch::Tensor labels = torch::arange(n, torch::kInt64) % 4;
    const torch::Tensor noise = at::normal(0.0, 0.05, {n, 32}, at::detail::createCPUGenerator(seed));
    return TrainingData{centres.index_select(0, labels) + noise, torch::Tensor(), labels};
  };
  const TrainingData train = images(64, 6);
  const TrainingData test = images(2000, 7);
  auto accuracy = [&](torch::Dtype dtype) {
    TextEncoder encoder = tiny_encoder();
    CoOpPromptLearner learner = make_learner(encoder);
    TrainOptions options = cuda_options(30);
    options.dtype = dtype;
    options.lr = 0.02;
    train_coop(learner, encoder, train, options);
    return accuracy_percent(coop_text_features(learner, encoder).to(torch::kFloat32),
                            test.features.to(torch::kCUDA), test.labels.to(torch::kCUDA));
  };
  const double float32 = accuracy(torch::kFloat32);
  EXPECT_NEAR(accuracy(torch::kBFloat16), float32, 0.5);
  EXPECT_NEAR(accuracy(torch::kFloat16), float32, 0.5);
}

}  // namespace
}  // namespace pg::worker
