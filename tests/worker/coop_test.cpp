// CoOp prompt learner and training step against the reference (golden coop_A / coop_B computed by
// KaiyangZhou/CoOp's PromptLearner + CustomCLIP on the tiny CLIP), plus prompt layouts for the
// middle / front class-token positions and class-specific contexts, checked row by row against the
// token embeddings of independently tokenized text.
#include <gtest/gtest.h>

#include "tests/worker/coop_test_support.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/evaluation.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::expect_error;
using testing::golden_json;
using testing::golden_tensors;
using testing::int64_tensor;
using testing::relative_error;
using testing::tiny_encoder;

constexpr double kTolerance = 1e-5;

using Names = std::vector<std::string>;  // braced lists do not pass through TORCH_MODULE's constructor

std::vector<std::string> golden_classnames() {
  return golden_json("coop_A")["classnames"].get<std::vector<std::string>>();
}

CoOpOptions variant_options(const nlohmann::json& golden) {
  CoOpOptions options;
  options.n_ctx = golden["n_ctx"].get<int64_t>();
  options.ctx_init = golden["ctx_init"].get<std::string>();
  return options;
}

// Runs one golden variant end to end: prompts, features, logits and two SGD steps.
void check_golden_variant(const std::string& variant) {
  const nlohmann::json golden = golden_json("coop_" + variant);
  const StateDict expected = golden_tensors("coop_" + variant);
  const auto classnames = golden["classnames"].get<std::vector<std::string>>();
  TextEncoder encoder = tiny_encoder();
  EXPECT_NEAR(encoder->logit_scale(), golden["logit_scale_exp"].get<double>(), 1e-5);

  // Prompts: full 77 positions, as the reference builds them.
  CoOpOptions untruncated = variant_options(golden);
  untruncated.truncate_after_eot = false;
  CoOpPromptLearner full(untruncated, classnames, clip_tokenizer(), encoder, 0);
  full->set_context(expected.at("ctx_init"));
  EXPECT_LE(relative_error(full->forward(), expected.at("prompts")), kTolerance);
  EXPECT_EQ(full->name_lengths(), golden["name_lens"].get<std::vector<int64_t>>());
  EXPECT_TRUE(torch::equal(full->eot_index(), int64_tensor(golden["eot_index"].get<std::vector<int64_t>>())));
  EXPECT_EQ(full->prompt_texts(), golden["prompt_texts"].get<std::vector<std::string>>());

  // Training path: truncated prompts (the default), CoOp's optimiser settings.
  CoOpPromptLearner learner(variant_options(golden), classnames, clip_tokenizer(), encoder, 0);
  learner->set_context(expected.at("ctx_init"));
  const auto eot = golden["eot_index"].get<std::vector<int64_t>>();
  const int64_t length = *std::max_element(eot.begin(), eot.end()) + 1;
  const torch::Tensor prompts = learner->forward();
  EXPECT_EQ(prompts.size(1), length);
  EXPECT_LE(relative_error(prompts, expected.at("prompts").slice(1, 0, length)), kTolerance);

  CoOpTrainStep step(learner, encoder, TrainOptions{});
  EXPECT_LE(relative_error(coop_text_features(learner, encoder), expected.at("text_features")), kTolerance);
  const torch::Tensor labels = int64_tensor(golden["labels"].get<std::vector<int64_t>>());
  EXPECT_LE(relative_error(step.logits(expected.at("image_features")), expected.at("logits")), kTolerance);
  const torch::Tensor loss = step.step(expected.at("image_features"), labels);
  EXPECT_LE(relative_error(loss, expected.at("loss")), kTolerance);
  EXPECT_NEAR(loss.item<double>(), golden["loss"].get<double>(), kTolerance * golden["loss"].get<double>());
  EXPECT_LE(relative_error(learner->context().grad(), expected.at("grad_ctx")), kTolerance);
  EXPECT_LE(relative_error(learner->context(), expected.at("ctx_step1")), kTolerance);
  EXPECT_LE(relative_error(step.momentum_buffer(), expected.at("momentum_buffer_step1")), kTolerance);

  const torch::Tensor labels2 = int64_tensor(golden["labels_step2"].get<std::vector<int64_t>>());
  EXPECT_LE(relative_error(step.logits(expected.at("image_features_step2")), expected.at("logits_step2")), kTolerance);
  const torch::Tensor loss2 = step.step(expected.at("image_features_step2"), labels2);
  EXPECT_LE(relative_error(loss2, expected.at("loss_step2")), kTolerance);
  EXPECT_LE(relative_error(learner->context().grad(), expected.at("grad_ctx_step2")), kTolerance);
  EXPECT_LE(relative_error(learner->context(), expected.at("ctx_step2")), kTolerance);
  EXPECT_LE(relative_error(step.momentum_buffer(), expected.at("momentum_buffer_step2")), kTolerance);
}

