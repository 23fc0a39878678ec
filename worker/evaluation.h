// Test-set evaluation of CLIP-style classifiers: a class's weight is its normalized text feature, an
// image's prediction the class of highest cosine similarity (argmax, ties to the lowest class index).
// Used for CoOp's learned prompts (coop_text_features) and zero-shot CLIP (zeroshot.h) alike.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "worker/clip/text_encoder.h"
#include "worker/coop_prompt_learner.h"

namespace pg::worker {

// text_features [C, E] -> [C, E] float32, each row divided by its L2 norm.
torch::Tensor classifier_weights(const torch::Tensor& text_features);

// Top-1 accuracy in percent of classifying image_features [N, E] with text_features [C, E] against
// labels [N] (integers). Runs without autograd on text_features' device, `batch_size` images at a
// time. Shape mismatches and N = 0 are a pg::Error.
double accuracy_percent(const torch::Tensor& text_features, const torch::Tensor& image_features,
                        const torch::Tensor& labels, int64_t batch_size = 4096);

// Top-1 accuracy accumulated over chunks of test images, so that the test split is streamed and never
// held whole. Targets are class indices of the classifier; -1 marks an image of a class the
// classifier does not have, which is scored as an error (as Dassl scores every test image).
class AccuracyCounter {
 public:
  // text_features [C, E]; the counter keeps their normalized float32 copy on their device.
  explicit AccuracyCounter(const torch::Tensor& text_features);
  // image_features [N, E] (any device and float dtype), targets [N] integers in [-1, C).
  void add(const torch::Tensor& image_features, const torch::Tensor& targets);
  int64_t correct() const { return correct_; }
  int64_t total() const { return total_; }
  // 100 * correct / total; a pg::Error when no image was added.
  double percent() const;

 private:
  torch::Tensor weights_;
  int64_t correct_ = 0;
  int64_t total_ = 0;
};

// The learned classifier: text features [n_cls, E] float32 (not normalized) of the learner's prompts,
// without autograd, in the encoder's dtype and on its device (the learner must be on that device).
torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder);

}  // namespace pg::worker
