// KgCoOp against the reference (golden kgcoop: htyao89/KgCoOp's PromptLearner, CustomCLIP and the loss
// its trainer forms, on the tiny CLIP): frozen hand-crafted features, every loss term, gradients and two
// SGD steps.
#include <gtest/gtest.h>

#include "tests/worker/coop_test_support.h"
#include "worker/methods/kgcoop/kgcoop.h"
#include "worker/methods/zeroshot/zeroshot.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::golden_json;
using testing::golden_tensors;
using testing::int64_tensor;
using testing::relative_error;
using testing::tiny_encoder;

constexpr double kTolerance = 1e-5;

TEST(KgCoOpGolden, LossTermsGradientsAndTwoStepsMatchReference) {
  const nlohmann::json golden = golden_json("kgcoop");
  const StateDict expected = golden_tensors("kgcoop");
  const auto classnames = golden["classnames"].get<std::vector<std::string>>();
  TextEncoder encoder = tiny_encoder();

  // The frozen features of the dataset's template, as zero-shot CLIP computes them.
  const torch::Tensor clip_features =
      zeroshot_text_features(encoder, clip_tokenizer(), golden["template"].get<std::string>(), classnames);
  EXPECT_LE(relative_error(clip_features, expected.at("clip_text_features")), kTolerance);

  CoOpOptions options;
  options.ctx_init = golden["ctx_init_effective"].get<std::string>();
  CoOpPromptLearner learner(options, classnames, clip_tokenizer(), encoder, 0);
  ASSERT_EQ(learner->options().n_ctx, golden["n_ctx"].get<int64_t>());
  EXPECT_LE(relative_error(learner->context(), expected.at("ctx_init")), kTolerance);
  learner->set_context(expected.at("ctx_init"));
  const int64_t length = learner->prompt_length();
  EXPECT_LE(relative_error(learner->forward(), expected.at("prompts").slice(1, 0, length)), kTolerance);

  KgCoOpObjective objective(learner, encoder, clip_features, golden["w"].get<double>(), torch::kCPU, torch::kFloat32);
  SgdStep sgd(objective, TrainOptions{});
  const torch::Tensor features = expected.at("image_features");
  const torch::Tensor labels = int64_tensor(golden["labels"].get<std::vector<int64_t>>());
  {
    const auto terms = objective.terms(features, labels);
    EXPECT_LE(relative_error(terms.logits, expected.at("logits")), kTolerance);
    EXPECT_LE(relative_error(terms.cos, expected.at("cos")), kTolerance);
    EXPECT_NEAR(terms.score.item<double>(), golden["score"].get<double>(), kTolerance * golden["score"].get<double>());
    EXPECT_NEAR(terms.cross_entropy.item<double>(), golden["ce_loss"].get<double>(), kTolerance * golden["ce_loss"].get<double>());
    // Each term's gradient on its own, as the golden's diagnostics.
    const auto ctx = learner->context();
    const torch::Tensor grad_ce = torch::autograd::grad({terms.cross_entropy}, {ctx}, {}, /*retain_graph=*/true)[0];
    const torch::Tensor grad_score = torch::autograd::grad({terms.score}, {ctx})[0];
    EXPECT_LE(relative_error(grad_ce, expected.at("grad_ctx_ce")), kTolerance);
    EXPECT_LE(relative_error(grad_score, expected.at("grad_ctx_score")), kTolerance);
  }
  const torch::Tensor loss = sgd.step(features, labels);
  EXPECT_NEAR(loss.item<double>(), golden["loss"].get<double>(), kTolerance * golden["loss"].get<double>());
  EXPECT_LE(relative_error(learner->context().grad(), expected.at("grad_ctx")), kTolerance);
  EXPECT_LE(relative_error(learner->context(), expected.at("ctx_step1")), kTolerance);
  EXPECT_LE(relative_error(sgd.momentum_buffers().at(0), expected.at("momentum_buffer_step1")), kTolerance);

  const torch::Tensor features2 = expected.at("image_features_step2");
  const torch::Tensor labels2 = int64_tensor(golden["labels_step2"].get<std::vector<int64_t>>());
  {
    torch::NoGradGuard no_grad;
    const auto terms = objective.terms(features2, labels2);
    EXPECT_LE(relative_error(terms.logits, expected.at("logits_step2")), kTolerance);
    EXPECT_LE(relative_error(terms.cos, expected.at("cos_step2")), kTolerance);
    EXPECT_NEAR(terms.score.item<double>(), golden["score_step2"].get<double>(),
                kTolerance * golden["score_step2"].get<double>());
    EXPECT_NEAR(terms.cross_entropy.item<double>(), golden["ce_loss_step2"].get<double>(),
                kTolerance * golden["ce_loss_step2"].get<double>());
  }
  const torch::Tensor loss2 = sgd.step(features2, labels2);
  EXPECT_NEAR(loss2.item<double>(), golden["loss_step2"].get<double>(), kTolerance * golden["loss_step2"].get<double>());
  EXPECT_LE(relative_error(learner->context().grad(), expected.at("grad_ctx_step2")), kTolerance);
  EXPECT_LE(relative_error(learner->context(), expected.at("ctx_step2")), kTolerance);
  EXPECT_LE(relative_error(sgd.momentum_buffers().at(0), expected.at("momentum_buffer_step2")), kTolerance);
}

TEST(KgCoOp, WeightZeroIsCoOp) {
  // w = 0 leaves CoOp's cross-entropy: the same loss and gradient as CoOp's objective.
  const nlohmann::json golden = golden_json("kgcoop");
  const StateDict expected = golden_tensors("kgcoop");
  const auto classnames = golden["classnames"].get<std::vector<std::string>>();
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.ctx_init = "a photo of a";
  CoOpPromptLearner kg_learner(options, classnames, clip_tokenizer(), encoder, 0);
  CoOpPromptLearner coop_learner(options, classnames, clip_tokenizer(), encoder, 0);
  KgCoOpObjective kg(kg_learner, encoder, expected.at("clip_text_features"), 0.0, torch::kCPU, torch::kFloat32);
  CoOpObjective coop(coop_learner, encoder, torch::kCPU, torch::kFloat32);
  const torch::Tensor labels = int64_tensor(golden["labels"].get<std::vector<int64_t>>());
  const torch::Tensor a = kg.loss(expected.at("image_features"), labels);
  const torch::Tensor b = coop.loss(expected.at("image_features"), labels);
  EXPECT_NEAR(a.item<double>(), b.item<double>(), 1e-6);
  a.backward();
  b.backward();
  EXPECT_LE(relative_error(kg_learner->context().grad(), coop_learner->context().grad()), 1e-6);
}

}  // namespace
}  // namespace pg::worker