TEST(CoOpGolden, VariantARandomContextMatchesReference) { check_golden_variant("A"); }

TEST(CoOpGolden, VariantBWordInitMatchesReference) { check_golden_variant("B"); }

TEST(CoOpGolden, WordInitIsTheEmbeddingOfAPhotoOfA) {
  const nlohmann::json golden = golden_json("coop_B");
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner(variant_options(golden), golden_classnames(), clip_tokenizer(), encoder, 0);
  EXPECT_EQ(learner->options().n_ctx, 4);
  ASSERT_EQ(learner->context().sizes().vec(), (std::vector<int64_t>{4, 64}));
  EXPECT_LE(relative_error(learner->context(), golden_tensors("coop_B").at("ctx_init")), kTolerance);
  // "a photo of a" = 320 1125 539 320 (data/README.md), embedded directly.
  torch::NoGradGuard no_grad;
  const torch::Tensor words = encoder->embed(int64_tensor({320, 1125, 539, 320}).unsqueeze(0))[0];
  EXPECT_TRUE(torch::equal(learner->context(), words));
}

TEST(CoOpPromptLearner, RandomInitIsSeededNormal) {
  TextEncoder encoder = tiny_encoder();
  const CoOpOptions options;
  CoOpPromptLearner a(options, golden_classnames(), clip_tokenizer(), encoder, 7);
  CoOpPromptLearner b(options, golden_classnames(), clip_tokenizer(), encoder, 7);
  CoOpPromptLearner c(options, golden_classnames(), clip_tokenizer(), encoder, 8);
  ASSERT_EQ(a->context().sizes().vec(), (std::vector<int64_t>{16, 64}));
  EXPECT_TRUE(torch::equal(a->context(), b->context()));
  EXPECT_FALSE(torch::equal(a->context(), c->context()));
  // 1024 draws of N(0, 0.02^2): the sample std is within a few percent of 0.02, the mean near 0.
  EXPECT_NEAR(a->context().std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(a->context().mean().item<double>(), 0.0, 0.002);
  EXPECT_TRUE(a->context().requires_grad());
  EXPECT_EQ(a->parameters().size(), 1u);
}

// Token embeddings of `text`'s tokens (no SOT/EOT), embedded directly by the encoder.
torch::Tensor embed_words(TextEncoder& encoder, const std::string& text) {
  torch::NoGradGuard no_grad;
  return encoder->embed(int64_tensor(clip_tokenizer().encode(text)).unsqueeze(0))[0];
}

torch::Tensor embed_token(TextEncoder& encoder, int64_t id) {
  torch::NoGradGuard no_grad;
  return encoder->embed(int64_tensor({id}).unsqueeze(0))[0];
}

// Checks prompt i row by row: SOT, then `segments` in order, then '.', EOT, padding to the end.
void expect_layout(TextEncoder& encoder, const torch::Tensor& prompt, const std::vector<torch::Tensor>& segments) {
  torch::NoGradGuard no_grad;
  int64_t row = 0;
  EXPECT_TRUE(torch::equal(prompt.slice(0, 0, 1), embed_token(encoder, clip_tokenizer().sot_token())));
  row = 1;
  for (const torch::Tensor& segment : segments) {
    EXPECT_TRUE(torch::equal(prompt.slice(0, row, row + segment.size(0)), segment)) << "rows from " << row;
    row += segment.size(0);
  }
  EXPECT_TRUE(torch::equal(prompt.slice(0, row, row + 1), embed_words(encoder, ".")));
  EXPECT_TRUE(torch::equal(prompt.slice(0, row + 1, row + 2), embed_token(encoder, clip_tokenizer().eot_token())));
  for (int64_t pad = row + 2; pad < prompt.size(0); ++pad) {
    EXPECT_TRUE(torch::equal(prompt.slice(0, pad, pad + 1), embed_token(encoder, 0)));
  }
}

TEST(CoOpPromptLearner, MiddlePositionSplitsTheContextAroundTheClass) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.n_ctx = 5;  // odd: the first half has 5 / 2 = 2 vectors, the second 3
  options.position = ClassTokenPosition::middle;
  options.truncate_after_eot = false;
  const std::vector<std::string> classnames = {"american_pit_bull_terrier", "banded"};
  CoOpPromptLearner learner(options, classnames, clip_tokenizer(), encoder, 3);
  const torch::Tensor prompts = learner->forward();
  ASSERT_EQ(prompts.sizes().vec(), (std::vector<int64_t>{2, 77, 64}));
  const torch::Tensor ctx = learner->context();
  expect_layout(encoder, prompts[0],
                {ctx.slice(0, 0, 2), embed_words(encoder, "american pit bull terrier"), ctx.slice(0, 2, 5)});
  expect_layout(encoder, prompts[1], {ctx.slice(0, 0, 2), embed_words(encoder, "banded"), ctx.slice(0, 2, 5)});
  EXPECT_TRUE(torch::equal(learner->eot_index(), int64_tensor({1 + 5 + 4 + 1, 1 + 5 + 1 + 1})));
}

