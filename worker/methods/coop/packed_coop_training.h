// Packed CoOp training: R CoOp runs trained together, one text-encoder pass per step for all of them.
// A 10-class step is far too small to keep a GPU (or a CPU's threads) busy; R of them side by side are
// not. Each run keeps everything its own, exactly as train_coop would train it alone (TrainingRun in
// prompt_training.h): few-shot data, seed and batch order, epochs, learning-rate schedule, SGD
// momentum and weight decay, checkpoints, report.
//
// At each step every unfinished run contributes its next batch; runs that have finished are left out
// (their context, momentum and weight decay do not move). Runs whose prompts fit together (the same
// classes and prompt layout: one context length, shared prefix or not) go through the encoder as one
// batch, their contexts stacked: with a shared [SOT, context] prefix, G prefixes over the one set of
// class suffixes (TextEncoder::forward_shared_prefix). The loss is the sum of the runs' mean losses,
// so each context's gradient is its own run's. A run whose loss turns NaN or infinite fails alone at
// the end of that epoch, as it would alone; the others go on.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "worker/clip/text_encoder.h"
#include "worker/methods/coop/coop_prompt_learner.h"
#include "worker/prompt_training.h"

namespace pg::worker {

struct PackedCoOpRun {
  CoOpPromptLearner learner;
  TrainingData data;
  // Every run's own; device and dtype must be the same in all runs (one encoder).
  TrainOptions options;
};

struct PackedRunResult {
  std::optional<TrainReport> report;    // set when the run finished
  std::string error;                    // set when it failed (bad data, a non-finite loss)
  std::optional<int> interrupted_epoch;  // set when a stop was requested before it finished (0-based)
};

// Trains each run's learner in place; `encoder` is placed on the runs' device in their dtype (as
// train_coop does). A stop_requested of any run that says stop ends every unfinished run (the caller
// saves what on_epoch_end gave it). Errors that concern all runs (none given, devices or dtypes that
// differ) are a pg::Error; a run's own are its result's error.
std::vector<PackedRunResult> train_coop_packed(std::vector<PackedCoOpRun>& runs, TextEncoder& encoder);

}  // namespace pg::worker
