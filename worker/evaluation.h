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

// The learned classifier: text features [n_cls, E] float32 (not normalized) of the learner's prompts,
// without autograd, in the encoder's dtype and on its device (the learner must be on that device).
torch::Tensor coop_text_features(CoOpPromptLearner& learner, TextEncoder& encoder);

}  // namespace pg::worker
