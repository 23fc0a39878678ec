#include "worker/prompt_training.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "worker/lr_schedule.h"
#ifdef PG_WITH_CUDA
#include "worker/cuda/captured_backward.h"
#endif

namespace pg::worker {
namespace {

void check_options(const TrainOptions& options) {
  const auto positive = [](double value) { return value > 0 && std::isfinite(value); };
  const auto non_negative = [](double value) { return value >= 0 && std::isfinite(value); };
  if (options.epochs < 1) {
    throw Error("training option epochs = " + std::to_string(options.epochs) + " must be at least 1");
  }
  if (options.batch_size < 1) {
    throw Error("training option batch_size = " + std::to_string(options.batch_size) +
                " must be at least 1 (CoOp uses 32)");
  }
  if (!positive(options.lr)) {
    throw Error("training option lr = " + format_number(options.lr) + " must be a positive finite number (CoOp uses 0.002)");
  }
  if (!positive(options.warmup_lr)) {
    throw Error("training option warmup_lr = " + format_number(options.warmup_lr) +
                " must be a positive finite number (CoOp uses 1e-5)");
  }
  if (!non_negative(options.momentum)) {
    throw Error("training option momentum = " + format_number(options.momentum) +
                " must be a finite number >= 0 (CoOp uses 0.9)");
  }
  if (!non_negative(options.weight_decay)) {
    throw Error("training option weight_decay = " + format_number(options.weight_decay) +
                " must be a finite number >= 0 (CoOp uses 5e-4)");
  }
  if (options.warmup_epochs < 0) {
    throw Error("training option warmup_epochs = " + std::to_string(options.warmup_epochs) +
                " must be 0 or more (CoOp uses 1)");
  }
  if (options.dtype != torch::kFloat32 && options.dtype != torch::kFloat16 && options.dtype != torch::kBFloat16) {
    throw Error(std::string("training option dtype = ") + c10::toString(options.dtype) +
                " is not supported; use float32, float16 or bfloat16");
  }
  if (options.dtype == torch::kFloat16 && options.device.is_cpu()) {
    throw Error("training option dtype = float16 needs a CUDA device; on the CPU use float32 or bfloat16");
  }
}

torch::optim::SGDOptions sgd_options(const TrainOptions& options) {
  return torch::optim::SGDOptions(options.lr)
      .momentum(options.momentum)
      .dampening(0)
      .weight_decay(options.weight_decay)
      .nesterov(false);
}

// Uniform in [0, n), unbiased (rejection of the top partial range) and the same on every platform,
// unlike std::uniform_int_distribution whose algorithm the standard leaves open.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t limit = max - max % n;
  uint64_t value = rng();
  while (value >= limit) value = rng();
  return value % n;
}

void shuffle(std::vector<int64_t>& items, std::mt19937_64& rng) {
  for (size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[uniform_below(rng, i)]);
  }
}

void check_data(const TrainingData& data, int64_t num_classes, int64_t embed_dim) {
  const std::string expected_features = "[N, " + std::to_string(embed_dim) + "]";
  if (!data.features.defined() || data.features.dim() != 2 || data.features.size(1) != embed_dim ||
      data.features.size(0) < 1 || !data.features.is_floating_point()) {
    throw Error("training features: got " +
                (data.features.defined() ? format_shape(data.features.sizes().vec()) : std::string("none")) +
                ", expected a non-empty floating-point " + expected_features +
                " tensor (the text encoder's embed_dim); use features extracted with the same backbone");
  }
  const int64_t n = data.features.size(0);
  if (!data.labels.defined() || data.labels.dim() != 1 || data.labels.size(0) != n || data.labels.is_floating_point() ||
      data.labels.scalar_type() == torch::kBool) {
    throw Error("training labels: got " +
                (data.labels.defined() ? format_shape(data.labels.sizes().vec()) : std::string("none")) +
                ", expected integer labels of shape [" + std::to_string(n) + "], one per feature row");
  }
  const torch::Tensor labels = data.labels.to(torch::kCPU, torch::kInt64);
  const int64_t min_label = labels.min().item<int64_t>();
  const int64_t max_label = labels.max().item<int64_t>();
  if (min_label < 0 || max_label >= num_classes) {
    throw Error("training labels: range [" + std::to_string(min_label) + ", " + std::to_string(max_label) +
                "] does not fit the method's " + std::to_string(num_classes) + " classes; labels must be 0.." +
                std::to_string(num_classes - 1));
  }
  if (!torch::isfinite(data.features).all().item<bool>()) {
    throw Error("training features contain NaN or infinite values; re-extract the features");
  }
  if (data.views.defined()) {
    const auto& views = data.views;
    if (views.dim() != 3 || views.size(0) < 1 || views.size(1) != n || views.size(2) != embed_dim ||
        !views.is_floating_point()) {
      throw Error("training views: got " + format_shape(views.sizes().vec()) + ", expected [V, " + std::to_string(n) +
                  ", " + std::to_string(embed_dim) + "] floating-point: V >= 1 augmented views of each training image");
    }
    if (!torch::isfinite(views).all().item<bool>()) {
      throw Error("training views contain NaN or infinite values; re-extract the features");
    }
  }
}

