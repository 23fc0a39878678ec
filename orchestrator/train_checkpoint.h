// Checkpoints of a running SGD-trained task (CoOp, KgCoOp, CoCoOp), so that an interrupted sweep resumes a long task where it was
// (DESIGN §4): DIR/checkpoints/<task_id>.h5 in the learned-prompt format (storage/prompt_store.h), with
// tensors "param.<i>" and "momentum.<i>" (the trained tensors in order) and, as its JSON, the task's spec and the trainer's state (next epoch,
// RNG state, losses so far). Written atomically; removed by the coordinator once the task's record is
// in the journal.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "worker/prompt_training.h"

namespace pg::orchestrator {

void save_train_checkpoint(const std::string& path, const nlohmann::json& spec, const worker::TrainState& state);
// The state saved at `path` for this very spec; nothing when there is no file. A damaged file, or one
// of another spec, is reported (a warning) and gives nothing: the task starts over.
std::optional<worker::TrainState> load_train_checkpoint(const std::string& path, const nlohmann::json& spec);

}  // namespace pg::orchestrator
