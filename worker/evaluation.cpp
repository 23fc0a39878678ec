#include "worker/evaluation.h"

#include <string>

#include "common/error.h"
#include "common/strings.h"
#include "worker/module_placement.h"

namespace pg::worker {

torch::Tensor classifier_weights(const torch::Tensor& text_features) {
  const torch::Tensor features = text_features.to(torch::kFloat32);
  return features / features.norm(2, {-1}, true);
}

double accuracy_percent(const torch::Tensor& text_features, const torch::Tensor& image_features,
                        const torch::Tensor& labels, int64_t batch_size) {
  const auto shape = [](const torch::Tensor& t) {
    return t.defined() ? format_shape(t.sizes().vec()) : std::string("none");
  };
  if (!text_features.defined() || text_features.dim() != 2 || text_features.size(0) < 1) {
    throw Error("evaluation: text features have shape " + shape(text_features) +
                ", expected [C, E] with at least one class");
  }
  const int64_t embed_dim = text_features.size(1);
  if (!image_features.defined() || image_features.dim() != 2 || image_features.size(1) != embed_dim ||
      image_features.size(0) < 1) {
    throw Error("evaluation: image features have shape " + shape(image_features) + ", expected [N, " +
                std::to_string(embed_dim) + "] with N >= 1; use features of the text encoder's backbone");
  }
  const int64_t n = image_features.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != n || labels.is_floating_point()) {
    throw Error("evaluation: labels have shape " + shape(labels) + ", expected [" + std::to_string(n) +
                "] integers, one per image");
  }
  if (batch_size < 1) {
    throw Error("evaluation: batch_size = " + std::to_string(batch_size) + " must be at least 1");
  }

  AccuracyCounter counter(text_features);
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    counter.add(image_features.slice(0, begin, end), labels.slice(0, begin, end));
  }
  return counter.percent();
}

AccuracyCounter::AccuracyCounter(const torch::Tensor& text_features) {
  if (!text_features.defined() || text_features.dim() != 2 || text_features.size(0) < 1) {
    throw Error("evaluation: text features have shape " +
                (text_features.defined() ? format_shape(text_features.sizes().vec()) : std::string("none")) +
                ", expected [C, E] with at least one class");
  }
  torch::NoGradGuard no_grad;
  weights_ = classifier_weights(text_features.detach());
}

void AccuracyCounter::add(const torch::Tensor& image_features, const torch::Tensor& targets) {
  const int64_t classes = weights_.size(0);
  if (image_features.dim() != 2 || image_features.size(1) != weights_.size(1) || targets.dim() != 1 ||
      targets.size(0) != image_features.size(0) || targets.is_floating_point()) {
    throw Error("evaluation: image features " + format_shape(image_features.sizes().vec()) + " and targets " +
                format_shape(targets.sizes().vec()) + " do not fit a classifier of " + std::to_string(classes) +
                " classes of dimension " + std::to_string(weights_.size(1)));
  }
  const int64_t n = image_features.size(0);
  if (n == 0) return;
  torch::NoGradGuard no_grad;
  const torch::Device device = weights_.device();
  const torch::Tensor images = image_features.to(device, torch::kFloat32);
  const torch::Tensor wanted = targets.to(device, torch::kInt64);
  const torch::Tensor scores = (images / images.norm(2, {-1}, true)).matmul(weights_.t());
  const torch::Tensor predicted = scores.argmax(1);  // the first maximum: ties go to the lowest index
  correct_ += predicted.eq(wanted).sum().item<int64_t>();  // a target of -1 never matches
  total_ += n;
}

double AccuracyCounter::percent() const {
  if (total_ == 0) throw Error("evaluation: no test image to score; the test split has no images of these classes");
  return 100.0 * static_cast<double>(correct_) / static_cast<double>(total_);
}

torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder) {
  torch::NoGradGuard no_grad;
  const torch::Tensor prompts = learner->forward().to(module_dtype(*encoder));
  return encoder->forward(prompts, learner->eot_index()).to(torch::kFloat32);
}

}  // namespace pg::worker
