// CoOp's learning-rate schedule (Dassl's "cosine" with a constant warm-up and warmup_recount), as a pure
// function of the epoch so the trainer, the cost model and tests share one definition.
//
// Epochs e < warmup_epochs run at warmup_lr; afterwards the cosine restarts its own count k at the end
// of the warm-up (k = e - warmup_epochs), and is PyTorch's CosineAnnealingLR (T_max = max_epochs,
// eta_min 0) as it runs in the reference: lr_0 = base_lr and, for k >= 1, the recursive update
//   lr_k = (1 + cos(pi * k / T)) / (1 + cos(pi * (k - 1) / T)) * lr_{k-1}
// evaluated in that order, so every epoch's rate is bit-identical to the reference's (golden test from
// torch itself: scripts/make_cosine_lr_golden.py). It equals the closed form
// 0.5 * base_lr * (1 + cos(pi * k / T)) up to rounding (about 1e-18). With CoOp's defaults (1 warm-up
// epoch at 1e-5, base 0.002) epoch 1 runs at 0.002. The schedule is stepped once per epoch.
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
