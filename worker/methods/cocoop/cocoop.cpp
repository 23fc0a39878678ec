#include "worker/methods/cocoop/cocoop.h"

#include <cmath>

#include "common/error.h"
#include "worker/methods/coop/coop_method.h"

namespace pg::worker {
namespace {

torch::Tensor normalized(const torch::Tensor& x) { return x / x.norm(2, {-1}, true); }

// The reference draws the Meta-Net from PyTorch's global generator: not reproducible here anyway, so
// from one seeded for the task, on a stream apart from the context's.
constexpr uint64_t kMetaNetStream = 0x9E3779B97F4A7C15ULL;

}  // namespace

MetaNetImpl::MetaNetImpl(int64_t embed_dim, int64_t width, uint64_t seed) {
  const int64_t hidden = embed_dim / 16;
  if (hidden < 1) {
    throw Error("CoCoOp's Meta-Net has D/16 hidden units; image features of dimension " + std::to_string(embed_dim) +
                " give none (use a backbone with D >= 16)");
  }
  linear1 = register_module("linear1", torch::nn::Linear(embed_dim, hidden));
  linear2 = register_module("linear2", torch::nn::Linear(hidden, width));
  auto generator = at::detail::createCPUGenerator(seed ^ kMetaNetStream);
  torch::NoGradGuard no_grad;
  for (auto* linear : {&linear1, &linear2}) {
    const double bound = 1.0 / std::sqrt(static_cast<double>((*linear)->weight.size(1)));
    (*linear)->weight.copy_(at::empty((*linear)->weight.sizes(), torch::kFloat32).uniform_(-bound, bound, generator));
    (*linear)->bias.copy_(at::empty((*linear)->bias.sizes(), torch::kFloat32).uniform_(-bound, bound, generator));
  }
}

torch::Tensor MetaNetImpl::forward(const torch::Tensor& image_features) {
  return linear2(torch::relu(linear1(image_features)));
}

CoCoOpModel::CoCoOpModel(CoOpPromptLearner prompts, MetaNet meta_net, TextEncoder encoder, torch::Device device,
                         torch::Dtype dtype, int64_t max_sequences)
    : prompts_(std::move(prompts)),
      meta_net_(std::move(meta_net)),
      encoder_(std::move(encoder)),
      dtype_(dtype),
      max_sequences_(max_sequences) {
  if (max_sequences_ < 1) {
    throw Error("max_sequences = " + std::to_string(max_sequences_) + ": a text-encoder pass needs at least one sequence");
  }
  prompts_->to(device);
  meta_net_->to(device);
  encoder_->to_precision(device, dtype);
  encoder_->eval();
}

int64_t CoCoOpModel::images_per_pass() const {
  return std::max<int64_t>(1, max_sequences_ / prompts_->num_classes());
}

torch::Tensor CoCoOpModel::shift(const torch::Tensor& image_features) {
  return meta_net_->forward(normalized(image_features.to(torch::kFloat32)));
}

torch::Tensor CoCoOpModel::prompts(const torch::Tensor& image_features) {
  const torch::Tensor contexts = prompts_->context().unsqueeze(0) + shift(image_features).unsqueeze(1);  // [B, M, W]
  return prompts_->forward_batch(contexts);
}

torch::Tensor CoCoOpModel::logits(const torch::Tensor& image_features) {
  const int64_t batch = image_features.size(0);
  const int64_t n_cls = prompts_->num_classes();
  torch::Tensor text;  // [B, C, E]
  if (prompts_->shares_prefix()) {
    // Each image's prompts share [SOT, its context]: B prefixes, the class suffixes shared by all.
    const torch::Tensor contexts = prompts_->context().unsqueeze(0) + shift(image_features).unsqueeze(1);
    text = encoder_->forward_shared_prefix(prompts_->shared_prefixes(contexts).to(dtype_),
                                           prompts_->suffixes().to(dtype_), prompts_->eot_index());
  } else {
    const torch::Tensor batch_prompts = prompts(image_features);  // [B, C, L, W]
    const torch::Tensor flat = batch_prompts.reshape({batch * n_cls, batch_prompts.size(2), batch_prompts.size(3)});
    text = encoder_->forward(flat.to(dtype_), prompts_->eot_index().repeat({batch})).view({batch, n_cls, -1});
  }
  const torch::Tensor image = normalized(image_features.to(torch::kFloat32));
  const torch::Tensor cosine = torch::bmm(normalized(text.to(torch::kFloat32)), image.unsqueeze(2)).squeeze(2);  // [B, C]
  return encoder_->logit_scale() * cosine;
}

std::vector<torch::Tensor> CoCoOpObjective::parameters() {
  std::vector<torch::Tensor> parameters = {model_.prompt_learner()->context()};
  for (const auto& parameter : model_.meta_net()->parameters()) parameters.push_back(parameter);
  return parameters;
}

torch::Tensor CoCoOpObjective::loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(model_.logits(image_features), labels);
}

