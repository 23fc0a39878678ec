// Checkpoint reading: TorchScript archives (zip + restricted pickle), safetensors, Hugging Face key
// mapping, and every kind of broken file the readers must reject with a message naming the file.
#include "worker/clip/state_dict.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"
#include "checkpoint/checkpoint_test_support.h"

namespace pg::worker {
namespace {

using pg::testing::make_temp_dir;
using pg::testing::shared_data;
using pg::testing::from_hex;
using pg::testing::make_zip;
using pg::testing::put_le;
using pg::testing::write_temp;

TEST(StateDict, TorchScriptAndSafetensorsAreBitIdentical) {
  const StateDict from_archive = load_state_dict(shared_data("golden/tiny_clip.pt"));
  const StateDict from_safetensors = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  ASSERT_EQ(from_archive.size(), from_safetensors.size());
  for (const auto& [key, tensor] : from_safetensors) {
    ASSERT_EQ(from_archive.count(key), 1u) << key;
    EXPECT_EQ(from_archive.at(key).scalar_type(), torch::kFloat32) << key;
    EXPECT_TRUE(torch::equal(from_archive.at(key), tensor)) << key;
  }
}

TEST(StateDict, KeysShapesAndLogitScaleMatchTheModelDescription) {
  const nlohmann::json description = pg::testing::read_json(shared_data("golden/tiny_clip.json"));
  for (const std::string file : {"golden/tiny_clip.pt", "golden/tiny_clip.safetensors"}) {
    const StateDict tensors = load_state_dict(shared_data(file));
    EXPECT_EQ(tensors.size(), description["keys"].size()) << file;
    for (const auto& [key, info] : description["keys"].items()) {
      ASSERT_EQ(tensors.count(key), 1u) << file << ": " << key;
      EXPECT_EQ(tensors.at(key).sizes().vec(), info["shape"].get<std::vector<int64_t>>()) << file << ": " << key;
    }
    EXPECT_EQ(tensors.at("logit_scale").item<float>(), description["logit_scale"].get<float>()) << file;
  }
}

TEST(StateDict, HuggingFaceTextKeysAreMappedToOpenAiNames) {
  const StateDict openai = load_state_dict(shared_data("golden/tiny_clip.safetensors"));
  // Re-key the tiny model as transformers' CLIPModel stores it.
  StateDict hf;
  hf["text_model.embeddings.token_embedding.weight"] = openai.at("token_embedding.weight");
  hf["text_model.embeddings.position_embedding.weight"] = openai.at("positional_embedding");
  hf["text_model.embeddings.position_ids"] = torch::arange(77).unsqueeze(0).to(torch::kFloat32);
  hf["text_model.final_layer_norm.weight"] = openai.at("ln_final.weight");
  hf["text_model.final_layer_norm.bias"] = openai.at("ln_final.bias");
  hf["text_projection.weight"] = openai.at("text_projection").t().contiguous();
  hf["logit_scale"] = openai.at("logit_scale");
  hf["vision_model.embeddings.class_embedding"] = openai.at("visual.class_embedding");
  for (int layer = 0; layer < 2; ++layer) {
    const std::string from = "transformer.resblocks." + std::to_string(layer) + ".";
    const std::string to = "text_model.encoder.layers." + std::to_string(layer) + ".";
    const auto weights = openai.at(from + "attn.in_proj_weight").chunk(3, 0);
    const auto biases = openai.at(from + "attn.in_proj_bias").chunk(3, 0);
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      hf[to + "self_attn." + names[i] + "_proj.weight"] = weights[i].contiguous();
      hf[to + "self_attn." + names[i] + "_proj.bias"] = biases[i].contiguous();
    }
    for (const std::string suffix : {"weight", "bias"}) {
      hf[to + "self_attn.out_proj." + suffix] = openai.at(from + "attn.out_proj." + suffix);
      hf[to + "layer_norm1." + suffix] = openai.at(from + "ln_1." + suffix);
      hf[to + "layer_norm2." + suffix] = openai.at(from + "ln_2." + suffix);
      hf[to + "mlp.fc1." + suffix] = openai.at(from + "mlp.c_fc." + suffix);
      hf[to + "mlp.fc2." + suffix] = openai.at(from + "mlp.c_proj." + suffix);
    }
  }
  const std::string path = make_temp_dir("hf") + "/model.safetensors";
  write_safetensors(path, hf);
  const StateDict mapped = load_state_dict(path);