template <typename Key>
Key optimizer_state_key(void* tensor_impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << tensor_impl;
    return address.str();
  } else {
    return static_cast<Key>(tensor_impl);
  }
}

}  // namespace

torch::Tensor clip_logits(const torch::Tensor& image_features, const torch::Tensor& text_features, double logit_scale) {
  const torch::Tensor image = image_features / image_features.norm(2, {-1}, true);
  const torch::Tensor text = text_features / text_features.norm(2, {-1}, true);
  return (logit_scale * image).matmul(text.t());
}

SgdStep::SgdStep(TrainingObjective& objective, const TrainOptions& options)
    : objective_(objective),
      parameters_((check_options(options), objective.parameters())),
      optimizer_(parameters_, sgd_options(options)) {
#ifdef PG_WITH_CUDA
  const char* setting = std::getenv("PG_CUDA_GRAPH");
  std::string value = setting == nullptr ? "" : setting;
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool allowed = value != "off" && value != "0" && value != "false" && value != "no";
  record_graph_ = allowed && options.cuda_graph && options.device.is_cuda() && objective.capturable();
#endif
}

void SgdStep::zero_grad() {
  if (captured_) {
    // The recording replays into the gradient tensors it was recorded with: zero them in place, never
    // release them (LibTorch 2.x's zero_grad() sets them to none).
    for (const auto& parameter : parameters_) {
      if (parameter.grad().defined()) parameter.grad().zero_();
    }
  } else {
    optimizer_.zero_grad();
  }
}

torch::Tensor SgdStep::backward_loss(const torch::Tensor& image_features, const torch::Tensor& labels) {
#ifdef PG_WITH_CUDA
  if (record_graph_) {
    record_graph_ = false;
    try {
      captured_ = std::make_shared<CapturedBackward>(objective_, image_features, labels);
    } catch (const Error& error) {
      log_warning(std::string(error.what()) + "; training goes on without a CUDA graph (same result, slower)");
    }
  }
  if (captured_ && captured_->fits(image_features, labels)) return captured_->backward_loss(image_features, labels);
#endif
  zero_grad();
  return objective_.backward_loss(image_features, labels);
}

torch::Tensor SgdStep::step(const torch::Tensor& image_features, const torch::Tensor& labels) {
  const torch::Tensor loss = backward_loss(image_features, labels);
  optimizer_.step();
  return loss;
}

