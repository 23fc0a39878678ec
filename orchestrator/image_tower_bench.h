// `promptgrid bench --image-tower vit-b16|rn50`: images/s of an image tower's forward pass (feature
// extraction) at OpenAI's ViT-B/16 or RN50 size, with random weights (the speed does not depend on
// them), on random images of its input resolution.
#pragma once

#include <cstdint>
#include <string>

namespace pg::orchestrator {

struct ImageTowerBenchOptions {
  std::string tower;  // vit-b16 | rn50
  int64_t batch = 8;
  int steps = 5;      // timed batches (their median is reported)
  int warmup = 2;     // untimed batches first
  std::string precision = "fp32";
  std::string device = "cpu";
};

// Checks the options (a pg::Error names the bad one, or a batch too large for this machine's memory),
// then times and prints.
void bench_image_tower(const ImageTowerBenchOptions& options);

}  // namespace pg::orchestrator
