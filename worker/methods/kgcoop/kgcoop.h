// KgCoOp (Yao et al., "Visual-Language Prompt Tuning with Knowledge-guided Context Optimization",
// CVPR 2023): CoOp's prompt learner and cross-entropy, plus a term that keeps the learned class
// embeddings near hand-crafted CLIP's:
//   loss = CE + w * (1 - mean_c cos(normalize(t_c), t_c^clip)),
// t^clip the frozen zero-shot text features of the dataset's template, computed once per task,
// normalized (twice, as the reference does: once when stored, once per forward). Defaults (method
// settings): n_ctx 4 from "a photo of a", w = 8.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/method.h"

namespace pg::worker {

class KgCoOpObjective : public TrainingObjective {
 public:
  // clip_text_features [n_cls, E]: the frozen hand-crafted features, not normalized.
  KgCoOpObjective(CoOpPromptLearner learner, TextEncoder encoder, const torch::Tensor& clip_text_features, double w,
                  torch::Device device, torch::Dtype dtype);

  // Every term of one batch, with autograd to the context.
  struct Terms {
    torch::Tensor logits;  // [B, n_cls]
    torch::Tensor cos;     // [n_cls]: cos(normalize(t_c), t_c^clip)
    torch::Tensor score;   // 1 - mean(cos)
    torch::Tensor cross_entropy;
    torch::Tensor loss;    // cross_entropy + w * score
  };
  Terms terms(const torch::Tensor& image_features, const torch::Tensor& labels);

  std::vector<torch::Tensor> parameters() override { return coop_.parameters(); }
  torch::Tensor loss(const torch::Tensor& image_features, const torch::Tensor& labels) override {
    return terms(image_features, labels).loss;
  }
  int64_t num_classes() const override { return coop_.num_classes(); }
  int64_t embed_dim() const override { return coop_.embed_dim(); }
  bool capturable() const override { return coop_.capturable(); }

 private:
  CoOpObjective coop_;
  torch::Tensor clip_features_;  // normalize(normalize(clip_text_features)), float32 on the device
  double w_;
};

std::unique_ptr<TrainedMethod> run_kgcoop(const MethodTask& task, MethodEnvironment& environment);

}  // namespace pg::worker