void SgdStep::set_lr(double lr) {
  for (auto& group : optimizer_.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
}

std::vector<torch::Tensor> SgdStep::momentum_buffers() const {
  // LibTorch keys optimizer state by the parameter's TensorImpl address: printed as a string in 1.x,
  // the pointer itself in later versions.
  const auto& state = optimizer_.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  std::vector<torch::Tensor> buffers;
  for (const auto& parameter : parameters_) {
    const auto found = state.find(optimizer_state_key<Key>(parameter.unsafeGetTensorImpl()));
    buffers.push_back(found == state.end()
                          ? torch::Tensor()
                          : static_cast<const torch::optim::SGDParamState&>(*found->second).momentum_buffer());
  }
  return buffers;
}

void SgdStep::set_momentum_buffers(const std::vector<torch::Tensor>& buffers) {
  if (buffers.size() > parameters_.size()) {
    throw Error("saved SGD state holds " + std::to_string(buffers.size()) + " momentum buffers for " +
                std::to_string(parameters_.size()) + " trained tensors");
  }
  auto& state = optimizer_.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (!buffers[i].defined()) continue;
    const torch::Tensor& parameter = parameters_[i];
    if (buffers[i].sizes() != parameter.sizes()) {
      throw Error("a saved SGD momentum buffer of shape " + format_shape(buffers[i].sizes().vec()) +
                  " does not fit the trained tensor " + format_shape(parameter.sizes().vec()));
    }
    auto param_state = std::make_unique<torch::optim::SGDParamState>();
    param_state->momentum_buffer(buffers[i].to(parameter.device(), parameter.scalar_type()).clone());
    state[optimizer_state_key<Key>(parameter.unsafeGetTensorImpl())] = std::move(param_state);
  }
}

int64_t batches_per_epoch(int64_t num_items, int64_t batch_size) {
  if (num_items < 1 || batch_size < 1) {
    throw Error("batches_per_epoch: " + std::to_string(num_items) + " items in batches of " +
                std::to_string(batch_size) + "; both must be at least 1");
  }
  return num_items >= batch_size ? num_items / batch_size : 1;
}

TrainingRun::TrainingRun(TrainingObjective& objective, const TrainingData& data, const TrainOptions& options)
    : options_(options),
      parameters_((check_options(options), check_data(data, objective.num_classes(), objective.embed_dim()),
                   objective.parameters())),
      sgd_(objective, options),
      rng_(options.seed) {
  const torch::Device device = options.device;
  items_ = data.features.size(0);
  views_ = data.views.defined() ? data.views.size(0) : 0;
  // Rows to draw from: the features, or the views flattened to [V * N, E] (row v * N + i).
  source_ = views_ > 0 ? data.views.to(device, torch::kFloat32).reshape({views_ * items_, -1})
                       : data.features.to(device, torch::kFloat32);
  labels_ = data.labels.to(device, torch::kInt64);
  batches_ = batches_per_epoch(items_, options.batch_size);
  batch_size_ = std::min<int64_t>(options.batch_size, items_);
  start_ = std::chrono::steady_clock::now();  // the loop's time: after the checks and the upload
  if (options.resume == nullptr) return;

  const TrainState& saved = *options.resume;
  if (saved.next_epoch < 0 || saved.next_epoch > options.epochs) {
    throw Error("a checkpoint at epoch " + std::to_string(saved.next_epoch) + " does not fit a run of " +
                std::to_string(options.epochs) + " epochs");
  }
  if (saved.parameters.size() != parameters_.size()) {
    throw Error("a checkpoint of " + std::to_string(saved.parameters.size()) + " trained tensors does not fit a "
                "method that trains " + std::to_string(parameters_.size()) + "; remove the checkpoint to start over");
  }
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      if (saved.parameters[i].sizes() != parameters_[i].sizes()) {
        throw Error("a checkpoint's trained tensor " + std::to_string(i) + " has shape " +
                    format_shape(saved.parameters[i].sizes().vec()) + ", the method's " +
                    format_shape(parameters_[i].sizes().vec()) + "; remove the checkpoint to start over");
      }
      parameters_[i].copy_(saved.parameters[i]);
    }
  }
  sgd_.set_momentum_buffers(saved.momentum);
  std::istringstream rng_text(saved.rng_state);
  rng_text >> rng_;
  if (!rng_text) throw Error("a checkpoint's random-number state is damaged; remove the checkpoint to start over");
  report_ = saved.report;
  epoch_ = saved.next_epoch;
}