TEST(CoOpPromptLearner, FrontPositionPutsTheClassFirst) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.n_ctx = 4;
  options.position = ClassTokenPosition::front;
  const std::vector<std::string> classnames = {"Annual Crop Land", "banded"};
  CoOpPromptLearner learner(options, classnames, clip_tokenizer(), encoder, 3);
  const torch::Tensor prompts = learner->forward();
  // Truncated after the longest prompt's EOT: SOT + 4 ctx + 3 class tokens + '.' + EOT.
  ASSERT_EQ(prompts.sizes().vec(), (std::vector<int64_t>{2, 10, 64}));
  const torch::Tensor ctx = learner->context();
  expect_layout(encoder, prompts[0], {embed_words(encoder, "Annual Crop Land"), ctx});
  expect_layout(encoder, prompts[1], {embed_words(encoder, "banded"), ctx});
}

TEST(CoOpPromptLearner, ClassSpecificContextsArePerClass) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.n_ctx = 3;
  options.class_specific = true;
  const std::vector<std::string> classnames = {"abyssinian", "banded", "Highway_or_Road"};
  CoOpPromptLearner learner(options, classnames, clip_tokenizer(), encoder, 5);
  const torch::Tensor ctx = learner->context();
  ASSERT_EQ(ctx.sizes().vec(), (std::vector<int64_t>{3, 3, 64}));
  EXPECT_FALSE(torch::equal(ctx[0], ctx[1]));
  const torch::Tensor prompts = learner->forward();
  expect_layout(encoder, prompts[0], {ctx[0], embed_words(encoder, "abyssinian")});
  expect_layout(encoder, prompts[1], {ctx[1], embed_words(encoder, "banded")});
  expect_layout(encoder, prompts[2], {ctx[2], embed_words(encoder, "Highway or Road")});
}

// CoOp's rule: as many context vectors as words. "a rhinoplasty of" is 3 words and 5 tokens (320,
// 12269 36270 2920, 539): CoOp learns the first 3 tokens' embeddings, and "sty of" stays in every
// prompt, frozen. Either way the prompts start as the plain embedding of their text.
TEST(CoOpPromptLearner, WordInitLearnsOneVectorPerWordAsCoOpDoes) {
  TextEncoder encoder = tiny_encoder();
  const std::string init = "a rhinoplasty of";
  const Names names = {"banded", "Highway_or_Road"};
  for (const InitLength length : {InitLength::words, InitLength::tokens}) {
    CoOpOptions options;
    options.ctx_init = init;
    options.init_length = length;
    CoOpPromptLearner learner(options, names, clip_tokenizer(), encoder, 0);
    const int64_t n_ctx = length == InitLength::words ? 3 : 5;
    EXPECT_EQ(learner->options().n_ctx, n_ctx);
    torch::NoGradGuard no_grad;
    const std::vector<int64_t> first = std::vector<int64_t>{320, 12269, 36270, 2920, 539};
    const torch::Tensor learned =
        encoder->embed(int64_tensor(std::vector<int64_t>(first.begin(), first.begin() + n_ctx)).unsqueeze(0))[0];
    EXPECT_TRUE(torch::equal(learner->context(), learned));
    const torch::Tensor prompts = learner->forward();
    for (size_t i = 0; i < names.size(); ++i) {
      std::vector<int64_t> ids = {clip_tokenizer().sot_token()};
      for (int64_t id : clip_tokenizer().encode(init + " " + (i == 0 ? "banded" : "Highway or Road") + ".")) {
        ids.push_back(id);
      }
      ids.push_back(clip_tokenizer().eot_token());
      const auto count = static_cast<int64_t>(ids.size());
      EXPECT_TRUE(torch::equal(prompts[static_cast<int64_t>(i)].slice(0, 0, count),
                               encoder->embed(int64_tensor(ids).unsqueeze(0))[0]))
          << "class " << i << ", init length " << (length == InitLength::words ? "words" : "tokens");
    }
  }
  CoOpOptions spaces;
  spaces.ctx_init = "a  photo";  // 3 words to split(" "), 2 tokens
  EXPECT_NE(pg::testing::error_message([&] { CoOpPromptLearner(spaces, names, clip_tokenizer(), encoder, 0); })
                .find("remove the extra spaces"),
            std::string::npos);
  EXPECT_EQ(parse_init_length("tokens"), InitLength::tokens);
  EXPECT_THROW(parse_init_length("letters"), Error);
}

