// Tests of `promptgrid encode-text`: features against the reference encode_text (golden
// encode_text.safetensors), --normalize, and its errors (exit code 2, message naming the files).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/test_data.h"
#include "worker/clip/state_dict.h"

namespace pg {
namespace {

using testing::make_temp_dir;
using testing::run_promptgrid;
using testing::shared_data;

std::string vocab() { return shared_data("clip/bpe_simple_vocab_16e6.txt.gz"); }

// The golden prompts, single-quoted for the shell (none contains a quote).
std::string quoted_prompts() {
  const auto json = nlohmann::json::parse(std::ifstream(shared_data("golden/encode_text.json")));
  std::string out;
  for (const auto& prompt : json["prompts"]) out += " '" + prompt.get<std::string>() + "'";
  return out;
}

torch::Tensor features_of(const nlohmann::json& output) {
  std::vector<torch::Tensor> rows;
  for (const auto& row : output["features"]) rows.push_back(torch::tensor(row.get<std::vector<double>>()));
  return torch::stack(rows);
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const torch::Tensor b = expected.to(torch::kFloat64);
  return (actual.to(torch::kFloat64) - b).abs().max().item<double>() / b.abs().max().item<double>();
}

TEST(EncodeTextCommand, PrintsTheReferenceFeaturesAsJson) {
  const torch::Tensor expected =
      worker::read_safetensors(shared_data("golden/encode_text.safetensors")).at("text_features");
  for (const std::string checkpoint : {"golden/tiny_clip.safetensors", "golden/tiny_clip.pt"}) {
    const auto result = run_promptgrid("encode-text --clip '" + shared_data(checkpoint) + "' --bpe '" + vocab() +
                                       "' --" + quoted_prompts());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto output = nlohmann::json::parse(result.output);
    EXPECT_EQ(output["model"], shared_data(checkpoint));
    EXPECT_EQ(output["embed_dim"], 32);
    const torch::Tensor features = features_of(output);
    ASSERT_EQ(features.sizes(), expected.sizes()) << checkpoint;
    EXPECT_LE(relative_error(features, expected), 1e-5) << checkpoint;
  }
}

TEST(EncodeTextCommand, NormalizeGivesUnitRows) {
  const torch::Tensor expected =
      worker::read_safetensors(shared_data("golden/encode_text.safetensors")).at("text_features");
  const auto result = run_promptgrid("encode-text --normalize --clip '" + shared_data("golden/tiny_clip.pt") +
                                     "' --bpe '" + vocab() + "'" + quoted_prompts());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const torch::Tensor features = features_of(nlohmann::json::parse(result.output));
  EXPECT_LE(relative_error(features, expected / expected.norm(2, -1, true)), 1e-5);
}

TEST(EncodeTextCommand, VocabularyAndCheckpointMustAgree) {
  // A vocabulary file without merges is the 514-token byte-level vocabulary.
  const std::string bpe = make_temp_dir("encode_text") + "/bytes.txt";
  std::ofstream(bpe) << "#version: 0.2\n";
  const std::string clip = shared_data("golden/tiny_clip.safetensors");
  const auto result = run_promptgrid("encode-text --clip '" + clip + "' --bpe '" + bpe + "' dog");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find(bpe + ": the tokenizer has 514 tokens but " + clip + " has 49408 token embeddings"),
            std::string::npos)
      << result.output;
}

TEST(EncodeTextCommand, BadCheckpointIsAnErrorNamingIt) {
  const auto result =
      run_promptgrid("encode-text --clip '" + vocab() + "' --bpe '" + vocab() + "' dog");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find(vocab() + ": not a CLIP checkpoint"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace pg
