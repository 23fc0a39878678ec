// Zero-shot CLIP classifiers: one text feature per class from a hand-written template such as
// "a photo of a {}, a type of pet." (CoOp's per-dataset templates), the baseline CoOp is compared to.
// Evaluate them with evaluation.h.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "worker/clip/text_encoder.h"
#include "text/tokenizer.h"

namespace pg::worker {

// The template with its "{}" replaced by the class name ('_' -> ' '). A template without exactly one
// "{}" is a pg::Error naming it.
std::string fill_template(const std::string& template_text, const std::string& classname);

// Text features [C, E] float32, not normalized: encoder(tokenize(fill_template(template, name))) for
// every class, without autograd, on the encoder's device. A prompt longer than the encoder's context
// is a pg::Error (from the tokenizer, naming the text).
torch::Tensor zeroshot_text_features(TextEncoder& encoder, const text::Tokenizer& tokenizer, const std::string& template_text,
                                     const std::vector<std::string>& classnames);

}  // namespace pg::worker