// CoOp ignores CSC when the context has an init: one context shared by all classes.
TEST(CoOpPromptLearner, ClassSpecificWordInitIsOneSharedContextAsInCoOp) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.ctx_init = "a photo of";
  options.class_specific = true;
  CoOpPromptLearner learner(options, Names{"banded", "abyssinian"}, clip_tokenizer(), encoder, 0);
  EXPECT_FALSE(learner->options().class_specific);
  EXPECT_EQ(learner->context().sizes().vec(), (std::vector<int64_t>{3, 64}));
}

TEST(CoOpPromptLearner, ClassSpecificWordInitRepeatsTheWordsPerClass) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.ctx_init = "a_photo of";  // '_' -> ' ' as CoOp does
  options.class_specific = true;
  options.class_specific_init = true;
  options.position = ClassTokenPosition::middle;
  CoOpPromptLearner learner(options, Names{"banded", "abyssinian"}, clip_tokenizer(), encoder, 0);
  EXPECT_EQ(learner->options().n_ctx, 3);
  const torch::Tensor words = embed_words(encoder, "a photo of");
  ASSERT_EQ(learner->context().sizes().vec(), (std::vector<int64_t>{2, 3, 64}));
  EXPECT_TRUE(torch::equal(learner->context()[0], words));
  EXPECT_TRUE(torch::equal(learner->context()[1], words));
  const torch::Tensor ctx = learner->context();
  expect_layout(encoder, learner->forward()[1],
                {ctx[1].slice(0, 0, 1), embed_words(encoder, "abyssinian"), ctx[1].slice(0, 1, 3)});
}

// The reference's fp16 (tested in bf16, which the CPU has): the context is itself a half parameter and
// SGD updates it in half. The first step is torch.optim.SGD's on those tensors: d = g + wd * ctx,
// the momentum buffer starts as d, ctx -= lr * d, each operation in bf16.
TEST(CoOpTrainer, PureHalfPrecisionUpdatesTheContextInHalf) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions prompt;
  prompt.n_ctx = 4;
  CoOpPromptLearner learner(prompt, golden_classnames(), clip_tokenizer(), encoder, 3);
  TrainOptions options;
  options.dtype = torch::kBFloat16;
  options.half_parameters = true;
  options.lr = 0.002;
  CoOpTrainStep step(learner, encoder, options);
  ASSERT_EQ(learner->context().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(learner->eot_index().scalar_type(), torch::kInt64);
  const torch::Tensor before = learner->context().detach().clone();
  torch::manual_seed(4);
  const auto classes = static_cast<int64_t>(golden_classnames().size());
  const torch::Tensor images = torch::randn({6, encoder->options().embed_dim});
  const torch::Tensor labels = torch::arange(6, torch::kInt64).remainder(classes);
  const torch::Tensor loss = step.step(images, labels);
  EXPECT_EQ(loss.scalar_type(), torch::kBFloat16) << "the loss is in half too";
  const torch::Tensor gradient = learner->context().grad();
  ASSERT_EQ(gradient.scalar_type(), torch::kBFloat16);
  const torch::Tensor direction = gradient.add(before, options.weight_decay);
  EXPECT_TRUE(torch::equal(learner->context().detach(), before.add(direction, -options.lr)));
  EXPECT_EQ(step.momentum_buffer().scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(step.momentum_buffer(), direction));
  // The master-copy mode keeps the context float32.
  CoOpPromptLearner master(prompt, golden_classnames(), clip_tokenizer(), encoder, 3);
  options.half_parameters = false;
  CoOpTrainStep master_step(master, encoder, options);
  master_step.step(images, labels);
  EXPECT_EQ(master->context().scalar_type(), torch::kFloat32);
}

