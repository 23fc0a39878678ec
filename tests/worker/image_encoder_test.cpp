// CLIP's image towers against the reference (openai/CLIP encode_image, CLIP.forward): ViT features of
// tiny_clip on random and on preprocessed images, the ResNet tower of tiny_clip_rn stage by stage, from
// both checkpoint formats and from Hugging Face key names; shapes inferred as build_model does, OpenAI's
// release names, strict loading errors, and the precisions the kernels allow.
#include "worker/clip/image_encoder.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "support/test_data.h"
#include "worker/coop_test_support.h"
#include "worker/clip/random_clip.h"
#include "worker/clip/text_encoder.h"

namespace pg::worker {
namespace {

using pg::testing::error_message;
using pg::testing::shared_data;
using pg::worker::testing::padded_ids;

torch::Tensor as_double(const torch::Tensor& tensor) { return tensor.detach().to(torch::kCPU, torch::kFloat64); }

// max |a - b| / max |b|, computed in double.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const torch::Tensor a = as_double(actual);
  const torch::Tensor b = as_double(expected);
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// ||a - b|| / ||b||.
double norm_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const torch::Tensor a = as_double(actual);
  const torch::Tensor b = as_double(expected);
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

double max_abs_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (as_double(actual) - as_double(expected)).abs().max().item<double>();
}

// CLIP.forward's logits_per_image: exp(logit_scale) * normalize(image) @ normalize(text).T, the text
// features from the same checkpoint's text tower.
torch::Tensor logits_per_image(const torch::Tensor& image_features, const std::string& checkpoint,
                               const nlohmann::json& tokens) {
  TextEncoder text = load_text_encoder(checkpoint);
  const torch::Tensor text_features = text->encode_ids(padded_ids(tokens));
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(-1);
  return text->logit_scale() * F::normalize(image_features.to(torch::kFloat32), unit)
                                   .matmul(F::normalize(text_features, unit).t());
}

struct Golden {
  explicit Golden(const std::string& name)
      : json(pg::testing::read_json(shared_data("golden/" + name + ".json"))),
        tensors(read_safetensors(shared_data("golden/" + name + ".safetensors"))) {}
  const torch::Tensor& operator[](const std::string& key) const { return tensors.at(key); }
  nlohmann::json json;
  StateDict tensors;
};

constexpr double kTolerance = 1e-5;

// --- ViT: tiny_clip ---------------------------------------------------------------------------------

class ImageEncoderVit : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageEncoderVit, MatchesEncodeImageAndTheLogitsOnRandomImages) {
  const Golden golden("encode_image");
  const std::string checkpoint = shared_data("golden/" + GetParam());
  ImageEncoder encoder = load_image_encoder(checkpoint);
  torch::NoGradGuard no_grad;
  const torch::Tensor features = encoder.forward(golden["images"]);
  EXPECT_EQ(features.scalar_type(), torch::kFloat32);
  EXPECT_LE(relative_error(features, golden["image_features"]), kTolerance);
  EXPECT_LE(norm_error(features, golden["image_features"]), kTolerance);
  EXPECT_LE(relative_error(logits_per_image(features, checkpoint, golden.json["tokens"]), golden["logits_per_image"]),
            kTolerance);
}

TEST_P(ImageEncoderVit, MatchesEncodeImageOnPreprocessedImages) {
  const Golden golden("encode_image_vit_preprocessed");
  const std::string checkpoint = shared_data("golden/" + GetParam());
  ImageEncoder encoder = load_image_encoder(checkpoint);
  torch::NoGradGuard no_grad;
  const torch::Tensor features = encoder.forward(golden["images"]);
  const torch::Tensor& expected = golden["image_features"];
  ASSERT_EQ(features.sizes(), expected.sizes());
  EXPECT_LE(relative_error(features, expected), kTolerance);
  // The features of the 6 images differ by at most 0.0064 (README): an absolute bound well below that,
  // and the per-image deviations from the batch mean compared on their own, so that an error in what
  // depends on the image cannot hide under the common part.
  EXPECT_LE(max_abs_error(features, expected), 1e-6);
  EXPECT_LE(relative_error(features - features.mean(0), expected - expected.mean(0)), 1e-4);
  EXPECT_LE(relative_error(logits_per_image(features, checkpoint, golden.json["tokens"]), golden["logits_per_image"]),
            kTolerance);
}

