// `promptgrid bench`: the CoOp training step of a random text tower, the encoder's ways of running it
// side by side (orchestrator/text_step_bench.h); with --method cocoop, CoCoOp's training and test
// images/s; with --image-tower vit-b16|rn50, the image tower's forward images/s (feature extraction,
// orchestrator/image_tower_bench.h); with --decode, image decoding and preprocessing
// (orchestrator/image_pipeline_bench.h). Every timing is a median of runs in this one process.
#include <CLI/CLI.hpp>
#include <memory>

#include "common/error.h"

#include "orchestrator/commands/commands.h"
#include "orchestrator/image_pipeline_bench.h"
#include "orchestrator/image_tower_bench.h"
#include "orchestrator/sharded_step_bench.h"
#include "orchestrator/text_step_bench.h"
#include "orchestrator/torch_threads.h"

namespace pg::orchestrator {
namespace {

// The command line's options: the text tower's, and those of the other benchmarks.
struct BenchOptions : TextBenchOptions {
  int threads = 0;
  std::string image_tower;  // vit-b16 | rn50: time the image tower instead (empty: the text tower)
  bool decode = false;      // time image decoding and preprocessing instead
  bool shard = false;       // under mpirun: one step class-sharded over the ranks against rank 0 alone
  int images = 400;         // decode: images timed
};

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand(
      "bench",
      "Time one CoOp training step (text encoder forward over all class prompts + backward to the context + SGD) "
      "for a random text tower; prints the median ms/step and GFLOP/s of whole 77-token prompts (the reference's "
      "way), prompts truncated after the last EOT, and the shared [SOT, context] prefix computed once. Defaults: "
      "ViT-B/16's text tower, 10 classes. With --image-tower vit-b16|rn50: the images/s of a "
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
  command->add_option("--truncate", options->truncate,
                      "both | on (truncated and shared-prefix rows) | off (whole 77-token prompts only)")
      ->default_val("both");
  command->add_option("--peak-tflops", options->peak_tflops,
                      "The device's dense peak TFLOP/s at --precision, to print the fraction reached (H100/H200 SXM "
                      "bf16: 989)")
      ->default_val(0);
  command->add_option("--pack", options->pack,
                      "R > 0: run-steps/s of R CoOp runs trained packed (one text-encoder pass per step for all) "
                      "against the same runs one at a time, --steps one-batch epochs each")
      ->default_val(0);
  command->add_flag("--shard", options->shard,
                    "Under mpirun -np K: the CoOp step class-sharded over the K ranks (MPI collectives) against rank "
                    "0 alone with all K ranks' threads (--threads: per rank, default 1); --device cuda: one GPU per "
                    "rank, NCCL");
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
    check_text_bench_options(*options);
    if ((options->shard || options->pack > 0) && (options->method != "coop" || command->count("--truncate") > 0)) {
      throw Error("bench: --shard and --pack time CoOp steps on the shared-prefix path; drop --method and --truncate");
    }
    if (options->shard && options->pack > 0) throw Error("bench: --shard and --pack are two benchmarks; give one");
    set_torch_threads(options->threads);
    if (options->shard) {
      bench_sharded_coop_step(*options, options->threads > 0 ? options->threads : 1);
    } else if (options->pack > 0) {
      bench_packed_coop(*options);
    } else if (options->method == "cocoop") {
      bench_cocoop(*options);
    } else {
      bench_coop_step(*options);
    }
  });
}

}  // namespace pg::orchestrator
