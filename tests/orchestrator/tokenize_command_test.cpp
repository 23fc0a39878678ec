// Tests of `promptgrid tokenize`: output format, `--`, and its errors (exit code 2, message naming the
// problem). Expected ids come from openai/CLIP's reference tokenizer (shared/data/README.md,
// golden/tokens.json).
#include <gtest/gtest.h>

#include <string>

#include "support/test_data.h"

namespace pg {
namespace {

using testing::run_promptgrid;
using testing::shared_data;

std::string vocab() { return shared_data("clip/bpe_simple_vocab_16e6.txt.gz"); }

TEST(TokenizeCommand, PrintsOneLineOfIdsPerText) {
  const auto result =
      run_promptgrid("tokenize --bpe '" + vocab() +
                     "' 'a photo of a dog.' X 'a centered satellite photo of Annual Crop Land.'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output,
            "49406 320 1125 539 320 1929 269 49407\n"
            "49406 343 49407\n"
            "49406 320 24584 10316 1125 539 2906 9955 973 269 49407\n");
}

TEST(TokenizeCommand, TextsAfterDoubleDashMayStartWithADash) {
  // "-x" is "-" then "x" (ids from the Python reference: "-</w>" 268, "x</w>" 343).
  const auto result = run_promptgrid("tokenize --bpe '" + vocab() + "' -- -x 'a photo of a dog.'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "49406 268 343 49407\n49406 320 1125 539 320 1929 269 49407\n");
}

TEST(TokenizeCommand, MissingVocabularyIsAnErrorNamingThePath) {
  const auto result = run_promptgrid("tokenize --bpe /nonexistent/vocab.txt.gz dog");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("/nonexistent/vocab.txt.gz"), std::string::npos) << result.output;
}

TEST(TokenizeCommand, TooLongTextIsAnErrorWithNoPartialOutput) {
  std::string long_text;
  for (int i = 0; i < 80; ++i) long_text += "dog ";
  const auto result = run_promptgrid("tokenize --bpe '" + vocab() + "' cat '" + long_text + "'");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("context length 77"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("49406"), std::string::npos) << result.output;
}

TEST(TokenizeCommand, RequiresAVocabularyAndAText) {
  EXPECT_NE(run_promptgrid("tokenize dog").exit_code, 0);
  EXPECT_NE(run_promptgrid("tokenize --bpe '" + vocab() + "'").exit_code, 0);
}

TEST(TokenizeCommand, HasHelp) {
  const auto result = run_promptgrid("tokenize --help");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("--bpe"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace pg