INSTANTIATE_TEST_SUITE_P(ImageEncoderBothFormats, ImageEncoderVit, ::testing::Values("tiny_clip.safetensors", "tiny_clip.pt"));

TEST(ImageEncoder, InfersTheTinyVitFromShapes) {
  const StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  const VisionTransformerOptions options = VisionTransformerOptions::infer_from(state_dict);
  EXPECT_EQ(options.width, 64);
  EXPECT_EQ(options.layers, 1);
  EXPECT_EQ(options.heads, 1);
  EXPECT_EQ(options.patch_size, 16);
  EXPECT_EQ(options.input_resolution, 32);
  EXPECT_EQ(options.embed_dim, 32);
  const ImageEncoder encoder = make_image_encoder(state_dict, "tiny_clip.safetensors");
  EXPECT_TRUE(encoder.is_vit());
  EXPECT_EQ(encoder.input_resolution(), 32);
  EXPECT_EQ(encoder.embed_dim(), 32);
  EXPECT_EQ(encoder.architecture(), "ViT(width 64, layers 1, patch 16, 32px, embed 32)");
  for (const auto& parameter : encoder.vision_transformer()->parameters()) EXPECT_FALSE(parameter.requires_grad());
  EXPECT_FALSE(encoder.vision_transformer()->is_training());
}

// --- ResNet: tiny_clip_rn ---------------------------------------------------------------------------

class ImageEncoderResNet : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageEncoderResNet, MatchesEachStageAndEncodeImage) {
  const Golden golden("encode_image_rn");
  const std::string checkpoint = shared_data("golden/" + GetParam());
  ImageEncoder encoder = load_image_encoder(checkpoint);
  ASSERT_FALSE(encoder.is_vit());
  ModifiedResNet resnet = encoder.resnet();
  torch::NoGradGuard no_grad;
  // Each stage from the reference's own input to it, so that a failure points at one stage.
  EXPECT_LE(relative_error(resnet->stem(golden["images"]), golden["stem_out"]), kTolerance);
  EXPECT_LE(relative_error(resnet->layer(1, golden["stem_out"]), golden["layer1_out"]), kTolerance);
  EXPECT_LE(relative_error(resnet->layer(2, golden["layer1_out"]), golden["layer2_out"]), kTolerance);
  EXPECT_LE(relative_error(resnet->layer(3, golden["layer2_out"]), golden["layer3_out"]), kTolerance);
  EXPECT_LE(relative_error(resnet->layer(4, golden["layer3_out"]), golden["layer4_out"]), kTolerance);
  EXPECT_LE(relative_error(resnet->attnpool(golden["layer4_out"]), golden["image_features"]), kTolerance);

  const torch::Tensor features = encoder.forward(golden["images"]);
  EXPECT_LE(relative_error(features, golden["image_features"]), kTolerance);
  EXPECT_LE(norm_error(features, golden["image_features"]), kTolerance);
  EXPECT_LE(relative_error(logits_per_image(features, checkpoint, golden.json["tokens"]), golden["logits_per_image"]),
            kTolerance);
}

INSTANTIATE_TEST_SUITE_P(ImageEncoderBothFormats, ImageEncoderResNet,
                         ::testing::Values("tiny_clip_rn.safetensors", "tiny_clip_rn.pt"));

