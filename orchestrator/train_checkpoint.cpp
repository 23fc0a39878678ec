#include "orchestrator/train_checkpoint.h"

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "storage/prompt_store.h"

namespace pg::orchestrator {
namespace {

storage::NamedTensor named(const std::string& name, const torch::Tensor& tensor) {
  const torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {name, values.sizes().vec(), std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel())};
}

torch::Tensor tensor_of(const storage::NamedTensor& named) {
  return torch::tensor(named.values, torch::kFloat32).reshape(named.shape);
}

}  // namespace

void save_train_checkpoint(const std::string& path, const nlohmann::json& spec, const worker::TrainState& state) {
  const nlohmann::json about = {{"spec", spec},
                                {"next_epoch", state.next_epoch},
                                {"rng_state", state.rng_state},
                                {"epoch_loss", state.report.epoch_loss},
                                {"epoch_lr", state.report.epoch_lr},
                                {"steps", state.report.steps}};
  std::vector<storage::NamedTensor> tensors;
  for (size_t i = 0; i < state.parameters.size(); ++i) tensors.push_back(named("param." + std::to_string(i), state.parameters[i]));
  for (size_t i = 0; i < state.momentum.size(); ++i) {
    if (state.momentum[i].defined()) tensors.push_back(named("momentum." + std::to_string(i), state.momentum[i]));
  }
  storage::write_prompt_file(path, about.dump(), tensors);
}

std::optional<worker::TrainState> load_train_checkpoint(const std::string& path, const nlohmann::json& spec) {
  if (!file_exists(path)) return std::nullopt;
  try {
    const storage::PromptFile file = storage::read_prompt_file(path);
    const nlohmann::json about = nlohmann::json::parse(file.task_json);
    if (about.value("spec", nlohmann::json()) != spec) throw Error("it belongs to another task spec");
    worker::TrainState state;
    state.next_epoch = about.at("next_epoch").get<int>();
    state.rng_state = about.at("rng_state").get<std::string>();
    state.report.epoch_loss = about.at("epoch_loss").get<std::vector<double>>();
    state.report.epoch_lr = about.at("epoch_lr").get<std::vector<double>>();
    state.report.steps = about.at("steps").get<int64_t>();
    // Tensors "param.<i>" and "momentum.<i>" (the momentum of a tensor not yet updated is absent);
    // checkpoints of CoOp tasks written before methods shared the loop name them "ctx" and "momentum".
    for (const auto& tensor : file.tensors) {
      const std::string name = tensor.name == "ctx" ? "param.0" : tensor.name == "momentum" ? "momentum.0" : tensor.name;
      const bool is_parameter = name.rfind("param.", 0) == 0;
      const bool is_momentum = name.rfind("momentum.", 0) == 0;
      if (!is_parameter && !is_momentum) continue;
      const size_t index = std::stoul(name.substr(name.find('.') + 1));
      if (index > 4096) throw Error("tensor " + tensor.name + " is out of range");
      auto& list = is_parameter ? state.parameters : state.momentum;
      if (list.size() <= index) list.resize(index + 1);
      list[index] = tensor_of(tensor);
    }
    if (state.parameters.empty()) throw Error("it holds no trained tensor");
    for (const auto& parameter : state.parameters) {
      if (!parameter.defined()) throw Error("a trained tensor is missing");
    }
    return state;
  } catch (const std::exception& e) {
    log_warning(path + ": cannot resume from this checkpoint (" + e.what() + "); the task starts over");
    return std::nullopt;
  }
}

}  // namespace pg::orchestrator
