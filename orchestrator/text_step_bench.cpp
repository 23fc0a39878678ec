#include "orchestrator/text_step_bench.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/precision.h"
#include "orchestrator/bench_timing.h"
#include "orchestrator/device.h"
#include "text/tokenizer.h"
#include "worker/clip/random_clip.h"
#include "worker/methods/cocoop/cocoop.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/coop/packed_coop_training.h"
#include "worker/torch_dtype.h"

namespace pg::orchestrator {

// `tokens` letters: the class index in base 26.
std::vector<std::string> bench_class_names(int64_t classes, int64_t tokens) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) {
    std::string name(tokens, 'a');
    int64_t rest = c;
    for (int64_t i = tokens - 1; i >= 0 && rest > 0; --i, rest /= 26) name[i] = static_cast<char>('a' + rest % 26);
    names.push_back(name);
  }
  return names;
}

worker::TextEncoder random_text_tower(const TextBenchOptions& options, const text::Tokenizer& tokenizer, bool truncate) {
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

namespace {

// How the step runs the text encoder.
struct StepPath {
  const char* name;
  bool truncate;
  bool share_prefix;
  bool cuda_graph;  // the step replayed from a CUDA graph (a CUDA device only)
};
constexpr StepPath kWhole{"whole prompts, 77 tokens", false, false, false};
constexpr StepPath kTruncated{"whole prompts, truncated", true, false, false};
constexpr StepPath kSharedPrefix{"shared prefix", true, true, false};
constexpr StepPath kSharedPrefixGraph{"shared prefix, CUDA graph", true, true, true};

// FLOPs one step executes on a path. Forward: 24 W^2 per row and layer for the projections and MLP,
// 4 W per query row and key for attention, and the final projection. The weights are frozen, so the
// backward of a projection computes its input's gradient only (as much again), while attention's
// computes both operands' of both products (twice as much again). On the shared-prefix path the
// prefix rows run once, and the last layer runs only the EOT row of each prompt (keys and values of
// every row).
double step_flops(const TextBenchOptions& options, const StepPath& path, int64_t tokens) {
  const double w = static_cast<double>(options.width);
  const double n = static_cast<double>(options.classes);
  const double layers = static_cast<double>(options.layers);
  const double projection = 2.0 * w * static_cast<double>(options.embed_dim) * n;
  double matmuls = 0;    // forward FLOPs of the projections and MLPs
  double attention = 0;  // forward FLOPs of q k^T and p v
  if (!path.share_prefix) {
    const double l = static_cast<double>(tokens);
    matmuls = layers * n * 24.0 * l * w * w + projection;
    attention = layers * n * 4.0 * l * l * w;
  } else {
    const double p = static_cast<double>(1 + options.n_ctx);
    const double s = static_cast<double>(tokens) - p;
    matmuls = (layers - 1.0) * 24.0 * w * w * (p + n * s) + 6.0 * w * w * (p + n * s) + 18.0 * w * w * n + projection;
    attention = (layers - 1.0) * 4.0 * w * (p * p + n * s * (p + s)) + 4.0 * w * n * (p + s);
  }
  return 2.0 * matmuls + 3.0 * attention;
}

struct Timing {
  int64_t tokens = 0;
  double ms_per_step = 0;
  double gflops = 0;
};

Timing time_steps(const TextBenchOptions& options, const StepPath& path) {
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  worker::TextEncoder encoder = random_text_tower(options, tokenizer, path.truncate);

  worker::CoOpOptions coop;
  coop.n_ctx = options.n_ctx;
  coop.truncate_after_eot = path.truncate;
  coop.share_prefix = path.share_prefix;
  worker::CoOpPromptLearner learner(coop, bench_class_names(options.classes, options.name_tokens), tokenizer, encoder, 1);
  worker::TrainOptions train;
  train.device = device;
  train.dtype = dtype;
  train.cuda_graph = path.cuda_graph;
  worker::CoOpTrainStep step(learner, encoder, train);
  const torch::Tensor features = torch::randn({options.batch, options.embed_dim}).to(device);
  const torch::Tensor labels = torch::randint(options.classes, {options.batch}, torch::kInt64).to(device);

  Timing timing;
  timing.tokens = learner->prompt_length();
  timing.ms_per_step =
      median_ms_of_runs(options.warmup, options.steps, [&] { step.step(features, labels).item<float>(); });
  timing.gflops = step_flops(options, path, timing.tokens) / (timing.ms_per_step * 1e6);
  if (path.cuda_graph && !step.graphed()) {
    log_warning("bench: the CUDA graph could not be recorded (see above); the row '" + std::string(path.name) +
                "' timed launched steps");
  }
  return timing;
}

void print_row(const TextBenchOptions& options, const StepPath& path, const Timing& timing, double baseline_ms) {
  std::printf("%-26s %7lld %11.2f %10.1f", path.name, static_cast<long long>(timing.tokens), timing.ms_per_step,
              timing.gflops);
  if (options.peak_tflops > 0) std::printf(" %7.2f%%", 100.0 * timing.gflops / (1000.0 * options.peak_tflops));
  std::printf(" %9.2fx\n", baseline_ms / timing.ms_per_step);
}

// Bytes a step needs, roughly: float32 weights, plus activations kept for the backward pass (about 24
// values per token, width and layer: attention, MLP and norms).
double step_bytes(const TextBenchOptions& options) {
  const double w = static_cast<double>(options.width);
  const double weights = 4.0 * (12.0 * w * w * static_cast<double>(options.layers) + 514.0 * w + 77.0 * w);
  const double sequences = static_cast<double>(options.classes) *
                           (options.method == "cocoop" ? static_cast<double>(std::max(options.batch, std::min(
                                                              options.test_images, options.max_sequences / options.classes + 1)))
                                                       : static_cast<double>(std::max<int64_t>(1, options.pack)));
  const double tokens = sequences * static_cast<double>(1 + options.n_ctx + options.name_tokens + 2);
  const double activations = 4.0 * 24.0 * tokens * w * static_cast<double>(options.layers);
  return weights + activations;
}

}  // namespace

// Every size is checked before LibTorch sees it: an impossible one is a message, not an allocation
// failure with a C++ backtrace.
void check_text_bench_options(const TextBenchOptions& options) {
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
  require_range("--pack", options.pack, 0, 100'000);
  require_range("--test-images", options.test_images, 1, 1'000'000);
  require_range("--max-sequences", options.max_sequences, 1, 100'000'000);
  if (!(options.peak_tflops >= 0)) throw Error("bench: --peak-tflops must be a number >= 0 (0: not known)");
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

void bench_coop_step(const TextBenchOptions& options) {
  std::printf("text tower width %lld, %lld layers, %lld classes, n_ctx %lld, %lld name tokens, batch %lld, %s on %s "
              "(%d threads)\n",
              static_cast<long long>(options.width), static_cast<long long>(options.layers),
              static_cast<long long>(options.classes), static_cast<long long>(options.n_ctx),
              static_cast<long long>(options.name_tokens), static_cast<long long>(options.batch),
              options.precision.c_str(), options.device.c_str(), torch::get_num_threads());
  std::printf("%-26s %7s %11s %10s%s %10s\n", "encoder path", "tokens", "ms/step", "GFLOP/s",
              options.peak_tflops > 0 ? "  of peak" : "", "speed-up");
  std::vector<StepPath> paths;
  if (options.truncate != "on") paths.push_back(kWhole);
  if (options.truncate != "off") {
    paths.push_back(kTruncated);
    paths.push_back(kSharedPrefix);
    if (parse_device(options.device).is_cuda()) paths.push_back(kSharedPrefixGraph);
  }
  double baseline_ms = 0;
  for (const StepPath& path : paths) {
    const Timing timing = time_steps(options, path);
    if (baseline_ms == 0) baseline_ms = timing.ms_per_step;
    print_row(options, path, timing, baseline_ms);
  }
  std::printf("GFLOP/s counts the work each path executes; speed-up is against the first row.\n");
}

void bench_packed_coop(const TextBenchOptions& options) {
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  worker::TextEncoder encoder = random_text_tower(options, tokenizer, /*truncate=*/true);
  const std::vector<std::string> names = bench_class_names(options.classes, options.name_tokens);
  worker::CoOpOptions prompt;
  prompt.n_ctx = options.n_ctx;
  // R runs of `epochs` one-batch epochs each, seeds 1..R, data of the batch size.
  const auto make_runs = [&](int epochs) {
    std::vector<worker::PackedCoOpRun> runs;
    for (int64_t r = 0; r < options.pack; ++r) {
      worker::TrainOptions train;
      train.device = device;
      train.dtype = dtype;
      train.epochs = epochs;
      train.batch_size = static_cast<int>(options.batch);  // one batch per epoch: a step per epoch
      train.seed = static_cast<uint64_t>(r + 1);
      train.cuda_graph = false;  // packed runs launch their kernels: so do the runs they are compared with
      worker::TrainingData data{torch::randn({options.batch, options.embed_dim}), torch::Tensor(),
                                torch::randint(options.classes, {options.batch}, torch::kInt64)};
      runs.push_back({worker::CoOpPromptLearner(prompt, names, tokenizer, encoder, train.seed), data, train});
    }
    return runs;
  };
  const auto separate = [&](int epochs) {
    std::vector<worker::PackedCoOpRun> runs = make_runs(epochs);
    for (auto& run : runs) worker::train_coop(run.learner, encoder, run.data, run.options);
  };
  const auto packed = [&](int epochs) {
    std::vector<worker::PackedCoOpRun> runs = make_runs(epochs);
    for (const auto& result : worker::train_coop_packed(runs, encoder)) {
      if (!result.report) throw Error("bench: a packed run failed: " + result.error);
    }
  };
  separate(std::max(1, options.warmup));
  packed(std::max(1, options.warmup));
  const double separate_ms = time_ms([&] { separate(options.steps); });
  const double packed_ms = time_ms([&] { packed(options.steps); });
  const double run_steps = static_cast<double>(options.pack * options.steps);
  std::printf("CoOp, %lld runs of %lld classes, batch %lld, %d steps each; text tower width %lld, %lld layers, %s on %s "
              "(%d threads)\n",
              static_cast<long long>(options.pack), static_cast<long long>(options.classes),
              static_cast<long long>(options.batch), options.steps, static_cast<long long>(options.width),
              static_cast<long long>(options.layers), options.precision.c_str(), options.device.c_str(),
              torch::get_num_threads());
  // The work of one run-step: a shared-prefix step of one run (the path both ways take).
  const int64_t tokens = worker::CoOpPromptLearner(prompt, names, tokenizer, encoder, 1)->prompt_length();
  const double run_step_flops = step_flops(options, kSharedPrefix, tokens);
  std::printf("%-28s %12s %13s %10s%s\n", "", "run-steps/s", "ms/run-step", "GFLOP/s",
              options.peak_tflops > 0 ? "  of peak" : "");
  const auto print_rate = [&](const char* name, double ms) {
    const double gflops = run_steps * run_step_flops / (ms * 1e6);
    std::printf("%-28s %12.1f %13.2f %10.1f", name, 1000.0 * run_steps / ms, ms / run_steps, gflops);
    if (options.peak_tflops > 0) std::printf(" %7.2f%%", 100.0 * gflops / (1000.0 * options.peak_tflops));
    std::printf("\n");
  };
  print_rate("one run at a time", separate_ms);
  print_rate("packed", packed_ms);
  std::printf("packing speed-up: %.2fx (whole trainings, setup included, both on the shared-prefix path)\n",
              separate_ms / packed_ms);
}

// CoCoOp: a training step of `batch` images, and classifying `test_images` images batched and one at a
// time (the reference's loop), each timed as the median of `steps` runs.
void bench_cocoop(const TextBenchOptions& options) {
  std::printf("CoCoOp, text tower width %lld, %lld layers, %lld classes, n_ctx %lld, %lld name tokens, %s on %s "
              "(%d threads)\n",
              static_cast<long long>(options.width), static_cast<long long>(options.layers),
              static_cast<long long>(options.classes), static_cast<long long>(options.n_ctx),
              static_cast<long long>(options.name_tokens), options.precision.c_str(), options.device.c_str(),
              torch::get_num_threads());
  const torch::Device device = parse_device(options.device);
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  worker::TextEncoder encoder = random_text_tower(options, tokenizer, /*truncate=*/true);
  worker::CoOpOptions prompt_options;
  prompt_options.n_ctx = options.n_ctx;
  worker::CoOpPromptLearner prompts(prompt_options, bench_class_names(options.classes, options.name_tokens), tokenizer,
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
  const double step_ms =
      median_ms_of_runs(options.warmup, options.steps, [&] { sgd.step(features, labels).item<float>(); });

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

}  // namespace pg::orchestrator
