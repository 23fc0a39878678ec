// `promptgrid bench`: times one CoOp training step (forward through the text encoder over every class
// prompt, cross-entropy, backward to the context, SGD) for a text tower of a given size, with and
// without truncating prompts after the last EOT; with --method cocoop, CoCoOp's training images/s and
// test images/s, batched (B images x C classes per pass) against the reference's one image at a time,
// in the same process; with --image-tower vit-b16|rn50, the image tower's forward images/s (feature
// extraction, orchestrator/image_tower_bench.h); with --decode, image decoding and preprocessing
// (orchestrator/image_pipeline_bench.h).
// The tower has random weights (the speed does not depend on their values), so no
// checkpoint is needed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "common/error.h"
#include "common/precision.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/device.h"
#include "orchestrator/bench_timing.h"
#include "orchestrator/image_pipeline_bench.h"
#include "orchestrator/image_tower_bench.h"
#include "orchestrator/torch_threads.h"
#include "worker/clip/random_clip.h"
#include "text/tokenizer.h"
#include "worker/methods/cocoop/cocoop.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/torch_dtype.h"

namespace pg::orchestrator {
namespace {

struct BenchOptions {
  int64_t width = 512;  // ViT-B/16's text tower
  int64_t layers = 12;
  int64_t heads = 0;  // 0: width / 64, as CLIP
  int64_t embed_dim = 512;
  int64_t classes = 10;
  int64_t n_ctx = 16;
  int64_t name_tokens = 3;
  int64_t batch = 32;
  int steps = 5;
  int warmup = 2;
  std::string precision = coop_defaults::kPrecision;
  std::string device = "cpu";
  std::string truncate = "both";
  int threads = 0;
  std::string method = "coop";   // coop | cocoop
  int64_t test_images = 64;      // cocoop: images classified per timed evaluation
  int64_t max_sequences = 4096;  // cocoop: prompt sequences per text-encoder pass
  std::string image_tower;       // vit-b16 | rn50: time the image tower instead (empty: the text tower)
  bool decode = false;           // time image decoding and preprocessing instead
  int images = 400;              // decode: images timed
};

// Distinct class names of exactly `tokens` byte-level tokens: `tokens` letters, the class index in base 26.
std::vector<std::string> class_names(int64_t classes, int64_t tokens) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) {
    std::string name(tokens, 'a');
    int64_t rest = c;
    for (int64_t i = tokens - 1; i >= 0 && rest > 0; --i, rest /= 26) name[i] = static_cast<char>('a' + rest % 26);
    names.push_back(name);
  }
  return names;
}

// Model FLOPs of one step: the forward pass (matmuls of every block over every prompt token, attention,
// projection) counted twice, since the backward computes input gradients only (frozen weights).
double step_flops(const BenchOptions& options, int64_t tokens) {
  const double w = static_cast<double>(options.width);
  const double l = static_cast<double>(tokens);
  const double per_prompt = options.layers * (24.0 * l * w * w + 4.0 * l * l * w) + 2.0 * w * options.embed_dim;
  return 2.0 * per_prompt * static_cast<double>(options.classes);
}

struct Timing {
  int64_t tokens = 0;
  double ms_per_step = 0;
  double gflops = 0;
};

// A text tower of the benchmark's size with random weights, for the byte-level tokenizer.
worker::TextEncoder random_encoder(const BenchOptions& options, const text::Tokenizer& tokenizer, bool truncate) {
  worker::TextEncoderOptions encoder_options;
  encoder_options.vocab_size = tokenizer.vocab_size();
  encoder_options.width = options.width;
  encoder_options.layers = options.layers;
  encoder_options.heads = options.heads > 0 ? options.heads : std::max<int64_t>(1, options.width / 64);
  encoder_options.embed_dim = options.embed_dim;
  encoder_options.truncate_after_eot = truncate;
  worker::TextEncoder encoder(encoder_options);
  encoder->load(worker::random_clip_text_tower(encoder_options, 1), "random text tower");
  return encoder;
}

