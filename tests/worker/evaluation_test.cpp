// Accuracy of cosine-similarity classifiers on hand-made features whose predictions are worked out by
// hand, including ties (lowest class index wins, as argmax) and input checks.
#include "worker/evaluation.h"

#include <gtest/gtest.h>

#include "tests/worker/coop_test_support.h"

namespace pg::worker {
namespace {

using testing::expect_error;
using testing::int64_tensor;

TEST(Evaluation, ClassifierWeightsHaveUnitNorm) {
  const torch::Tensor weights = classifier_weights(torch::tensor({{3.0, 4.0}, {0.0, -2.0}}, torch::kFloat64));
  EXPECT_EQ(weights.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(weights, torch::tensor({{0.6f, 0.8f}, {0.0f, -1.0f}})));
}

TEST(Evaluation, AccuracyCountsCosineArgmax) {
  // Classes: x axis, y axis, diagonal. Scale does not matter, only direction.
  const torch::Tensor text = torch::tensor({{1.0f, 0.0f}, {0.0f, 5.0f}, {1.0f, 1.0f}});
  const torch::Tensor images = torch::tensor({{2.0f, 0.1f},    // class 0
                                              {0.1f, 3.0f},    // class 1
                                              {4.0f, 4.2f},    // class 2
                                              {-1.0f, -1.0f},  // farthest from the diagonal: tie 0/1 -> 0
                                              {1.0f, 0.0f}});  // class 0
  // Predictions 0, 1, 2, 0, 0; labels make 3 of 5 right.
  EXPECT_DOUBLE_EQ(accuracy_percent(text, images, int64_tensor({0, 1, 1, 0, 2})), 60.0);
  // Any batch size gives the same count; int32 labels are accepted.
  EXPECT_DOUBLE_EQ(accuracy_percent(text, images, torch::tensor({0, 1, 2, 0, 0}, torch::kInt32), 2), 100.0);
  EXPECT_DOUBLE_EQ(accuracy_percent(text, images, int64_tensor({1, 0, 0, 1, 1}), 1), 0.0);
}

TEST(Evaluation, TiesGoToTheLowestClassIndex) {
  // Two identical classes 1 and 2: every image pointing there is predicted as 1.
  const torch::Tensor text = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {0.0f, 1.0f}});
  const torch::Tensor images = torch::tensor({{0.0f, 1.0f}, {0.2f, 3.0f}});
  EXPECT_DOUBLE_EQ(accuracy_percent(text, images, int64_tensor({1, 1})), 100.0);
  EXPECT_DOUBLE_EQ(accuracy_percent(text, images, int64_tensor({2, 2})), 0.0);
}

TEST(Evaluation, RejectsMismatchedShapes) {
  const torch::Tensor text = torch::ones({3, 4});
  expect_error(
      [&] {
        accuracy_percent(text, torch::ones({5, 3}), int64_tensor({0, 0, 0, 0, 0}));
      },
      {"image features", "[5, 3]", "[N, 4]"});
  expect_error([&] { accuracy_percent(text, torch::ones({0, 4}), int64_tensor({})); }, {"N >= 1"});
  expect_error([&] { accuracy_percent(text, torch::ones({2, 4}), int64_tensor({0, 0, 0})); }, {"labels", "[3]", "[2]"});
  expect_error(
      [&] {
        accuracy_percent(torch::ones({4}), torch::ones({2, 4}), int64_tensor({0, 0}));
      },
      {"text features", "[4]", "[C, E]"});
  expect_error([&] { accuracy_percent(text, torch::ones({2, 4}), int64_tensor({0, 0}), 0); }, {"batch_size = 0"});
}

}  // namespace
}  // namespace pg::worker