TEST(ImageEncoder, InfersTheTinyResNetFromShapes) {
  const StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip_rn.safetensors"));
  const ModifiedResNetOptions options = ModifiedResNetOptions::infer_from(state_dict);
  EXPECT_EQ(options.layers, (std::array<int64_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(options.width, 8);
  EXPECT_EQ(options.heads, 4);
  EXPECT_EQ(options.input_resolution, 64);
  EXPECT_EQ(options.output_resolution(), 2);
  EXPECT_EQ(options.embed_dim, 32);
  const ImageEncoder encoder = make_image_encoder(state_dict, "tiny_clip_rn.safetensors");
  EXPECT_EQ(encoder.input_resolution(), 64);
  EXPECT_EQ(encoder.embed_dim(), 32);
  EXPECT_EQ(encoder.architecture(), "ResNet(layers 1-1-1-1, width 8, 64px, embed 32)");
  for (const auto& parameter : encoder.resnet()->parameters()) EXPECT_FALSE(parameter.requires_grad());
}

// --- real-sized random towers -------------------------------------------------------------------------

TEST(ImageEncoder, NamesOpenAiShapedTowers) {
  torch::NoGradGuard no_grad;
  {
    const VisionTransformerOptions b16;  // defaults: ViT-B/16
    const StateDict state_dict = random_clip_vit_tower(b16, 7);
    const VisionTransformerOptions inferred = VisionTransformerOptions::infer_from(state_dict, "random");
    EXPECT_EQ(inferred.width, 768);
    EXPECT_EQ(inferred.layers, 12);
    EXPECT_EQ(inferred.heads, 12);
    EXPECT_EQ(inferred.patch_size, 16);
    EXPECT_EQ(inferred.input_resolution, 224);
    EXPECT_EQ(inferred.embed_dim, 512);
    ImageEncoder encoder = make_image_encoder(state_dict, "random ViT-B/16");
    EXPECT_EQ(encoder.architecture(), "ViT-B/16");
    const torch::Tensor features = encoder.forward(torch::randn({1, 3, 224, 224}));
    EXPECT_EQ(features.sizes(), (std::vector<int64_t>{1, 512}));
    EXPECT_TRUE(torch::isfinite(features).all().item<bool>());
  }
  {
    const ModifiedResNetOptions rn50;  // defaults: RN50
    const StateDict state_dict = random_clip_resnet_tower(rn50, 7);
    const ModifiedResNetOptions inferred = ModifiedResNetOptions::infer_from(state_dict, "random");
    EXPECT_EQ(inferred.layers, (std::array<int64_t, 4>{3, 4, 6, 3}));
    EXPECT_EQ(inferred.width, 64);
    EXPECT_EQ(inferred.heads, 32);
    EXPECT_EQ(inferred.input_resolution, 224);
    EXPECT_EQ(inferred.embed_dim, 1024);
    ImageEncoder encoder = make_image_encoder(state_dict, "random RN50");
    EXPECT_EQ(encoder.architecture(), "RN50");
    const torch::Tensor features = encoder.forward(torch::randn({1, 3, 224, 224}));
    EXPECT_EQ(features.sizes(), (std::vector<int64_t>{1, 1024}));
    EXPECT_TRUE(torch::isfinite(features).all().item<bool>());
  }
}

// --- Hugging Face key names -------------------------------------------------------------------------

// tiny_clip's image tower re-keyed as transformers' CLIPModel stores it (text keys left as OpenAI's).
StateDict hugging_face_vision_keys(const StateDict& openai) {
  StateDict hf;
  for (const auto& [key, tensor] : openai) {
    if (key.rfind("visual.", 0) != 0) hf[key] = tensor;
  }
  const std::string e = "vision_model.embeddings.";
  hf[e + "patch_embedding.weight"] = openai.at("visual.conv1.weight");
  hf[e + "class_embedding"] = openai.at("visual.class_embedding");
  hf[e + "position_embedding.weight"] = openai.at("visual.positional_embedding");
  hf[e + "position_ids"] = torch::arange(5).unsqueeze(0).to(torch::kFloat32);
  hf["visual_projection.weight"] = openai.at("visual.proj").t().contiguous();
  for (const std::string suffix : {"weight", "bias"}) {
    hf["vision_model.pre_layrnorm." + suffix] = openai.at("visual.ln_pre." + suffix);
    hf["vision_model.post_layernorm." + suffix] = openai.at("visual.ln_post." + suffix);
    const std::string from = "visual.transformer.resblocks.0.";
    const std::string to = "vision_model.encoder.layers.0.";
    const auto pieces = openai.at(from + "attn.in_proj_" + suffix).chunk(3, 0);
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) hf[to + "self_attn." + names[i] + "_proj." + suffix] = pieces[i].contiguous();
    hf[to + "self_attn.out_proj." + suffix] = openai.at(from + "attn.out_proj." + suffix);
    hf[to + "layer_norm1." + suffix] = openai.at(from + "ln_1." + suffix);
    hf[to + "layer_norm2." + suffix] = openai.at(from + "ln_2." + suffix);
    hf[to + "mlp.fc1." + suffix] = openai.at(from + "mlp.c_fc." + suffix);
    hf[to + "mlp.fc2." + suffix] = openai.at(from + "mlp.c_proj." + suffix);
  }
  return hf;
}

TEST(ImageEncoder, HuggingFaceVisionKeysGiveTheSameFeatures) {
  const Golden golden("encode_image");
  const StateDict openai = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  const std::string path = pg::testing::make_temp_dir("hf_vision") + "/model.safetensors";
  write_safetensors(path, hugging_face_vision_keys(openai));

  const StateDict mapped = load_state_dict(path);
  for (const auto& [key, tensor] : openai) {
    ASSERT_EQ(mapped.count(key), 1u) << key;
    EXPECT_TRUE(torch::equal(mapped.at(key), tensor)) << key;
  }
  EXPECT_EQ(mapped.size(), openai.size());  // position_ids dropped, nothing left under HF names

  ImageEncoder encoder = load_image_encoder(path);
  torch::NoGradGuard no_grad;
  EXPECT_LE(relative_error(encoder.forward(golden["images"]), golden["image_features"]), kTolerance);
  // The text tower of the same file still loads (its keys were OpenAI's all along).
  EXPECT_NO_THROW(load_text_encoder(path));
}

TEST(ImageEncoderErrors, IncompleteHuggingFaceVisionKeysAreReported) {
  StateDict hf = hugging_face_vision_keys(load_state_dict(shared_data("golden/tiny_clip.safetensors")));
  hf.erase("vision_model.encoder.layers.0.self_attn.k_proj.bias");
  const std::string path = pg::testing::make_temp_dir("hf_vision_partial") + "/partial.safetensors";
  write_safetensors(path, hf);
  const std::string message = error_message([&] { load_image_encoder(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("missing keys: visual.transformer.resblocks.0.attn.in_proj_bias"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected keys: vision_model.encoder.layers.0.self_attn.q_proj.bias, "
                         "vision_model.encoder.layers.0.self_attn.v_proj.bias"),
            std::string::npos)
      << message;
}

// --- errors -----------------------------------------------------------------------------------------

TEST(ImageEncoderErrors, MissingUnexpectedAndMisshapedKeysAreListedTogether) {
  const StateDict original = load_state_dict(shared_data("golden/tiny_clip.safetensors"));

  StateDict missing = original;
  missing.erase("visual.transformer.resblocks.0.mlp.c_fc.bias");
  std::string message = error_message([&] { make_image_encoder(missing, "m.safetensors"); });
  EXPECT_EQ(message.rfind("m.safetensors: ", 0), 0u) << message;
  EXPECT_NE(message.find("missing keys: visual.transformer.resblocks.0.mlp.c_fc.bias"), std::string::npos) << message;

  StateDict misshaped = original;
  misshaped["visual.ln_post.weight"] = torch::ones({65});
  message = error_message([&] { make_image_encoder(misshaped, "s.pt"); });
  EXPECT_EQ(message.rfind("s.pt: ", 0), 0u) << message;
  EXPECT_NE(message.find("misshaped keys: visual.ln_post.weight is [65], expected [64]"), std::string::npos) << message;

  StateDict all = original;
  all.erase("visual.ln_pre.bias");
  all.erase("visual.class_embedding");
  all["visual.extra.weight"] = torch::zeros({2});
  all["visual.transformer.resblocks.0.attn.in_proj_weight"] = torch::zeros({192, 63});
  all["token_embedding.weight"] = torch::zeros({3, 3});  // the text tower's business, not this one's
  message = error_message([&] { make_image_encoder(all, "all.pt"); });
  EXPECT_NE(message.find("all.pt: does not match a CLIP image tower ViT(width 64, layers 1, patch 16, 32px, embed 32)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("missing keys: visual.class_embedding, visual.ln_pre.bias"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected keys: visual.extra.weight;"), std::string::npos) << message;
  EXPECT_NE(message.find("misshaped keys: visual.transformer.resblocks.0.attn.in_proj_weight is [192, 63], expected "
                         "[192, 64]"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("token_embedding"), std::string::npos) << message;
}

TEST(ImageEncoderErrors, ResNetKeysAreCheckedToo) {
  StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip_rn.safetensors"));
  // The counters are accepted where a BatchNorm is, and only there.
  ASSERT_EQ(state_dict.count("visual.layer1.0.downsample.1.num_batches_tracked"), 1u);
  state_dict["visual.layer1.0.conv1.num_batches_tracked"] = torch::zeros({});
  state_dict.erase("visual.layer2.0.downsample.1.running_var");
  state_dict["visual.attnpool.q_proj.bias"] = torch::zeros({255});
  const std::string message = error_message([&] { make_image_encoder(state_dict, "rn.pt"); });
  EXPECT_NE(message.find("rn.pt: does not match a CLIP image tower ResNet(layers 1-1-1-1, width 8, 64px, embed 32): "
                         "missing keys: visual.layer2.0.downsample.1.running_var; unexpected keys: "
                         "visual.layer1.0.conv1.num_batches_tracked; misshaped keys: visual.attnpool.q_proj.bias is "
                         "[255], expected [256]"),
            std::string::npos)
      << message;
}

TEST(ImageEncoderErrors, NonFiniteWeightsAreRefused) {
  StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip_rn.safetensors"));
  state_dict["visual.bn1.running_var"][0] = std::numeric_limits<float>::quiet_NaN();
  const std::string message = error_message([&] { make_image_encoder(state_dict, "nan.safetensors"); });
  EXPECT_NE(message.find("nan.safetensors: image-tower weights hold NaN or infinite values: visual.bn1.running_var "
                         "(1 of 4)"),
            std::string::npos)
      << message;
}

TEST(ImageEncoderErrors, TextOnlyCheckpointsHaveNoImageTower) {
  StateDict state_dict = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  for (auto it = state_dict.begin(); it != state_dict.end();) {
    it = it->first.rfind("visual.", 0) == 0 ? state_dict.erase(it) : std::next(it);
  }
  EXPECT_NO_THROW(TextEncoder(TextEncoderOptions::infer_from(state_dict))->load(state_dict, "text_only.safetensors"));
  const std::string path = pg::testing::make_temp_dir("text_only") + "/text_only.safetensors";
  write_safetensors(path, state_dict);
  const std::string message = error_message([&] { load_image_encoder(path); });
  EXPECT_NE(message.find(path + ": has no image tower"), std::string::npos) << message;
  EXPECT_NE(message.find("text-only"), std::string::npos) << message;
}

TEST(ImageEncoderErrors, InferFromNamesWhatIsMissing) {
  StateDict vit = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  vit.erase("visual.conv1.weight");
  vit["visual.positional_embedding"] = torch::zeros({6, 64});
  std::string message = error_message([&] { make_image_encoder(vit, "v.safetensors"); });
  EXPECT_NE(message.find("v.safetensors: not a CLIP ViT image tower: missing visual.conv1.weight; "
                         "visual.positional_embedding has 6 rows, expected grid^2 + 1"),
            std::string::npos)
      << message;

  StateDict rn = load_state_dict(shared_data("golden/tiny_clip_rn.safetensors"));
  for (auto it = rn.begin(); it != rn.end();) {
    it = it->first.rfind("visual.layer3.", 0) == 0 ? rn.erase(it) : std::next(it);
  }
  message = error_message([&] { make_image_encoder(rn, "r.safetensors"); });
  EXPECT_NE(message.find("r.safetensors: not a CLIP ResNet image tower: missing visual.layer3.0.* (no blocks in "
                         "layer 3)"),
            std::string::npos)
      << message;
}

TEST(ImageEncoderErrors, BadImagesAreRefused) {
  ImageEncoder encoder = load_image_encoder(shared_data("golden/tiny_clip.safetensors"));
  torch::NoGradGuard no_grad;
  EXPECT_NE(error_message([&] { encoder.forward(torch::zeros({2, 3, 224, 224})); })
                .find("images have shape [2, 3, 224, 224], expected [n, 3, 32, 32]"),
            std::string::npos);
  EXPECT_NE(error_message([&] { encoder.forward(torch::zeros({3, 32, 32})); }).find("expected [n, 3, 32, 32]"),
            std::string::npos);
  EXPECT_NE(error_message([&] { encoder.forward(torch::zeros({1, 3, 32, 32}, torch::kUInt8)); })
                .find("images are Byte, expected floating-point values"),
            std::string::npos);
  EXPECT_EQ(encoder.forward(torch::zeros({0, 3, 32, 32})).sizes(), (std::vector<int64_t>{0, 32}));
}

// --- precisions -------------------------------------------------------------------------------------

// Whether this LibTorch has CPU kernels for `dtype` convolutions and matrix products, asked directly.
bool cpu_kernels_for(torch::Dtype dtype) {
  try {
    const auto options = torch::TensorOptions().dtype(dtype);
    torch::conv2d(torch::ones({1, 3, 8, 8}, options), torch::ones({4, 3, 3, 3}, options), {}, 1, 1);
    torch::matmul(torch::ones({4, 4}, options), torch::ones({4, 4}, options));
    return true;
  } catch (const c10::Error&) {
    return false;
  }
}

TEST(ImageEncoder, Float16OnTheCpuWorksOrIsAClearError) {
  const Golden golden("encode_image_rn");
  ImageEncoder encoder = load_image_encoder(shared_data("golden/tiny_clip_rn.safetensors"));
  torch::NoGradGuard no_grad;
  if (cpu_kernels_for(torch::kHalf)) {
    encoder.to_precision(torch::kCPU, torch::kHalf);
    const torch::Tensor features = encoder.forward(golden["images"]);
    EXPECT_EQ(features.scalar_type(), torch::kHalf);
    EXPECT_LE(relative_error(features, golden["image_features"]), 2e-2);
    return;
  }
  const std::string message = error_message([&] { encoder.to_precision(torch::kCPU, torch::kHalf); });
  EXPECT_NE(message.find("image encoder: float16 on cpu is not supported by this LibTorch's kernels"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("compute in float32 on the CPU, or in float16 on CUDA"), std::string::npos) << message;
  // The tower is left as it was, and still right.
  EXPECT_EQ(encoder.dtype(), torch::kFloat32);
  EXPECT_LE(relative_error(encoder.forward(golden["images"]), golden["image_features"]), kTolerance);

  ImageEncoder vit = load_image_encoder(shared_data("golden/tiny_clip.safetensors"));
  EXPECT_NE(error_message([&] { vit.to_precision(torch::kCPU, torch::kHalf); }).find("float16 on cpu"),
            std::string::npos);
}

TEST(ImageEncoder, OtherCpuDtypesKeepNormsInFloat32) {
  const Golden vit_golden("encode_image");
  const Golden rn_golden("encode_image_rn");
  ImageEncoder vit = load_image_encoder(shared_data("golden/tiny_clip.safetensors"));
  ImageEncoder rn = load_image_encoder(shared_data("golden/tiny_clip_rn.safetensors"));
  torch::NoGradGuard no_grad;
  vit.to_precision(torch::kCPU, torch::kFloat64);
  rn.to_precision(torch::kCPU, torch::kFloat64);
  EXPECT_EQ(vit.forward(vit_golden["images"]).scalar_type(), torch::kFloat64);
  EXPECT_LE(relative_error(vit.forward(vit_golden["images"]), vit_golden["image_features"]), kTolerance);
  EXPECT_LE(relative_error(rn.forward(rn_golden["images"]), rn_golden["image_features"]), kTolerance);
  EXPECT_EQ(rn.resnet()->named_parameters()["bn1.weight"].scalar_type(), torch::kFloat32);
  EXPECT_EQ(rn.resnet()->named_buffers()["layer1.0.bn3.running_var"].scalar_type(), torch::kFloat32);
  EXPECT_EQ(vit.vision_transformer()->named_parameters()["ln_post.weight"].scalar_type(), torch::kFloat32);
  EXPECT_EQ(vit.vision_transformer()->named_parameters()["proj"].scalar_type(), torch::kFloat64);

  if (!cpu_kernels_for(torch::kBFloat16)) GTEST_SKIP() << "no bfloat16 CPU kernels in this LibTorch";
  rn.to_precision(torch::kCPU, torch::kBFloat16);
  const torch::Tensor bf16 = rn.forward(rn_golden["images"]);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_LE(relative_error(bf16, rn_golden["image_features"]), 1e-1);
  EXPECT_EQ(rn.resnet()->named_parameters()["bn1.weight"].scalar_type(), torch::kFloat32);
}

TEST(ImageEncoder, RunsOnCudaInHalfPrecision) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard no_grad;
  for (const std::string name : {"tiny_clip", "tiny_clip_rn"}) {
    const Golden golden(name == "tiny_clip" ? "encode_image" : "encode_image_rn");
    ImageEncoder encoder = load_image_encoder(shared_data("golden/" + name + ".safetensors"));
    encoder.to_precision(torch::Device(torch::kCUDA), torch::kHalf);
    const torch::Tensor features = encoder.forward(golden["images"]);
    EXPECT_EQ(features.scalar_type(), torch::kHalf) << name;
    EXPECT_TRUE(features.is_cuda()) << name;
    EXPECT_LE(relative_error(features, golden["image_features"]), 2e-2) << name;
  }
}

}  // namespace
}  // namespace pg::worker
