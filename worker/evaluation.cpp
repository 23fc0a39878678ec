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

  torch::NoGradGuard no_grad;
  const torch::Tensor weights = classifier_weights(text_features);
  const torch::Device device = weights.device();
  torch::Tensor correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    const torch::Tensor images = image_features.slice(0, begin, end).to(device, torch::kFloat32);
    const torch::Tensor scores = (images / images.norm(2, {-1}, true)).matmul(weights.t());
    const torch::Tensor predicted = scores.argmax(1);  // the first maximum: ties go to the lowest index
    correct += predicted.eq(labels.slice(0, begin, end).to(device, torch::kInt64)).sum();
  }
  return 100.0 * static_cast<double>(correct.item<int64_t>()) / static_cast<double>(n);
}

torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder) {
  torch::NoGradGuard no_grad;
  const torch::Tensor prompts = learner->forward().to(module_dtype(*encoder));
  return encoder->forward(prompts, learner->eot_index()).to(torch::kFloat32);
}

}  // namespace pg::worker
