// CoCoOp against the reference (golden cocoop: KaiyangZhou/CoOp's cocoop.py PromptLearner with its
// Meta-Net and CustomCLIP on the tiny CLIP): per-image shifts and prompts, text features, logits, loss,
// the gradients of the context and every Meta-Net tensor, one SGD step. Then the batched, chunked
// path against the per-image one.
#include <gtest/gtest.h>

#include "tests/worker/coop_test_support.h"
#include "worker/methods/cocoop/cocoop.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::golden_json;
using testing::golden_tensors;
using testing::int64_tensor;
using testing::relative_error;
using testing::tiny_encoder;

constexpr double kTolerance = 1e-5;
const std::vector<std::string> kMetaNetTensors = {"linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"};

struct GoldenCoCoOp {
  nlohmann::json golden = golden_json("cocoop");
  StateDict expected = golden_tensors("cocoop");
  TextEncoder encoder = tiny_encoder();
  std::unique_ptr<CoCoOpModel> model;

  explicit GoldenCoCoOp(int64_t max_sequences = 4096, bool share_prefix = true) {
    CoOpOptions options;
    options.ctx_init = golden["ctx_init"].get<std::string>();
    options.share_prefix = share_prefix;
    CoOpPromptLearner prompts(options, golden["classnames"].get<std::vector<std::string>>(), clip_tokenizer(), encoder, 0);
    EXPECT_EQ(prompts->options().n_ctx, golden["n_ctx"].get<int64_t>());
    prompts->set_context(expected.at("init.ctx"));
    MetaNet meta_net(32, 64, 0);
    torch::NoGradGuard no_grad;
    for (const auto& item : meta_net->named_parameters()) item.value().copy_(expected.at("init.meta_net." + item.key()));
    model = std::make_unique<CoCoOpModel>(prompts, meta_net, encoder, torch::kCPU, torch::kFloat32, max_sequences);
  }
  torch::Tensor labels() const { return int64_tensor(golden["labels"].get<std::vector<int64_t>>()); }
};

TEST(CoCoOpGolden, PromptsLogitsGradientsAndOneStepMatchReference) {
  GoldenCoCoOp fixture;
  const StateDict& expected = fixture.expected;
  CoCoOpModel& model = *fixture.model;
  const torch::Tensor images = expected.at("image_features");
  {
    torch::NoGradGuard no_grad;
    EXPECT_LE(relative_error(model.shift(images), expected.at("meta_net_out")), kTolerance);
    const int64_t length = model.prompt_learner()->prompt_length();
    EXPECT_LE(relative_error(model.prompts(images), expected.at("prompts").slice(2, 0, length)), kTolerance);
    EXPECT_LE(relative_error(model.logits(images), expected.at("logits")), kTolerance);
  }
  CoCoOpObjective objective(model);
  SgdStep sgd(objective, TrainOptions{});
  const torch::Tensor loss = sgd.step(images, fixture.labels());
  EXPECT_NEAR(loss.item<double>(), fixture.golden["loss"].get<double>(), kTolerance * fixture.golden["loss"].get<double>());
  const auto parameters = objective.parameters();
  ASSERT_EQ(parameters.size(), 5u);
  std::vector<std::string> names = {"ctx"};
  for (const auto& name : kMetaNetTensors) names.push_back("meta_net." + name);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_LE(relative_error(parameters[i].grad(), expected.at("grad." + names[i])), kTolerance) << names[i];
    EXPECT_LE(relative_error(parameters[i], expected.at("step1." + names[i])), kTolerance) << names[i];
  }
}

TEST(CoCoOp, PassesOfAnySizeWithOrWithoutASharedPrefixGiveTheSameLogitsAndGradients) {
  // One sequence budget below a single image's prompts (a pass per image), one per two images, and all
  // at once, each prompt whole or split at its shared [SOT, context] prefix: the same logits, loss and
  // gradients.
  std::vector<std::vector<torch::Tensor>> gradients;
  std::vector<torch::Tensor> logits;
  for (const auto& [budget, share] : std::vector<std::pair<int64_t, bool>>{{1, true}, {10, true}, {4096, true},
                                                                            {1, false}, {4096, false}}) {
    GoldenCoCoOp fixture(budget, share);
    ASSERT_EQ(fixture.model->prompt_learner()->shares_prefix(), share);
    CoCoOpObjective objective(*fixture.model);
    {
      torch::NoGradGuard no_grad;
      logits.push_back(fixture.model->logits(fixture.expected.at("image_features")));
    }
    for (auto& p : objective.parameters()) p.mutable_grad() = torch::Tensor();
    const torch::Tensor loss = objective.backward_loss(fixture.expected.at("image_features"), fixture.labels());
    EXPECT_NEAR(loss.item<double>(), fixture.golden["loss"].get<double>(), kTolerance * fixture.golden["loss"].get<double>());
    std::vector<torch::Tensor> grads;
    for (auto& p : objective.parameters()) grads.push_back(p.grad().clone());
    gradients.push_back(grads);
  }
  for (size_t run = 1; run < gradients.size(); ++run) {
    EXPECT_LE(relative_error(logits[run], logits[0]), 1e-6);
    for (size_t i = 0; i < gradients[0].size(); ++i) EXPECT_LE(relative_error(gradients[run][i], gradients[0][i]), 1e-5);
  }
}

TEST(CoCoOp, MetaNetNeedsSixteenDimensions) {
  testing::expect_error([] { MetaNet(8, 64, 1); }, {"D/16", "8"});
}

}  // namespace
}  // namespace pg::worker

namespace pg::worker {
namespace {

TEST(CoCoOp, ResumedFromAnyEpochEndsBitIdenticalToAnUninterruptedRun) {
  // Every trained tensor (context and the four Meta-Net tensors) and its momentum go through TrainState.
  torch::manual_seed(5);
  TrainingData data;
  data.features = torch::randn({12, 32});
  data.labels = torch::arange(12, torch::kInt64) % 5;
  TrainOptions options;
  options.epochs = 4;
  options.batch_size = 4;
  options.lr = 0.01;
  std::vector<TrainState> states;
  options.on_epoch_end = [&](const TrainState& state) { states.push_back(state); };
  GoldenCoCoOp whole;
  CoCoOpObjective whole_objective(*whole.model);
  const TrainReport uninterrupted = train_prompt(whole_objective, data, options);
  ASSERT_EQ(states.size(), 3u);
  for (const TrainState& state : states) {
    ASSERT_EQ(state.parameters.size(), 5u);
    GoldenCoCoOp resumed;  // starts from the golden init; the state replaces it
    CoCoOpObjective objective(*resumed.model);
    TrainOptions resume = options;
    resume.on_epoch_end = nullptr;
    resume.resume = &state;
    const TrainReport report = train_prompt(objective, data, resume);
    EXPECT_EQ(report.epoch_loss, uninterrupted.epoch_loss) << "resumed at epoch " << state.next_epoch;
    const auto a = objective.parameters(), b = whole_objective.parameters();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  }
}

}  // namespace
}  // namespace pg::worker
