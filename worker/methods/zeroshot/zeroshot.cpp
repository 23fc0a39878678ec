#include "worker/methods/zeroshot/zeroshot.h"

#include <algorithm>

#include "common/error.h"
#include "worker/module_placement.h"

namespace pg::worker {

namespace {

// Classes encoded per forward pass: bounds activation memory for 1000-class datasets.
constexpr int64_t kClassesPerPass = 256;

}  // namespace

std::string fill_template(const std::string& template_text, const std::string& classname) {
  const std::string placeholder = "{}";
  const size_t at = template_text.find(placeholder);
  if (at == std::string::npos || template_text.find(placeholder, at + 1) != std::string::npos) {
    throw Error("zero-shot template '" + template_text +
                "' must contain \"{}\" exactly once, where the class name goes, e.g. 'a photo of a {}.'");
  }
  std::string name = classname;
  std::replace(name.begin(), name.end(), '_', ' ');
  return template_text.substr(0, at) + name + template_text.substr(at + placeholder.size());
}

torch::Tensor zeroshot_text_features(TextEncoder& encoder, const text::Tokenizer& tokenizer, const std::string& template_text,
                                     const std::vector<std::string>& classnames) {
  if (classnames.empty()) {
    throw Error("zero-shot classifier: the class-name list is empty; the dataset must name its classes");
  }
  const int64_t context_length = encoder->options().context_length;
  std::vector<std::vector<int64_t>> tokens;
  for (const std::string& classname : classnames) {
    tokens.push_back(tokenizer.tokenize(fill_template(template_text, classname), context_length));
  }

  torch::NoGradGuard no_grad;
  const torch::Device device = module_device(*encoder);
  std::vector<torch::Tensor> features;
  for (size_t begin = 0; begin < tokens.size(); begin += kClassesPerPass) {
    const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(kClassesPerPass));
    size_t length = 0;
    for (size_t i = begin; i < end; ++i) length = std::max(length, tokens[i].size());
    // Zero-padded to the longest prompt of the pass; the encoder finds each EOT by argmax.
    torch::Tensor ids = torch::zeros({static_cast<int64_t>(end - begin), static_cast<int64_t>(length)}, torch::kInt64);
    for (size_t i = begin; i < end; ++i) {
      std::copy(tokens[i].begin(), tokens[i].end(), ids[static_cast<int64_t>(i - begin)].data_ptr<int64_t>());
    }
    features.push_back(encoder->encode_ids(ids.to(device)).to(torch::kFloat32));
  }
  return torch::cat(features, 0);
}

}  // namespace pg::worker
