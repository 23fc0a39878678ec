// CoOp's learning-rate schedule (Dassl's "cosine" with a constant warm-up and warmup_recount), as a pure
// function of the epoch so the trainer, the cost model and tests share one definition.
//
// Epochs e < warmup_epochs run at warmup_lr; afterwards the cosine restarts its own count at the end of
// the warm-up: lr(e) = 0.5 * base_lr * (1 + cos(pi * (e - warmup_epochs) / max_epochs)). With CoOp's
// defaults (1 warm-up epoch at 1e-5, base 0.002) epoch 1 runs at 0.002 and epoch E-1 at
// 0.001 * (1 + cos(pi * (E - 2) / E)). The schedule is stepped once per epoch, never per batch.
#pragma once

#include "common/coop_defaults.h"

namespace pg::worker {

struct LrScheduleOptions {
  double base_lr = coop_defaults::kLearningRate;
  int max_epochs = 50;
  double warmup_lr = coop_defaults::kWarmupLearningRate;
  int warmup_epochs = coop_defaults::kWarmupEpochs;
};

// Learning rate of epoch `epoch` (0-based). Invalid options or an epoch outside [0, max_epochs) are a
// pg::Error naming the field.
double coop_learning_rate(int epoch, const LrScheduleOptions& options);

}  // namespace pg::worker