torch::Tensor CoCoOpObjective::backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
  const int64_t batch = image_features.size(0);
  const int64_t step = model_.images_per_pass();
  torch::Tensor total = torch::zeros({}, image_features.options().dtype(torch::kFloat32));
  namespace F = torch::nn::functional;
  for (int64_t begin = 0; begin < batch; begin += step) {
    const int64_t end = std::min(batch, begin + step);
    // The batch mean as a sum of parts: each part's summed loss over B.
    const torch::Tensor part =
        F::cross_entropy(model_.logits(image_features.slice(0, begin, end)), labels.slice(0, begin, end),
                         F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
        static_cast<double>(batch);
    part.backward();
    total += part.detach();
  }
  return total;
}

namespace {

// Evaluation: per-image classifiers, a pass of whole images at a time, without autograd.
class CoCoOpClassifier : public Classifier {
 public:
  explicit CoCoOpClassifier(std::unique_ptr<CoCoOpModel> model) : model_(std::move(model)) {}
  torch::Tensor logits(const torch::Tensor& image_features) override {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    const int64_t step = model_->images_per_pass();
    for (int64_t begin = 0; begin < image_features.size(0); begin += step) {
      parts.push_back(model_->logits(image_features.slice(0, begin, std::min(image_features.size(0), begin + step))));
    }
    if (parts.empty()) return torch::zeros({0, num_classes()}, image_features.options().dtype(torch::kFloat32));
    return torch::cat(parts, 0);
  }
  int64_t num_classes() const override { return model_->prompt_learner()->num_classes(); }

 private:
  std::unique_ptr<CoCoOpModel> model_;
};

class TrainedCoCoOp : public TrainedMethod {
 public:
  TrainedCoCoOp(std::unique_ptr<CoCoOpModel> model, const text::Tokenizer& tokenizer, torch::Device device,
                torch::Dtype dtype, int64_t max_sequences, uint64_t seed)
      : model_(std::move(model)), tokenizer_(tokenizer), device_(device), dtype_(dtype), max_sequences_(max_sequences), seed_(seed) {
    learned.push_back(to_named_tensor("ctx", model_->prompt_learner()->context()));
    for (const auto& item : model_->meta_net()->named_parameters()) {
      learned.push_back(to_named_tensor("meta_net." + item.key(), item.value()));
    }
  }

  std::unique_ptr<Classifier> classifier(const std::vector<std::string>& classnames, const std::string&) override {
    CoOpPromptLearner& trained = model_->prompt_learner();
    CoOpPromptLearner prompts(trained->options(), classnames, tokenizer_, model_->encoder(), seed_);
    prompts->to(device_);
    prompts->set_context(trained->context());
    return std::make_unique<CoCoOpClassifier>(std::make_unique<CoCoOpModel>(
        prompts, model_->meta_net(), model_->encoder(), device_, dtype_, max_sequences_));
  }

 private:
  std::unique_ptr<CoCoOpModel> model_;
  const text::Tokenizer& tokenizer_;
  torch::Device device_;
  torch::Dtype dtype_;
  int64_t max_sequences_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<TrainedMethod> run_cocoop(const MethodTask& task, MethodEnvironment& environment) {
  const torch::Dtype dtype = precision_dtype(task.settings);
  TextEncoder& encoder = environment.encoder(dtype);
  CoOpPromptLearner prompts(coop_learner_options(task.settings), task.classnames, environment.tokenizer, encoder,
                            task.seed);
  MetaNet meta_net(encoder->options().embed_dim, prompts->context().size(-1), task.seed);
  auto model = std::make_unique<CoCoOpModel>(prompts, meta_net, encoder, environment.device, dtype,
                                             environment.max_sequences);
  CoCoOpObjective objective(*model);
  const TrainOptions options = sgd_options(task, environment.device, dtype);
  const TrainReport report = train_prompt(objective, task.train, options);
  auto trained = std::make_unique<TrainedCoCoOp>(std::move(model), environment.tokenizer, environment.device, dtype,
                                                 environment.max_sequences, task.seed);
  trained->report = sgd_report(report, options);
  trained->report["n_ctx"] = prompts->options().n_ctx;
  return trained;
}

}  // namespace pg::worker