TEST(CoOpPromptLearner, TruncationGivesIdenticalFeatures) {
  TextEncoder encoder = tiny_encoder();
  for (const auto position : {ClassTokenPosition::end, ClassTokenPosition::middle, ClassTokenPosition::front}) {
    CoOpOptions options;
    options.position = position;
    CoOpPromptLearner truncated(options, golden_classnames(), clip_tokenizer(), encoder, 11);
    options.truncate_after_eot = false;
    CoOpPromptLearner full(options, golden_classnames(), clip_tokenizer(), encoder, 11);
    EXPECT_EQ(truncated->prompt_length(), 23);  // max eot_index 22 (coop_A.json) + 1
    EXPECT_EQ(full->prompt_length(), 77);
    EXPECT_TRUE(torch::equal(truncated->forward(), full->forward().slice(1, 0, 23)));
    EXPECT_LE(relative_error(coop_text_features(truncated, encoder), coop_text_features(full, encoder)), 1e-6)
        << to_string(position);
  }
}

TEST(CoOpPromptLearner, SharedPrefixOnlyWhereEveryPromptBeginsAlike) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  EXPECT_TRUE(CoOpPromptLearner(options, golden_classnames(), clip_tokenizer(), encoder, 1)->shares_prefix());
  options.share_prefix = false;
  EXPECT_FALSE(CoOpPromptLearner(options, golden_classnames(), clip_tokenizer(), encoder, 1)->shares_prefix());
  options = CoOpOptions();
  options.class_specific = true;
  EXPECT_FALSE(CoOpPromptLearner(options, golden_classnames(), clip_tokenizer(), encoder, 1)->shares_prefix());
  for (const auto position : {ClassTokenPosition::middle, ClassTokenPosition::front}) {
    options = CoOpOptions();
    options.position = position;
    CoOpPromptLearner learner(options, golden_classnames(), clip_tokenizer(), encoder, 1);
    EXPECT_FALSE(learner->shares_prefix());
    testing::expect_error([&] { learner->shared_prefixes(); }, {"share no prefix"});
  }
  // The prefix is SOT then the context; prefix + suffix is the whole prompt.
  CoOpPromptLearner learner(CoOpOptions(), golden_classnames(), clip_tokenizer(), encoder, 1);
  const torch::Tensor prompts = learner->forward();
  const torch::Tensor prefix = learner->shared_prefixes();
  ASSERT_EQ(prefix.sizes().vec(), (std::vector<int64_t>{1, 17, 64}));
  for (int64_t c = 0; c < learner->num_classes(); ++c) {
    EXPECT_TRUE(torch::equal(prompts[c].slice(0, 0, 17), prefix[0]));
    EXPECT_TRUE(torch::equal(prompts[c].slice(0, 17), learner->suffixes()[c]));
  }
}

TEST(CoOpTrainer, SharedPrefixTrainsLikeWholePrompts) {
  // Three steps of the same run with prefix sharing on and off, for a random and a word-initialised
  // context ("a photo of a" has 4 tokens; "a_good_photo" has 3): the same losses, gradients and context.
  for (const std::string init : {"", "a photo of a", "a_good_photo"}) {
    std::vector<std::vector<torch::Tensor>> runs;
    for (const bool share : {true, false}) {
      TextEncoder encoder = tiny_encoder();
      CoOpOptions options;
      options.n_ctx = 8;
      options.ctx_init = init;
      options.share_prefix = share;
      CoOpPromptLearner learner(options, golden_classnames(), clip_tokenizer(), encoder, 3);
      ASSERT_EQ(learner->shares_prefix(), share);
      CoOpTrainStep step(learner, encoder, TrainOptions{});
      std::vector<torch::Tensor> trace;
      auto generator = at::detail::createCPUGenerator(4);
      for (int i = 0; i < 3; ++i) {
        const torch::Tensor images = torch::randn({8, 32}, generator, torch::kFloat32);
        const torch::Tensor labels = torch::randint(learner->num_classes(), {8}, generator, torch::kInt64);
        trace.push_back(step.step(images, labels));
        trace.push_back(learner->context().grad().clone());
      }
      trace.push_back(learner->context().detach().clone());
      trace.push_back(coop_text_features(learner, encoder));
      runs.push_back(trace);
    }
    for (size_t i = 0; i < runs[0].size(); ++i) {
      EXPECT_LE(relative_error(runs[0][i], runs[1][i]), kTolerance) << "init '" << init << "', item " << i;
    }
  }
}

