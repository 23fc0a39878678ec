#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/strings.h"
#include "orchestrator/commands/commands.h"
#include "text/tokenizer.h"

namespace pg::orchestrator {
namespace {

struct TokenizeOptions {
  std::string bpe_path;
  std::vector<std::string> texts;
};

void run_tokenize(const TokenizeOptions& options) {
  const auto tokenizer = text::Tokenizer::from_vocab_file(options.bpe_path);
  // Tokenize everything first so that an error leaves no partial output.
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(options.texts.size());
  for (const auto& text : options.texts) rows.push_back(tokenizer.tokenize(text));
  for (const auto& row : rows) std::cout << join(row, " ") << '\n';
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* command = app.add_subcommand(
      "tokenize",
      "Print CLIP's token ids of each TEXT, one line per text: <|startoftext|>, the BPE ids, "
      "<|endoftext|>, separated by spaces, without padding (exactly openai/CLIP's clip.tokenize row "
      "with its trailing zeros removed). A text over 77 tokens is an error. Put -- before texts that "
      "start with '-'.");
  command
      ->add_option("--bpe", options->bpe_path,
                   "CLIP's BPE vocabulary, bpe_simple_vocab_16e6.txt.gz (gzip or plain text)")
      ->required();
  command->add_option("texts", options->texts, "texts to tokenize (UTF-8)")->required();
  command->footer(
      "Example: promptgrid tokenize --bpe bpe_simple_vocab_16e6.txt.gz \"a photo of a dog.\"\n"
      "  49406 320 1125 539 320 1929 269 49407");
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace pg::orchestrator