Timing time_steps(const BenchOptions& options, bool truncate) {
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  worker::TextEncoder encoder = random_encoder(options, tokenizer, truncate);

  worker::CoOpOptions coop;
  coop.n_ctx = options.n_ctx;
  coop.truncate_after_eot = truncate;
  worker::CoOpPromptLearner learner(coop, class_names(options.classes, options.name_tokens), tokenizer, encoder, 1);
  worker::TrainOptions train;
  train.device = device;
  train.dtype = dtype;
  worker::CoOpTrainStep step(learner, encoder, train);
  const torch::Tensor features = torch::randn({options.batch, options.embed_dim}).to(device);
  const torch::Tensor labels = torch::randint(options.classes, {options.batch}, torch::kInt64).to(device);

  for (int i = 0; i < options.warmup; ++i) step.step(features, labels).item<float>();
  std::vector<double> times;
  for (int i = 0; i < options.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step.step(features, labels).item<float>();  // reading the loss waits for the device
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  Timing timing;
  timing.tokens = learner->prompt_length();
  timing.ms_per_step = times[times.size() / 2];
  timing.gflops = step_flops(options, timing.tokens) / (timing.ms_per_step * 1e6);
  return timing;
}

// CoCoOp: a training step of `batch` images, and classifying `test_images` images batched and one at a
// time (the reference's loop), each timed as the median of `steps` runs.
void bench_cocoop(const BenchOptions& options) {
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  worker::TextEncoder encoder = random_encoder(options, tokenizer, /*truncate=*/true);
  worker::CoOpOptions prompt_options;
  prompt_options.n_ctx = options.n_ctx;
  worker::CoOpPromptLearner prompts(prompt_options, class_names(options.classes, options.name_tokens), tokenizer,
                                    encoder, 1);
  worker::MetaNet meta_net(options.embed_dim, options.width, 1);
  worker::CoCoOpModel model(prompts, meta_net, encoder, device, dtype, options.max_sequences);
  worker::CoCoOpObjective objective(model);
  worker::TrainOptions train;
  train.device = device;
  train.dtype = dtype;
  worker::SgdStep sgd(objective, train);
  const torch::Tensor features = torch::randn({options.batch, options.embed_dim}).to(device);
  const torch::Tensor labels = torch::randint(options.classes, {options.batch}, torch::kInt64).to(device);
  std::vector<double> train_ms;
  for (int i = 0; i < options.warmup + options.steps; ++i) {
    const double ms = time_ms([&] { sgd.step(features, labels).item<float>(); });
    if (i >= options.warmup) train_ms.push_back(ms);
  }
  const double step_ms = median_ms(train_ms);

  torch::NoGradGuard no_grad;
  const torch::Tensor test = torch::randn({options.test_images, options.embed_dim}).to(device);
  const int64_t per_pass = model.images_per_pass();
  std::vector<double> batched_ms, single_ms;
  for (int i = 0; i < options.warmup + options.steps; ++i) {
    const double batched = time_ms([&] {
      for (int64_t begin = 0; begin < options.test_images; begin += per_pass) {
        model.logits(test.slice(0, begin, std::min(options.test_images, begin + per_pass))).sum().item<float>();
      }
    });
    const double single = time_ms([&] {
      for (int64_t image = 0; image < options.test_images; ++image) model.logits(test.slice(0, image, image + 1)).sum().item<float>();
    });
    if (i >= options.warmup) {
      batched_ms.push_back(batched);
      single_ms.push_back(single);
    }
  }
  const double batched = median_ms(batched_ms), single = median_ms(single_ms);
  std::printf("cocoop: %lld prompt tokens, %lld images per pass (max %lld sequences)\n",
              static_cast<long long>(prompts->prompt_length()), static_cast<long long>(per_pass),
              static_cast<long long>(options.max_sequences));
  std::printf("%-34s %12s %12s\n", "", "ms/image", "images/s");
  std::printf("%-34s %12.2f %12.1f\n", ("training, batch " + std::to_string(options.batch)).c_str(),
              step_ms / static_cast<double>(options.batch), 1000.0 * static_cast<double>(options.batch) / step_ms);
  std::printf("%-34s %12.2f %12.1f\n", "test, one image per pass (reference)", single / static_cast<double>(options.test_images),
              1000.0 * static_cast<double>(options.test_images) / single);
  std::printf("%-34s %12.2f %12.1f\n", "test, batched", batched / static_cast<double>(options.test_images),
              1000.0 * static_cast<double>(options.test_images) / batched);
  std::printf("batched test speed-up: %.2fx\n", single / batched);
}

// Bytes a step needs, roughly: float32 weights, plus activations kept for the backward pass (about 24
// values per token, width and layer: attention, MLP and norms).
double step_bytes(const BenchOptions& options) {
  const double w = static_cast<double>(options.width);
  const double weights = 4.0 * (12.0 * w * w * static_cast<double>(options.layers) + 514.0 * w + 77.0 * w);
  const double sequences = static_cast<double>(options.classes) *
                           (options.method == "cocoop" ? static_cast<double>(std::max(options.batch, std::min(
                                                              options.test_images, options.max_sequences / options.classes + 1)))
                                                       : 1.0);
  const double tokens = sequences * static_cast<double>(1 + options.n_ctx + options.name_tokens + 2);
  const double activations = 4.0 * 24.0 * tokens * w * static_cast<double>(options.layers);
  return weights + activations;
}

// Every size is checked before LibTorch sees it: an impossible one is a message, not an allocation
// failure with a C++ backtrace.
void check_bench_options(const BenchOptions& options) {
  require_range("--width", options.width, 1, 16384);
  require_range("--layers", options.layers, 1, 256);
  require_range("--heads", options.heads, 0, options.width);
  require_range("--embed-dim", options.embed_dim, 1, 16384);
  require_range("--classes", options.classes, 1, 1'000'000);
  require_range("--n-ctx", options.n_ctx, 1, 70);
  require_range("--name-tokens", options.name_tokens, 1, 74 - options.n_ctx);  // SOT, ctx, name, ".", EOT fit in 77
  require_range("--batch", options.batch, 1, 1'000'000);
  require_range("--steps", options.steps, 1, 1'000'000);
  require_range("--warmup", options.warmup, 0, 1'000'000);
  const int64_t heads = options.heads > 0 ? options.heads : std::max<int64_t>(1, options.width / 64);
  if (options.width % heads != 0) {
    throw Error("bench: --width " + std::to_string(options.width) + " is not divisible by " + std::to_string(heads) +
                " heads; pick --heads that divides it");
  }
  if (options.method != "coop" && options.method != "cocoop") {
    throw Error("bench: --method '" + options.method + "': use coop or cocoop");
  }
  require_range("--test-images", options.test_images, 1, 1'000'000);
  require_range("--max-sequences", options.max_sequences, 1, 100'000'000);
  if (options.truncate != "both" && options.truncate != "on" && options.truncate != "off") {
    throw Error("bench: --truncate '" + options.truncate + "': use both, on or off");
  }
  parse_precision(options.precision, "bench: --precision");
  if (options.device == "cpu") {
    const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    const double needed = step_bytes(options);
    if (needed > 0.8 * memory) {
      char text[160];
      std::snprintf(text, sizeof text, "bench: this tower and class count need about %.1f GiB, more than this "
                    "machine's %.1f GiB; use a smaller --width, --layers or --classes", needed / (1 << 30),
                    memory / (1 << 30));
      throw Error(text);
    }
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand(
      "bench",
      "Time one CoOp training step (text encoder forward over all class prompts + backward to the context + SGD) "
      "for a random text tower; prints the median ms/step and model GFLOP/s, with and without truncation after "
      "the last EOT. Defaults: ViT-B/16's text tower, 10 classes. With --image-tower vit-b16|rn50: the images/s of a "
      "random real-sized image tower's forward pass instead.");
  command->add_option("--width", options->width, "Text-tower width")->default_val(options->width);
  command->add_option("--layers", options->layers, "Text-tower layers")->default_val(options->layers);
  command->add_option("--heads", options->heads, "Attention heads (0: width / 64)")->default_val(0);
  command->add_option("--embed-dim", options->embed_dim, "Feature dimension")->default_val(options->embed_dim);
  command->add_option("--classes", options->classes, "Number of classes (prompts per step)")->default_val(options->classes);
  command->add_option("--n-ctx", options->n_ctx, "Context vectors")->default_val(options->n_ctx);
  command->add_option("--name-tokens", options->name_tokens, "Tokens per class name")->default_val(options->name_tokens);
  command->add_option("--batch,--batch-size", options->batch, "Images per step (--image-tower: per batch, default 8)")
      ->default_val(options->batch);
  command->add_option("--steps,--iterations", options->steps, "Timed steps (the median is reported)")
      ->default_val(options->steps);
  command->add_option("--warmup", options->warmup, "Untimed steps first")->default_val(options->warmup);
  command->add_option("--precision", options->precision, "fp32 | fp16 (CUDA) | bf16")->capture_default_str();
  command->add_option("--device", options->device, "cpu | cuda | cuda:N")->default_val("cpu");
  command->add_option("--truncate", options->truncate, "both | on | off")->default_val("both");
  command->add_option("--method", options->method,
                      "coop: one training step, truncation on/off; cocoop: training and test images/s, batched vs "
                      "one image at a time")
      ->default_val("coop");
  command->add_option("--test-images", options->test_images, "cocoop: images per timed evaluation")
      ->default_val(options->test_images);
  command->add_option("--max-sequences", options->max_sequences, "cocoop: prompt sequences per text-encoder pass")
      ->default_val(options->max_sequences);
  command->add_option("--image-tower", options->image_tower,
                      "vit-b16 | rn50: time a random real-sized image tower's forward pass (images/s) instead of "
                      "the text tower; uses --batch (default 8), --steps, --warmup, --device, --precision, --threads");
  command->add_flag("--decode", options->decode,
                    "Time feature extraction's CPU side instead: read + decode + preprocess images/s, on 1 thread and "
                    "on --threads (compare: /usr/bin/python3 scripts/bench_pil_preprocess.py)");
  command->add_option("--images", options->images, "decode: images timed")->default_val(options->images);
  add_threads_option(*command, options->threads);
  command->callback([options, command] {
    if (options->decode) {
      bench_image_pipeline(options->images, options->threads);
      return;
    }
    if (!options->image_tower.empty()) {
      ImageTowerBenchOptions tower;
      tower.tower = options->image_tower;
      if (command->count("--batch") > 0) tower.batch = options->batch;  // image batches are smaller than text ones
      tower.steps = options->steps;
      tower.warmup = options->warmup;
      tower.precision = options->precision;
      tower.device = options->device;
      set_torch_threads(options->threads);
      bench_image_tower(tower);
      return;
    }
    check_bench_options(*options);
    set_torch_threads(options->threads);
    if (options->method == "cocoop") {
      std::printf("CoCoOp, text tower width %lld, %lld layers, %lld classes, n_ctx %lld, %lld name tokens, %s on %s "
                  "(%d threads)\n",
                  static_cast<long long>(options->width), static_cast<long long>(options->layers),
                  static_cast<long long>(options->classes), static_cast<long long>(options->n_ctx),
                  static_cast<long long>(options->name_tokens), options->precision.c_str(), options->device.c_str(),
                  torch::get_num_threads());
      bench_cocoop(*options);
      return;
    }
    std::printf("text tower width %lld, %lld layers, %lld classes, n_ctx %lld, %lld name tokens, batch %lld, %s on %s (%d threads)\n",
                static_cast<long long>(options->width), static_cast<long long>(options->layers),
                static_cast<long long>(options->classes), static_cast<long long>(options->n_ctx),
                static_cast<long long>(options->name_tokens), static_cast<long long>(options->batch),
                options->precision.c_str(), options->device.c_str(), torch::get_num_threads());
    std::printf("%-10s %8s %12s %12s\n", "truncate", "tokens", "ms/step", "GFLOP/s");
    Timing off, on;
    if (options->truncate != "on") {
      off = time_steps(*options, false);
      std::printf("%-10s %8lld %12.2f %12.1f\n", "off", static_cast<long long>(off.tokens), off.ms_per_step, off.gflops);
    }
    if (options->truncate != "off") {
      on = time_steps(*options, true);
      std::printf("%-10s %8lld %12.2f %12.1f\n", "on", static_cast<long long>(on.tokens), on.ms_per_step, on.gflops);
    }
    if (options->truncate == "both") std::printf("truncation speed-up: %.2fx\n", off.ms_per_step / on.ms_per_step);
  });
}

}  // namespace pg::orchestrator