void TrainingRun::start_epoch() {
  const LrScheduleOptions schedule{options_.lr, options_.epochs, options_.warmup_lr, options_.warmup_epochs};
  lr_ = coop_learning_rate(epoch_, schedule);
  sgd_.set_lr(lr_);
  std::vector<int64_t> source_row(static_cast<size_t>(items_));
  for (int64_t i = 0; i < items_; ++i) {
    const auto view = views_ > 0 ? static_cast<int64_t>(uniform_below(rng_, views_)) : 0;
    source_row[static_cast<size_t>(i)] = view * items_ + i;
  }
  std::vector<int64_t> order(static_cast<size_t>(items_));
  std::iota(order.begin(), order.end(), int64_t{0});
  shuffle(order, rng_);
  std::vector<int64_t> epoch_rows(order.size());
  for (size_t j = 0; j < order.size(); ++j) epoch_rows[j] = source_row[static_cast<size_t>(order[j])];
  // One gather per epoch, then contiguous slices per batch.
  const torch::Device device = options_.device;
  epoch_features_ = source_.index_select(0, torch::tensor(epoch_rows).to(device));
  epoch_labels_ = labels_.index_select(0, torch::tensor(order).to(device));
  epoch_losses_ = torch::empty({batches_}, torch::TensorOptions().device(device));
}

TrainingRun::Batch TrainingRun::next_batch() {
  if (finished()) throw Error("training run: no batch after the last epoch");
  if (next_batch_ == 0) start_epoch();
  const int64_t begin = next_batch_ * batch_size_;
  return {epoch_features_.slice(0, begin, begin + batch_size_), epoch_labels_.slice(0, begin, begin + batch_size_)};
}

void TrainingRun::finish_step(const torch::Tensor& loss) {
  epoch_losses_[next_batch_].copy_(loss);
  if (++next_batch_ == batches_) end_epoch();
}

void TrainingRun::end_epoch() {
  // The losses are read from the device once per epoch, not per step.
  const torch::Tensor host_losses = epoch_losses_.to(torch::kCPU, torch::kFloat64);
  const double* values = host_losses.data_ptr<double>();
  double sum = 0;
  for (int64_t b = 0; b < batches_; ++b) {
    if (!std::isfinite(values[b])) {
      throw Error(std::string("loss became ") + (std::isnan(values[b]) ? "NaN" : "infinite") + " at epoch " +
                  std::to_string(epoch_ + 1) + "/" + std::to_string(options_.epochs) + ", step " +
                  std::to_string(b + 1) + "/" + std::to_string(batches_) + " (lr " + format_number(lr_) +
                  "); lower the learning rate (lr, warmup_lr) or train in float32");
    }
    sum += values[b];
  }
  report_.epoch_loss.push_back(sum / static_cast<double>(batches_));
  report_.epoch_lr.push_back(lr_);
  report_.steps += batches_;
  next_batch_ = 0;
  ++epoch_;
  if (options_.on_epoch_end && epoch_ < options_.epochs) {
    TrainState state;
    state.next_epoch = epoch_;
    for (const auto& parameter : parameters_) {
      state.parameters.push_back(parameter.detach().to(torch::kCPU, torch::kFloat32).clone());
    }
    for (const auto& buffer : sgd_.momentum_buffers()) {
      state.momentum.push_back(buffer.defined() ? buffer.detach().to(torch::kCPU, torch::kFloat32).clone() : buffer);
    }
    std::ostringstream rng_text;
    rng_text << rng_;
    state.rng_state = rng_text.str();
    state.report = report_;
    options_.on_epoch_end(state);
  }
}

TrainReport TrainingRun::report() const {
  TrainReport report = report_;
  report.cuda_graph = sgd_.graphed();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return report;
}

TrainReport train_prompt(TrainingObjective& objective, const TrainingData& data, const TrainOptions& options) {
  TrainingRun run(objective, data, options);
  while (!run.finished()) {
    if (options.stop_requested && options.stop_requested()) throw TrainingInterrupted(run.epoch());
    const TrainingRun::Batch batch = run.next_batch();
    run.finish_step(run.sgd().step(batch.features, batch.labels));
  }
  return run.report();
}

}  // namespace pg::worker
