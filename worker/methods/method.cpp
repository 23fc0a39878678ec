#include "worker/methods/method.h"

#include "common/precision.h"
#include "common/strings.h"
#include "worker/torch_dtype.h"

namespace pg::worker {

namespace {
constexpr const char* kPurePrefix = "pure_";
}  // namespace

torch::Dtype precision_dtype(const nlohmann::json& settings) {
  std::string precision = settings.value("precision", "fp32");
  if (starts_with(precision, kPurePrefix)) precision = precision.substr(std::string(kPurePrefix).size());
  return torch_dtype(parse_precision(precision, "task field 'precision'"));
}

bool pure_half_precision(const nlohmann::json& settings) {
  return starts_with(settings.value("precision", "fp32"), kPurePrefix);
}

TrainOptions sgd_options(const MethodTask& task, torch::Device device, torch::Dtype dtype) {
  TrainOptions options;
  options.epochs = task.settings.at("epochs").get<int>();
  options.batch_size = task.settings.at("batch_size").get<int>();
  options.lr = task.settings.at("lr").get<double>();
  options.seed = task.seed;
  options.device = device;
  options.dtype = dtype;
  options.half_parameters = pure_half_precision(task.settings);
  options.resume = task.resume;
  options.on_epoch_end = task.on_epoch_end;
  options.stop_requested = task.stop_requested;
  return options;
}

nlohmann::json sgd_report(const TrainReport& report, const TrainOptions& options) {
  return {{"epochs", options.epochs},
          {"steps", report.steps},
          {"final_loss", report.epoch_loss.empty() ? 0.0 : report.epoch_loss.back()},
          {"loss_per_epoch", report.epoch_loss},
          {"lr_per_epoch", report.epoch_lr},
          {"cuda_graph", report.cuda_graph}};
}

storage::NamedTensor to_named_tensor(const std::string& name, const torch::Tensor& tensor) {
  const torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {name, values.sizes().vec(),
          std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel())};
}

}  // namespace pg::worker
