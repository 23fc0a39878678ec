// Test-set evaluation of any method's classifier (methods/method.h): an image's prediction is the class
// of highest logit (argmax, ties to the lowest class index). Accuracy is counted over chunks of
// images, so a test split is streamed and never held whole.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "worker/methods/method.h"

namespace pg::worker {

// text_features [C, E] -> [C, E] float32, each row divided by its L2 norm.
torch::Tensor classifier_weights(const torch::Tensor& text_features);

// CLIP's classifier from one text feature per class (zero-shot CLIP, CoOp, KgCoOp): logits =
// normalize(image) @ normalize(text).T (cosine similarity; the logit scale does not change a prediction).
class TextFeatureClassifier : public Classifier {
 public:
  // text_features [C, E]; the classifier keeps their normalized float32 copy on their device.
  explicit TextFeatureClassifier(const torch::Tensor& text_features);
  torch::Tensor logits(const torch::Tensor& image_features) override;
  int64_t num_classes() const override { return weights_.size(0); }
  int64_t embed_dim() const { return weights_.size(1); }

 private:
  torch::Tensor weights_;
};

// Top-1 accuracy in percent of classifying image_features [N, E] with text_features [C, E] against
// labels [N] (integers), `batch_size` images at a time. Shape mismatches and N = 0 are a pg::Error.
double accuracy_percent(const torch::Tensor& text_features, const torch::Tensor& image_features,
                        const torch::Tensor& labels, int64_t batch_size = 4096);

// Top-1 accuracy accumulated over chunks of test images. Targets are class indices of the classifier;
// -1 marks an image of a class the classifier does not have, which is scored as an error (as Dassl
// scores every test image).
class AccuracyCounter {
 public:
  // logits [N, C] (any device), targets [N] integers in [-1, C).
  void add(const torch::Tensor& logits, const torch::Tensor& targets);
  // Classifies image_features [N, E] with `classifier` (moved to `device` first) and counts them.
  void add(Classifier& classifier, const torch::Tensor& image_features, const torch::Tensor& targets,
           torch::Device device);
  int64_t correct() const { return correct_; }
  int64_t total() const { return total_; }
  // 100 * correct / total; a pg::Error when no image was added.
  double percent() const;

 private:
  int64_t correct_ = 0;
  int64_t total_ = 0;
};

}  // namespace pg::worker
