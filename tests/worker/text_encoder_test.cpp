// The CLIP text encoder against the reference (openai/CLIP encode_text, CoOp's TextEncoder): golden
// intermediates and features from both checkpoint formats, truncation after the EOT, gradients to the
// prompts (checked against CoOp's golden d loss / d ctx), other dtypes, and strict loading errors.
#include "worker/clip/text_encoder.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"
#include "worker/coop_test_support.h"
#include "text/tokenizer.h"

namespace pg::worker {
namespace {

using pg::testing::shared_data;
using pg::worker::testing::padded_ids;

// max |a - b| / max |b|, computed in double.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const torch::Tensor a = actual.detach().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor b = expected.detach().to(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}


torch::Tensor int_tensor(const nlohmann::json& values) {
  return torch::tensor(values.get<std::vector<int64_t>>(), torch::kInt64);
}

struct EncodeTextGolden {
  nlohmann::json json = pg::testing::read_json(shared_data("golden/encode_text.json"));
  StateDict tensors = read_safetensors(shared_data("golden/encode_text.safetensors"));
  torch::Tensor ids = padded_ids(json["tokens"]);
  torch::Tensor eot = int_tensor(json["eot_index"]);
};

class TextEncoderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TextEncoderGolden, MatchesTheReferenceIntermediatesAndFeatures) {
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/" + GetParam()));
  torch::NoGradGuard no_grad;
  constexpr double kTolerance = 1e-5;

  // The EOT is the argmax of each id row, as the reference takes it.
  EXPECT_TRUE(torch::equal(golden.ids.argmax(-1), golden.eot));

  const torch::Tensor positional = encoder->named_parameters()["positional_embedding"];
  EXPECT_LE(relative_error(encoder->embed(golden.ids) + positional, golden.tensors.at("x_embed")), kTolerance);

  // Each block from the reference's own input to it, so a failure points at one stage.
  const torch::Tensor mask = causal_mask(77, torch::TensorOptions().dtype(torch::kFloat32));
  ASSERT_EQ(encoder->blocks()->size(), 2u);
  const auto block0 = encoder->blocks()->ptr(0)->as<ResidualAttentionBlockImpl>();
  const auto block1 = encoder->blocks()->ptr(1)->as<ResidualAttentionBlockImpl>();
  EXPECT_LE(relative_error(block0->forward(golden.tensors.at("x_embed"), mask), golden.tensors.at("resblock0_out")),
            kTolerance);
  EXPECT_LE(relative_error(block1->forward(golden.tensors.at("resblock0_out"), mask),
                           golden.tensors.at("resblock1_out")),
            kTolerance);
  EXPECT_LE(relative_error(layer_norm_fp32(golden.tensors.at("resblock1_out"), encoder->ln_final()),
                           golden.tensors.at("ln_final_out")),
            kTolerance);

