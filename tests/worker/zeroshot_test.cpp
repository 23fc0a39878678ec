// Zero-shot CLIP text features: against the reference encode_text golden (tiny CLIP), and against
// the encoder run directly on the tokenized filled-in template.
#include "worker/methods/zeroshot/zeroshot.h"

#include <gtest/gtest.h>

#include "tests/worker/coop_test_support.h"

namespace pg::worker {
namespace {

using testing::clip_tokenizer;
using testing::expect_error;
using testing::golden_tensors;
using testing::int64_tensor;
using testing::relative_error;
using testing::tiny_encoder;

TEST(ZeroShot, FillsTheTemplate) {
  EXPECT_EQ(fill_template("a photo of a {}.", "Highway_or_Road"), "a photo of a Highway or Road.");
  EXPECT_EQ(fill_template("{}", "dog"), "dog");
  expect_error([] { fill_template("a photo of a dog.", "cat"); }, {"'a photo of a dog.'", "{}"});
  expect_error([] { fill_template("{} or {}", "cat"); }, {"'{} or {}'", "exactly once"});
}

TEST(ZeroShot, MatchesTheReferenceEncodeText) {
  // encode_text.json prompts 0, 1, 3, 2 and 5 written as template + class name.
  const torch::Tensor expected = golden_tensors("encode_text").at("text_features");
  TextEncoder encoder = tiny_encoder();
  const torch::Tensor pets = zeroshot_text_features(encoder, clip_tokenizer(), "a photo of a {}.", {"dog", "cat"});
  EXPECT_LE(relative_error(pets, expected.slice(0, 0, 2)), 1e-5);
  const torch::Tensor pet_type =
      zeroshot_text_features(encoder, clip_tokenizer(), "a photo of a {}, a type of pet.", {"abyssinian"});
  EXPECT_LE(relative_error(pet_type, expected.slice(0, 3, 4)), 1e-5);
  const torch::Tensor satellite =
      zeroshot_text_features(encoder, clip_tokenizer(), "a centered satellite photo of {}.", {"Annual_Crop_Land"});
  EXPECT_LE(relative_error(satellite, expected.slice(0, 2, 3)), 1e-5);
  const torch::Tensor itap = zeroshot_text_features(encoder, clip_tokenizer(), "itap of a {}!", {"Highway_or_Road"});
  EXPECT_LE(relative_error(itap, expected.slice(0, 5, 6)), 1e-5);
}

TEST(ZeroShot, EqualsTheEncoderOnEachTokenizedPrompt) {
  TextEncoder encoder = tiny_encoder();
  const std::vector<std::string> classes = {"abyssinian", "american_pit_bull_terrier", "banded", "Highway_or_Road"};
  const torch::Tensor features =
      zeroshot_text_features(encoder, clip_tokenizer(), "a blurry photo of the {}.", classes);
  ASSERT_EQ(features.sizes().vec(), (std::vector<int64_t>{4, 32}));
  EXPECT_EQ(features.scalar_type(), torch::kFloat32);
  EXPECT_FALSE(features.requires_grad());
  const std::vector<std::string> names = {"abyssinian", "american pit bull terrier", "banded", "Highway or Road"};
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int64_t> ids = clip_tokenizer().tokenize("a blurry photo of the " + names[i] + ".");
    ids.resize(77, 0);
    torch::NoGradGuard no_grad;
    const torch::Tensor direct = encoder->encode_ids(int64_tensor(ids).unsqueeze(0));
    EXPECT_LE(relative_error(features.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1), direct), 1e-5)
        << names[i];
  }
}

TEST(ZeroShot, RejectsTemplatesWithoutPlaceholderAndEmptyClassLists) {
  TextEncoder encoder = tiny_encoder();
  expect_error([&] { zeroshot_text_features(encoder, clip_tokenizer(), "a photo of a dog.", {"dog"}); },
               {"zero-shot template 'a photo of a dog.'"});
  expect_error([&] { zeroshot_text_features(encoder, clip_tokenizer(), "a photo of a {}.", {}); },
               {"class-name list is empty"});
}

}  // namespace
}  // namespace pg::worker
