#include "orchestrator/image_tower_bench.h"

#include <unistd.h>

#include <cstdio>
#include <vector>

#include "common/error.h"
#include "common/precision.h"
#include "orchestrator/bench_timing.h"
#include "orchestrator/device.h"
#include "worker/clip/image_encoder.h"
#include "worker/clip/random_clip.h"
#include "worker/torch_dtype.h"

namespace pg::orchestrator {
namespace {

// The image tower's forward pass (feature extraction) on random images of its input resolution:
// `warmup` untimed batches, then the median of `steps` timed ones.
void run_image_tower(const ImageTowerBenchOptions& options) {
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  worker::ImageEncoder encoder =
      options.tower == "vit-b16"
          ? worker::make_image_encoder(worker::random_clip_vit_tower(worker::VisionTransformerOptions(), 1),
                                       "random ViT-B/16 tower")
          : worker::make_image_encoder(worker::random_clip_resnet_tower(worker::ModifiedResNetOptions(), 1),
                                       "random RN50 tower");
  encoder.to_precision(device, dtype);
  torch::NoGradGuard no_grad;
  const int64_t resolution = encoder.input_resolution();
  const torch::Tensor images = torch::randn({options.batch, 3, resolution, resolution}).to(device);
  const double ms =
      median_ms_of_runs(options.warmup, options.steps, [&] { encoder.forward(images).sum().item<float>(); });
  std::printf("image tower %s (random weights), %lldpx, batch %lld, %s on %s (%d threads), %d warm-up + %d timed "
              "batches\n",
              encoder.architecture().c_str(), static_cast<long long>(resolution), static_cast<long long>(options.batch),
              options.precision.c_str(), options.device.c_str(), torch::get_num_threads(), options.warmup,
              options.steps);
  std::printf("%-12s %12s %12s\n", "", "ms/batch", "images/s");
  std::printf("%-12s %12.2f %12.2f\n", "median", ms, 1000.0 * static_cast<double>(options.batch) / ms);
}

// The image-tower benchmark's own checks: its sizes, and about 16 MB of activations per image on top of
// the weights (0.5 GB for ViT-B/16 and RN50 in float32).
void check_options(const ImageTowerBenchOptions& options) {
  if (options.tower != "vit-b16" && options.tower != "rn50") {
    throw Error("bench: --image-tower '" + options.tower + "': use vit-b16 or rn50");
  }
  require_range("--batch", options.batch, 1, 65536);
  require_range("--steps", options.steps, 1, 1'000'000);
  require_range("--warmup", options.warmup, 0, 1'000'000);
  parse_precision(options.precision, "bench: --precision");
  if (options.device == "cpu") {
    const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    const double needed = 0.5 * (1 << 30) + 16.0 * (1 << 20) * static_cast<double>(options.batch);
    if (needed > 0.8 * memory) {
      char text[160];
      std::snprintf(text, sizeof text, "bench: a batch of %lld images needs about %.1f GiB, more than this machine's "
                    "%.1f GiB; use a smaller --batch", static_cast<long long>(options.batch), needed / (1 << 30),
                    memory / (1 << 30));
      throw Error(text);
    }
  }
}

}  // namespace

void bench_image_tower(const ImageTowerBenchOptions& options) {
  check_options(options);
  run_image_tower(options);
}

}  // namespace pg::orchestrator