  EXPECT_LE(relative_error(encoder->encode_ids(golden.ids), golden.tensors.at("text_features")), kTolerance);
  EXPECT_LE(relative_error(encoder->forward(encoder->embed(golden.ids), golden.eot), golden.tensors.at("text_features")),
            kTolerance);
  EXPECT_NEAR(encoder->logit_scale(), 100.00000762939453, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(BothFormats, TextEncoderGolden, ::testing::Values("tiny_clip.safetensors", "tiny_clip.pt"));

TEST(TextEncoder, InfersTheTinyConfigFromShapes) {
  const TextEncoderOptions options =
      TextEncoderOptions::infer_from(load_state_dict(shared_data("golden/tiny_clip.safetensors")));
  EXPECT_EQ(options.width, 64);
  EXPECT_EQ(options.layers, 2);
  EXPECT_EQ(options.heads, 1);
  EXPECT_EQ(options.embed_dim, 32);
  EXPECT_EQ(options.vocab_size, 49408);
  EXPECT_EQ(options.context_length, 77);
}

TEST(TextEncoder, TokenizerIdsGiveTheGoldenFeatures) {
  const EncodeTextGolden golden;
  const text::Tokenizer tokenizer = text::Tokenizer::from_vocab_file(shared_data("clip/bpe_simple_vocab_16e6.txt.gz"));
  torch::Tensor ids = torch::zeros({6, 77}, torch::kInt64);
  for (int64_t i = 0; i < 6; ++i) {
    const std::vector<int64_t> row = tokenizer.tokenize(golden.json["prompts"][i].get<std::string>());
    for (size_t j = 0; j < row.size(); ++j) ids[i][static_cast<int64_t>(j)] = row[j];
  }
  ASSERT_TRUE(torch::equal(ids, golden.ids));
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  torch::NoGradGuard no_grad;
  EXPECT_LE(relative_error(encoder->encode_ids(ids), golden.tensors.at("text_features")), 1e-5);
}

TEST(TextEncoder, TruncationAfterTheEotChangesNothingAndDropsTheTail) {
  const EncodeTextGolden golden;
  const StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  TextEncoderOptions options = TextEncoderOptions::infer_from(state_dict);
  options.truncate_after_eot = false;
  TextEncoder full(options);
  full->load(state_dict, "tiny");
  options.truncate_after_eot = true;
  TextEncoder truncated(options);
  truncated->load(state_dict, "tiny");
  torch::NoGradGuard no_grad;

  const torch::Tensor prompts = truncated->embed(golden.ids);
  EXPECT_LE(relative_error(truncated->forward(prompts, golden.eot), full->forward(prompts, golden.eot)), 1e-6);

  // Positions after the last EOT (19) poisoned with NaN: the untruncated forward sees them (NaN scores
  // survive the -inf mask), the truncated one never does.
  const torch::Tensor poisoned = prompts.clone();
  poisoned.narrow(1, 20, 77 - 20).fill_(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(torch::isnan(full->forward(poisoned, golden.eot)).any().item<bool>());
  const torch::Tensor features = truncated->forward(poisoned, golden.eot);
  EXPECT_TRUE(torch::isfinite(features).all().item<bool>());
  EXPECT_LE(relative_error(features, golden.tensors.at("text_features")), 1e-5);
}

TEST(TextEncoder, GradientsReachThePromptsAndNotTheWeights) {
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.pt"));
  for (const auto& parameter : encoder->parameters()) EXPECT_FALSE(parameter.requires_grad());
  const torch::Tensor prompts = encoder->embed(golden.ids).detach().requires_grad_(true);
  encoder->forward(prompts, golden.eot).pow(2).sum().backward();
  ASSERT_TRUE(prompts.grad().defined());
  EXPECT_TRUE(torch::isfinite(prompts.grad()).all().item<bool>());
  EXPECT_GT(prompts.grad().abs().max().item<double>(), 0.0);
  for (const auto& parameter : encoder->parameters()) EXPECT_FALSE(parameter.grad().defined());
}

TEST(TextEncoder, CoopGradientMatchesTheReference) {
  // CoOp variant A, step 1: logits = exp(logit_scale) * cos(image, text); d CE / d ctx, where the 16
  // generic context vectors sit at positions 1..16 of every class prompt.
  const nlohmann::json json = pg::testing::read_json(shared_data("golden/coop_A.json"));
  const StateDict golden = read_safetensors(shared_data("golden/coop_A.safetensors"));
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  const torch::Tensor prompts = golden.at("prompts").clone().requires_grad_(true);
  const torch::Tensor text_features = encoder->forward(prompts, int_tensor(json["eot_index"]));
  EXPECT_LE(relative_error(text_features, golden.at("text_features")), 1e-5);

  const torch::Tensor image = torch::nn::functional::normalize(
      golden.at("image_features"), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  const torch::Tensor text =
      torch::nn::functional::normalize(text_features, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  const torch::Tensor logits = encoder->logit_scale() * image.matmul(text.t());
  EXPECT_LE(relative_error(logits, golden.at("logits")), 1e-5);
  const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, int_tensor(json["labels"]));
  EXPECT_NEAR(loss.item<double>(), json["loss"].get<double>(), 1e-5);
  loss.backward();
  const torch::Tensor grad_ctx = prompts.grad().narrow(1, 1, 16).sum(0);
  EXPECT_LE(relative_error(grad_ctx, golden.at("grad_ctx")), 1e-4);
}

TEST(TextEncoder, RunsInOtherDtypesWithFloat32LayerNorm) {
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  torch::NoGradGuard no_grad;
  encoder->to(torch::kFloat64);
  const torch::Tensor doubles = encoder->encode_ids(golden.ids);
  EXPECT_EQ(doubles.scalar_type(), torch::kFloat64);
  EXPECT_LE(relative_error(doubles, golden.tensors.at("text_features")), 1e-5);

  encoder->to(torch::kBFloat16);
  const torch::Tensor bf16 = encoder->encode_ids(golden.ids);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_LE(relative_error(bf16, golden.tensors.at("text_features")), 5e-2);
}

TEST(TextEncoder, RunsOnCudaInHalfPrecision) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  encoder->to(torch::Device(torch::kCUDA), torch::kFloat16);
  const torch::Tensor prompts = encoder->embed(golden.ids.to(torch::kCUDA)).detach().requires_grad_(true);
  const torch::Tensor features = encoder->forward(prompts, golden.eot.to(torch::kCUDA));
  EXPECT_EQ(features.scalar_type(), torch::kFloat16);
  EXPECT_LE(relative_error(features, golden.tensors.at("text_features")), 1e-2);
  features.to(torch::kFloat32).sum().backward();
  EXPECT_TRUE(torch::isfinite(prompts.grad()).all().item<bool>());
}

TEST(TextEncoderErrors, MissingUnexpectedAndMisshapedKeysAreListedTogether) {
  const StateDict original = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  const TextEncoderOptions options = TextEncoderOptions::infer_from(original);

  StateDict missing = original;
  missing.erase("transformer.resblocks.1.mlp.c_fc.bias");
  std::string message = pg::testing::error_message([&] { TextEncoder(options)->load(missing, "m.safetensors"); });
  EXPECT_EQ(message.rfind("m.safetensors: ", 0), 0u) << message;
  EXPECT_NE(message.find("missing keys: transformer.resblocks.1.mlp.c_fc.bias"), std::string::npos) << message;

  StateDict unexpected = original;
  unexpected["transformer.resblocks.0.attn.bias_k"] = torch::zeros({1, 1, 64});
  message = pg::testing::error_message([&] { TextEncoder(options)->load(unexpected, "u.safetensors"); });
  EXPECT_NE(message.find("unexpected keys: transformer.resblocks.0.attn.bias_k"), std::string::npos) << message;

  StateDict misshaped = original;
  misshaped["ln_final.weight"] = torch::ones({65});
  message = pg::testing::error_message([&] { TextEncoder(options)->load(misshaped, "s.safetensors"); });
  EXPECT_NE(message.find("misshaped keys: ln_final.weight is [65], expected [64]"), std::string::npos) << message;

  StateDict all = original;
  all.erase("text_projection");
  all.erase("logit_scale");
  all["extra.weight"] = torch::zeros({2});
  all["positional_embedding"] = torch::zeros({76, 64});
  message = pg::testing::error_message([&] { TextEncoder(options)->load(all, "all.pt"); });
  EXPECT_NE(message.find("missing keys: text_projection, logit_scale"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected keys: extra.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("misshaped keys: positional_embedding is [76, 64], expected [77, 64]"), std::string::npos)
      << message;
}

TEST(TextEncoderErrors, InferFromNamesWhatIsMissing) {
  StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  state_dict.erase("token_embedding.weight");
  for (auto it = state_dict.begin(); it != state_dict.end();) {
    it = it->first.rfind("transformer.resblocks.", 0) == 0 ? state_dict.erase(it) : std::next(it);
  }
  const std::string message = pg::testing::error_message([&] { TextEncoderOptions::infer_from(state_dict, "x.safetensors"); });
  EXPECT_NE(message.find("x.safetensors: not a CLIP text tower: missing token_embedding.weight; missing "
                         "transformer.resblocks.0.* (no transformer blocks)"),
            std::string::npos)
      << message;
}

TEST(TextEncoder, ReusedEotIndexIsCheckedAgainAfterAnInPlaceChange) {
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  torch::NoGradGuard no_grad;
  const torch::Tensor prompts = encoder->embed(golden.ids);
  torch::Tensor eot = golden.eot.to(torch::kInt64).clone();
  const torch::Tensor first = encoder->forward(prompts, eot);
  EXPECT_TRUE(torch::equal(encoder->forward(prompts, eot), first));  // bounds remembered, same features
  eot.fill_(77);  // an in-place change of the remembered tensor must not reuse its old bounds
  EXPECT_NE(pg::testing::error_message([&] { encoder->forward(prompts, eot); })
                .find("eot_index 77 is outside the prompts' 77 positions"),
            std::string::npos);
}

// G prefixes and n suffixes of random token embeddings, their G x n whole prompts, and EOTs that end
// the prompts at different lengths (the last one short of the suffix's end).
struct SplitPrompts {
  static constexpr int64_t kGroups = 3, kPrefix = 6, kPrompts = 5, kSuffix = 9;
  torch::Tensor prefixes, suffixes, eot, whole, whole_eot;
  explicit SplitPrompts(TextEncoder& encoder) {
    const torch::Tensor ids = torch::randint(1, 49000, {kGroups * kPrefix + kPrompts * kSuffix},
                                             at::detail::createCPUGenerator(5), torch::kInt64);
    const torch::Tensor embedded = encoder->embed(ids.unsqueeze(0))[0].detach();
    prefixes = embedded.narrow(0, 0, kGroups * kPrefix).reshape({kGroups, kPrefix, -1}).clone().requires_grad_(true);
    suffixes = embedded.narrow(0, kGroups * kPrefix, kPrompts * kSuffix).reshape({kPrompts, kSuffix, -1}).clone();
    suffixes.requires_grad_(true);
    eot = torch::tensor(std::vector<int64_t>{kPrefix + 2, kPrefix, kPrefix + 7, kPrefix + 4, kPrefix + 1});
    const int64_t width = prefixes.size(2);
    // Built from the leaves, so the whole prompts' gradients reach them too.
    whole = torch::cat({prefixes.unsqueeze(1).expand({kGroups, kPrompts, kPrefix, width}),
                        suffixes.unsqueeze(0).expand({kGroups, kPrompts, kSuffix, width})},
                       2)
                .reshape({kGroups * kPrompts, kPrefix + kSuffix, width});
    whole_eot = eot.repeat({kGroups});
  }
};

TEST(TextEncoder, SharedPrefixGivesTheFeaturesAndGradientsOfWholePrompts) {
  // The tiny CLIP's width 64 as its 1 head and as 4 heads of 16: a head mixed up with a prompt or a row
  // in the split layout would show only with several.
  const StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  for (const auto& [truncate, heads] : std::vector<std::pair<bool, int64_t>>{{true, 1}, {false, 1}, {true, 4}}) {
    TextEncoderOptions options = TextEncoderOptions::infer_from(state_dict);
    options.truncate_after_eot = truncate;
    options.heads = heads;
    TextEncoder encoder(options);
    encoder->load(state_dict, "tiny");
    SplitPrompts split(encoder);
    const torch::Tensor weights = torch::randn({SplitPrompts::kGroups, SplitPrompts::kPrompts, options.embed_dim},
                                               at::detail::createCPUGenerator(6), torch::kFloat32);

    const torch::Tensor shared = encoder->forward_shared_prefix(split.prefixes, split.suffixes, split.eot);
    ASSERT_EQ(shared.sizes().vec(), (std::vector<int64_t>{3, 5, options.embed_dim}));
    (shared * weights).sum().backward();
    const torch::Tensor prefix_grad = split.prefixes.grad().clone();
    const torch::Tensor suffix_grad = split.suffixes.grad().clone();
    split.prefixes.mutable_grad() = torch::Tensor();
    split.suffixes.mutable_grad() = torch::Tensor();

    // The same prompts whole: features agree, and so do the gradients once summed over the prompts
    // that share each prefix (and over the groups that share each suffix).
    const torch::Tensor whole = encoder->forward(split.whole, split.whole_eot).view_as(shared);
    EXPECT_LE(relative_error(shared, whole), 1e-5) << "truncate " << truncate << ", heads " << heads;
    (whole * weights).sum().backward();
    EXPECT_LE(relative_error(prefix_grad, split.prefixes.grad()), 1e-5) << "truncate " << truncate << ", heads " << heads;
    EXPECT_LE(relative_error(suffix_grad, split.suffixes.grad()), 1e-5) << "truncate " << truncate << ", heads " << heads;
  }
}

TEST(TextEncoder, SharedPrefixWithTruncationNeverSeesRowsAfterTheLastEot) {
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  SplitPrompts split(encoder);
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = encoder->forward_shared_prefix(split.prefixes, split.suffixes, split.eot);
  const torch::Tensor poisoned = split.suffixes.clone();
  poisoned.narrow(1, 8, 1).fill_(std::numeric_limits<float>::quiet_NaN());  // past the last EOT (prefix + 7)
  EXPECT_TRUE(torch::equal(encoder->forward_shared_prefix(split.prefixes, poisoned, split.eot), expected));
}

TEST(TextEncoderErrors, SharedPrefixInputsAreChecked) {
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  SplitPrompts split(encoder);
  torch::NoGradGuard no_grad;
  const auto message = [&](const torch::Tensor& prefixes, const torch::Tensor& suffixes, const torch::Tensor& eot) {
    return pg::testing::error_message([&] { encoder->forward_shared_prefix(prefixes, suffixes, eot); });
  };
  EXPECT_NE(message(split.prefixes, split.suffixes, split.eot - 1).find("eot_index 5 is outside the suffixes' positions 6..14"),
            std::string::npos);
  EXPECT_NE(message(split.prefixes, split.suffixes, split.eot + 2).find("eot_index 15 is outside"), std::string::npos);
  EXPECT_NE(message(split.prefixes, split.suffixes, split.eot.narrow(0, 0, 4)).find("expected [5]"), std::string::npos);
  EXPECT_NE(message(split.prefixes.narrow(2, 0, 32), split.suffixes, split.eot).find("do not fit"), std::string::npos);
  EXPECT_NE(message(split.prefixes, torch::zeros({5, 72, 64}), split.eot).find("P + S <= 77"), std::string::npos);
}

TEST(TextEncoderErrors, BadInputsAreRefused) {
  const EncodeTextGolden golden;
  TextEncoder encoder = load_text_encoder(shared_data("golden/tiny_clip.safetensors"));
  torch::NoGradGuard no_grad;
  const torch::Tensor prompts = encoder->embed(golden.ids);
  EXPECT_NE(pg::testing::error_message([&] { encoder->forward(prompts, torch::full({6}, 77, torch::kInt64)); })
                .find("eot_index 77 is outside the prompts' 77 positions"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([&] { encoder->forward(prompts.narrow(2, 0, 32), golden.eot); })
                .find("prompts have shape [6, 77, 32], expected [n, L, 64]"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([&] { encoder->embed(torch::full({1, 3}, 49408, torch::kInt64)); })
                .find("token id 49408 is outside the vocabulary of 49408"),
            std::string::npos);
}

}  // namespace
}  // namespace pg::worker
