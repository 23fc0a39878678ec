#include "worker/lr_schedule.h"

#include <cmath>
#include <string>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {

namespace {
constexpr double kPi = 3.14159265358979323846;

}  // namespace

double coop_learning_rate(int epoch, const LrScheduleOptions& options) {
  if (!(options.base_lr > 0) || !std::isfinite(options.base_lr)) {
    throw Error("learning-rate schedule: base_lr = " + format_number(options.base_lr) +
                " must be a positive finite number (CoOp uses 0.002)");
  }
  if (!(options.warmup_lr > 0) || !std::isfinite(options.warmup_lr)) {
    throw Error("learning-rate schedule: warmup_lr = " + format_number(options.warmup_lr) +
                " must be a positive finite number (CoOp uses 1e-5)");
  }
  if (options.max_epochs < 1) {
    throw Error("learning-rate schedule: max_epochs = " + std::to_string(options.max_epochs) + " must be at least 1");
  }
  if (options.warmup_epochs < 0) {
    throw Error("learning-rate schedule: warmup_epochs = " + std::to_string(options.warmup_epochs) +
                " must be 0 or more (CoOp uses 1)");
  }
  if (epoch < 0 || epoch >= options.max_epochs) {
    throw Error("learning-rate schedule: epoch " + std::to_string(epoch) + " is outside [0, " +
                std::to_string(options.max_epochs) + ")");
  }
  if (epoch < options.warmup_epochs) return options.warmup_lr;
  // warmup_recount: the cosine's own epoch counter starts at 0 when the warm-up ends. PyTorch's
  // special case at k = T + 1 is never reached (k < max_epochs).
  const int cosine_epochs = epoch - options.warmup_epochs;
  const int period = options.max_epochs;
  double lr = options.base_lr;
  for (int k = 1; k <= cosine_epochs; ++k) {
    lr = (1 + std::cos(kPi * k / period)) / (1 + std::cos(kPi * (k - 1) / period)) * lr;
  }
  return lr;
}

}  // namespace pg::worker