TEST(CoOpPromptLearner, GradientReachesOnlyTheContext) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.position = ClassTokenPosition::middle;
  CoOpPromptLearner learner(options, golden_classnames(), clip_tokenizer(), encoder, 1);
  encoder->forward(learner->forward(), learner->eot_index()).sum().backward();
  ASSERT_TRUE(learner->context().grad().defined());
  EXPECT_GT(learner->context().grad().abs().sum().item<double>(), 0.0);
  for (const auto& buffer : learner->buffers()) EXPECT_FALSE(buffer.requires_grad());
}

TEST(CoOpPromptLearner, ParsesClassTokenPositions) {
  EXPECT_EQ(parse_class_token_position("end"), ClassTokenPosition::end);
  EXPECT_EQ(parse_class_token_position("middle"), ClassTokenPosition::middle);
  EXPECT_EQ(parse_class_token_position("front"), ClassTokenPosition::front);
  EXPECT_EQ(to_string(ClassTokenPosition::middle), "middle");
  expect_error([] { parse_class_token_position("start"); }, {"'start'", "end, middle, front"});
}

TEST(CoOpPromptLearnerErrors, PromptTooLongNamesTheClass) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  options.n_ctx = 70;
  // 1 + 70 + 4 name tokens + '.' + EOT = 77 fits; 5 name tokens do not.
  EXPECT_NO_THROW(CoOpPromptLearner(options, Names{"american_pit_bull_terrier"}, clip_tokenizer(), encoder, 0));
  expect_error(
      [&] {
        CoOpPromptLearner(options, Names{"banded", "american pit bull terrier dog"}, clip_tokenizer(), encoder, 0);
      },
      {"'american pit bull terrier dog'", "78 tokens", "70 context vectors", "77", "n_ctx"});
}

TEST(CoOpPromptLearnerErrors, RejectsBadOptionsAndNames) {
  TextEncoder encoder = tiny_encoder();
  CoOpOptions options;
  expect_error([&] { CoOpPromptLearner(options, Names{}, clip_tokenizer(), encoder, 0); },
               {"class-name list is empty"});
  expect_error(
      [&] {
        CoOpPromptLearner(options, Names{"banded", "__"}, clip_tokenizer(), encoder, 0);
      },
      {"#1", "'__'", "empty"});
  CoOpOptions zero_ctx;
  zero_ctx.n_ctx = 0;
  expect_error([&] { CoOpPromptLearner(zero_ctx, Names{"banded"}, clip_tokenizer(), encoder, 0); }, {"n_ctx = 0"});
  CoOpOptions bad_std;
  bad_std.init_std = -1;
  expect_error([&] { CoOpPromptLearner(bad_std, Names{"banded"}, clip_tokenizer(), encoder, 0); }, {"init_std = -1"});
  CoOpOptions blank_init;
  blank_init.ctx_init = "   ";
  expect_error([&] { CoOpPromptLearner(blank_init, Names{"banded"}, clip_tokenizer(), encoder, 0); },
               {"ctx_init '   '", "no tokens"});
}

TEST(CoOpPromptLearnerErrors, SetContextChecksTheShape) {
  TextEncoder encoder = tiny_encoder();
  CoOpPromptLearner learner(CoOpOptions{}, Names{"banded"}, clip_tokenizer(), encoder, 0);
  expect_error([&] { learner->set_context(torch::zeros({4, 64})); }, {"[4, 64]", "[16, 64]", "n_ctx 16"});
  expect_error([&] { learner->set_context(torch::zeros({16, 64}, torch::kInt64)); }, {"floating-point"});
  learner->set_context(torch::ones({16, 64}, torch::kFloat64));
  EXPECT_TRUE(torch::equal(learner->context(), torch::ones({16, 64})));
}

}  // namespace
}  // namespace pg::worker
