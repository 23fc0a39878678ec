// How long a task will take, before it runs: the coordinator hands out the most expensive tasks first
// (longest-processing-time scheduling) and estimates the time left (DESIGN §4).
//
// The estimate counts the text encoder's floating-point work, which dominates prompt learning:
//   training   steps × classes trained × prompt tokens × F × 3   (forward, and backward to the context)
//   evaluation classes × prompt tokens × F + test images × classes × 2·D (scoring)
// with F the FLOPs per token of CLIP's text tower (12 layers of width 512: 24·12·512² ≈ 75.5 M), prompt
// tokens = SOT + context + longest class name + '.' + EOT (prompts are cut after the EOT), and the
// steps of CoOp's loader (batches per epoch × epochs). Only ratios matter to the ordering; the
// calibration below turns work into seconds as finished tasks report their times.
#pragma once

#include <cstdint>

#include "sweeps/dataset_facts.h"
#include "sweeps/task_spec.h"

namespace pg::sweeps {

// The size of a task's training step, which decides whether it packs with others (small) or splits
// across ranks (large): the classes trained on, and an estimate of the text encoder's activation
// memory for one step (the classes' prompts through CLIP's 12-layer, 512-wide text tower, kept for the
// backward pass, in the task's precision; without the shared prefix's saving, so an upper bound).
struct TrainingStep {
  int64_t classes = 0;
  double memory_bytes = 0;
};
TrainingStep estimated_step(const TaskSpec& spec, const DatasetFacts& dataset);

// The estimated work of a resolved task on a dataset, in FLOPs.
double estimated_flops(const TaskSpec& spec, const DatasetFacts& dataset);

// Seconds per FLOP, learned from finished tasks (the ratio of their summed times to their summed
// work, so long tasks weigh most); before the first one, a prior of 10 GFLOP/s.
class CostCalibration {
 public:
  void add(double flops, double seconds);
  double seconds(double flops) const;
  int samples() const { return samples_; }

 private:
  double flops_ = 0;
  double seconds_ = 0;
  int samples_ = 0;
};

}  // namespace pg::sweeps
