#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "orchestrator/commands/commands.h"
#include "worker/clip/text_encoder.h"
#include "text/tokenizer.h"

namespace pg::orchestrator {
namespace {

struct EncodeTextOptions {
  std::string clip_path;
  std::string bpe_path;
  bool normalize = false;
  std::vector<std::string> texts;
};

void run_encode_text(const EncodeTextOptions& options) {
  const auto tokenizer = text::Tokenizer::from_vocab_file(options.bpe_path);
  worker::TextEncoder encoder = worker::load_text_encoder(options.clip_path);
  if (tokenizer.vocab_size() != encoder->options().vocab_size) {
    throw Error(options.bpe_path + ": the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " tokens but " +
                options.clip_path + " has " + std::to_string(encoder->options().vocab_size) +
                " token embeddings; use the BPE vocabulary the checkpoint was trained with");
  }
  std::vector<std::vector<int64_t>> rows;
  size_t longest = 0;
  for (const auto& text : options.texts) {
    rows.push_back(tokenizer.tokenize(text, encoder->options().context_length));
    longest = std::max(longest, rows.back().size());
  }
  // Zero padding to the longest row is enough: the mask is causal, so nothing after an EOT matters.
  torch::Tensor ids = torch::zeros({static_cast<int64_t>(rows.size()), static_cast<int64_t>(longest)}, torch::kInt64);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy(rows[i].begin(), rows[i].end(), ids[static_cast<int64_t>(i)].data_ptr<int64_t>());
  }
  torch::NoGradGuard no_grad;
  torch::Tensor features = encoder->encode_ids(ids);
  if (options.normalize) features = features / features.norm(2, -1, /*keepdim=*/true);
  features = features.to(torch::kFloat32).contiguous();

  nlohmann::ordered_json output;  // keys in the documented order
  output["model"] = options.clip_path;
  output["embed_dim"] = encoder->options().embed_dim;
  output["features"] = nlohmann::ordered_json::array();
  for (int64_t i = 0; i < features.size(0); ++i) {
    const float* row = features[i].data_ptr<float>();
    // Each float widened to double prints the shortest decimal that reads back to the same float.
    output["features"].push_back(std::vector<double>(row, row + features.size(1)));
  }
  std::cout << output.dump() << std::endl;
}

}  // namespace

void add_encode_text_command(CLI::App& app) {
  auto options = std::make_shared<EncodeTextOptions>();
  auto* command = app.add_subcommand(
      "encode-text",
      "Encode each TEXT with a CLIP checkpoint's text tower (tokenize, transformer, EOT row @ "
      "text_projection, as openai/CLIP's encode_text) and print JSON {\"model\": CKPT, \"embed_dim\": E, "
      "\"features\": [[E floats], ...]}, one row per text in order. Put -- before texts that start with '-'.");
  command->add_option("--clip", options->clip_path,
                      "CLIP checkpoint: OpenAI's TorchScript archive (ViT-B-16.pt, RN50.pt) or safetensors with "
                      "OpenAI, open_clip or Hugging Face key names")
      ->required();
  command->add_option("--bpe", options->bpe_path,
                      "CLIP's BPE vocabulary, bpe_simple_vocab_16e6.txt.gz (gzip or plain text)")
      ->required();
  command->add_flag("--normalize", options->normalize, "divide each feature row by its L2 norm");
  command->add_option("texts", options->texts, "texts to encode (UTF-8)")->required();
  command->footer("Example: promptgrid encode-text --clip ViT-B-16.pt --bpe bpe_simple_vocab_16e6.txt.gz "
                  "--normalize \"a photo of a dog.\" \"a photo of a cat.\"");
  command->callback([options] { run_encode_text(*options); });
}

}  // namespace pg::orchestrator