  std::vector<std::string> expected_keys;
  for (const auto& [key, tensor] : openai) {
    if (key.rfind("visual.", 0) != 0) expected_keys.push_back(key);
  }
  expected_keys.push_back("vision_model.embeddings.class_embedding");  // not text: passes through
  std::sort(expected_keys.begin(), expected_keys.end());
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : mapped) keys.push_back(key);
  EXPECT_EQ(keys, expected_keys);
  for (const auto& [key, tensor] : mapped) {
    const torch::Tensor& expected =
        key == "vision_model.embeddings.class_embedding" ? openai.at("visual.class_embedding") : openai.at(key);
    EXPECT_TRUE(torch::equal(tensor, expected)) << key;
  }
}

TEST(StateDict, IncompleteHuggingFaceAttentionIsLeftForTheStrictCheck) {
  StateDict hf;
  hf["text_model.embeddings.token_embedding.weight"] = torch::zeros({4, 2});
  hf["text_model.encoder.layers.0.self_attn.q_proj.weight"] = torch::zeros({2, 2});
  hf["text_model.encoder.layers.0.self_attn.k_proj.weight"] = torch::zeros({2, 2});
  const std::string path = make_temp_dir("hf_partial") + "/model.safetensors";
  write_safetensors(path, hf);
  const StateDict mapped = load_state_dict(path);
  EXPECT_EQ(mapped.count("text_model.encoder.layers.0.self_attn.q_proj.weight"), 1u);
  EXPECT_EQ(mapped.count("text_model.encoder.layers.0.self_attn.k_proj.weight"), 1u);
  EXPECT_EQ(mapped.count("transformer.resblocks.0.attn.in_proj_weight"), 0u);
  EXPECT_EQ(mapped.count("token_embedding.weight"), 1u);
}

TEST(Safetensors, WritesTheStandardLayoutAndReadsItBack) {
  StateDict tensors;
  tensors["b.matrix"] = torch::arange(6, torch::kFloat32).view({2, 3}) * 0.25;
  tensors["a.scalar"] = torch::full({}, -1.5);
  tensors["c.half"] = torch::tensor({1.0, 2.0}).to(torch::kFloat16);  // written as F32
  const std::string path = make_temp_dir("safetensors") + "/t.safetensors";
  write_safetensors(path, tensors);

  const std::string bytes = pg::testing::read_bytes(path);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_length % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_length));
  EXPECT_EQ(header["b.matrix"]["dtype"], "F32");
  EXPECT_EQ(header["b.matrix"]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(header["c.half"]["dtype"], "F32");
  EXPECT_EQ(bytes.size(), 8 + header_length + (6 + 1 + 2) * 4);
  const auto offsets = header["b.matrix"]["data_offsets"].get<std::vector<uint64_t>>();
  float third;
  std::memcpy(&third, bytes.data() + 8 + header_length + offsets[0] + 2 * 4, 4);
  EXPECT_EQ(third, 0.5f);

  const StateDict read = read_safetensors(path);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_TRUE(torch::equal(read.at("b.matrix"), tensors["b.matrix"]));
  EXPECT_EQ(read.at("a.scalar").dim(), 0);
  EXPECT_EQ(read.at("a.scalar").item<float>(), -1.5f);
  EXPECT_TRUE(torch::equal(read.at("c.half"), torch::tensor({1.0f, 2.0f})));
}

TEST(Safetensors, ReadsFloat16AndBfloat16AsFloat32) {
  // F16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; BF16 1.0 = 0x3f80, -2.0 = 0xc000.
  const std::string header = R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}})";
  std::string file;
  put_le(file, header.size(), 8);
  file += header;
  for (uint16_t value : {0x3c00, 0xc000, 0x3800, 0x3f80, 0xc000}) put_le(file, value, 2);
  const StateDict read = read_safetensors(write_temp("half.safetensors", file));
  EXPECT_TRUE(torch::equal(read.at("h"), torch::tensor({1.0f, -2.0f, 0.5f})));
  EXPECT_TRUE(torch::equal(read.at("b"), torch::tensor({1.0f, -2.0f})));
}

TEST(StateDict, ReadsZip64Archives) {
  const std::string path = write_temp("z64.pt", pg::testing::tiny_torch_save_zip(/*zip64=*/true));
  const StateDict tensors = load_state_dict(path);
  ASSERT_EQ(tensors.count("w"), 1u);
  EXPECT_TRUE(torch::equal(tensors.at("w"), torch::tensor({1.5f, -2.0f})));
}

}  // namespace
}  // namespace pg::worker
