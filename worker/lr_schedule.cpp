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
  // warmup_recount: the cosine's own epoch counter starts at 0 when the warm-up ends.
  const double cosine_epoch = epoch - options.warmup_epochs;
  return 0.5 * options.base_lr * (1.0 + std::cos(kPi * cosine_epoch / options.max_epochs));
}

}  // namespace pg::worker
