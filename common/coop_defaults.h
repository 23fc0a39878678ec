// CoOp's published settings (Zhou et al. 2022; DESIGN §1), in one place for every layer that needs a
// default: the task spec (sweeps/), the prompt learner and trainer (worker/), the CLI and the tables
// (which name a setting only when it differs from these).
#pragma once

namespace pg::coop_defaults {

constexpr int kContextVectors = 16;         // M, with random N(0, 0.02) init
constexpr double kContextInitStd = 0.02;
constexpr const char* kClassTokenPosition = "end";
constexpr int kBatchSize = 32;
constexpr double kLearningRate = 0.002;     // SGD base learning rate
constexpr double kMomentum = 0.9;
constexpr double kWeightDecay = 5e-4;
constexpr double kWarmupLearningRate = 1e-5;  // epoch 0 (constant warm-up)
constexpr int kWarmupEpochs = 1;
constexpr const char* kPrecision = "fp32";
// Epochs by shots (ImageNet: 50 always) live in sweeps/catalog.h (coop_epochs): they depend on the dataset.

}  // namespace pg::coop_defaults
