#include "worker/evaluation.h"

#include <string>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

std::string shape_of(const torch::Tensor& t) { return t.defined() ? format_shape(t.sizes().vec()) : std::string("none"); }

}  // namespace

torch::Tensor classifier_weights(const torch::Tensor& text_features) {
  const torch::Tensor features = text_features.to(torch::kFloat32);
  return features / features.norm(2, {-1}, true);
}

TextFeatureClassifier::TextFeatureClassifier(const torch::Tensor& text_features) {
  if (!text_features.defined() || text_features.dim() != 2 || text_features.size(0) < 1) {
    throw Error("evaluation: text features have shape " + shape_of(text_features) +
                ", expected [C, E] with at least one class");
  }
  torch::NoGradGuard no_grad;
  weights_ = classifier_weights(text_features.detach());
}

torch::Tensor TextFeatureClassifier::logits(const torch::Tensor& image_features) {
  if (!image_features.defined() || image_features.dim() != 2 || image_features.size(1) != weights_.size(1)) {
    throw Error("evaluation: image features have shape " + shape_of(image_features) + ", expected [N, " +
                std::to_string(weights_.size(1)) + "]; use features of the text encoder's backbone");
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor images = image_features.to(weights_.device(), torch::kFloat32);
  return (images / images.norm(2, {-1}, true)).matmul(weights_.t());
}

double accuracy_percent(const torch::Tensor& text_features, const torch::Tensor& image_features,
                        const torch::Tensor& labels, int64_t batch_size) {
  TextFeatureClassifier classifier(text_features);
  const int64_t embed_dim = classifier.embed_dim();
  if (!image_features.defined() || image_features.dim() != 2 || image_features.size(1) != embed_dim ||
      image_features.size(0) < 1) {
    throw Error("evaluation: image features have shape " + shape_of(image_features) + ", expected [N, " +
                std::to_string(embed_dim) + "] with N >= 1; use features of the text encoder's backbone");
  }
  const int64_t n = image_features.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != n || labels.is_floating_point()) {
    throw Error("evaluation: labels have shape " + shape_of(labels) + ", expected [" + std::to_string(n) +
                "] integers, one per image");
  }
  if (batch_size < 1) {
    throw Error("evaluation: batch_size = " + std::to_string(batch_size) + " must be at least 1");
  }
  AccuracyCounter counter;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    counter.add(classifier.logits(image_features.slice(0, begin, end)), labels.slice(0, begin, end));
  }
  return counter.percent();
}

void AccuracyCounter::add(const torch::Tensor& logits, const torch::Tensor& targets) {
  if (!logits.defined() || logits.dim() != 2 || !targets.defined() || targets.dim() != 1 ||
      targets.size(0) != logits.size(0) || targets.is_floating_point()) {
    throw Error("evaluation: logits " + shape_of(logits) + " and targets " + shape_of(targets) +
                " do not fit: expected [N, C] and [N] integers");
  }
  if (logits.size(0) == 0) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor predicted = logits.argmax(1);  // the first maximum: ties go to the lowest index
  correct_ += predicted.eq(targets.to(predicted.device(), torch::kInt64)).sum().item<int64_t>();  // -1 never matches
  total_ += logits.size(0);
}

void AccuracyCounter::add(Classifier& classifier, const torch::Tensor& image_features, const torch::Tensor& targets,
                          torch::Device device) {
  if (image_features.size(0) == 0) return;
  add(classifier.logits(image_features.to(device)), targets);
}

double AccuracyCounter::percent() const {
  if (total_ == 0) throw Error("evaluation: no test image to score; the test split has no images of these classes");
  return 100.0 * static_cast<double>(correct_) / static_cast<double>(total_);
}

}  // namespace pg::worker
