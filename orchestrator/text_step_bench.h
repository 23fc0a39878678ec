// `promptgrid bench` for the text tower: one CoOp training step (text features of every class
// prompt, cross-entropy, backward to the context, SGD), run the ways the encoder can run it:
//   whole prompts, 77 tokens       the reference's way
//   whole prompts, truncated       rows after the last EOT dropped (TextEncoder, truncate_after_eot)
//   shared prefix                  [SOT, context] computed once per step (TextEncoder::forward_shared_prefix)
// and, with --method cocoop, CoCoOp's training and test images/s, batched (B images x C classes per
// pass) against the reference's one image at a time; with --pack R, R runs trained packed (one
// encoder pass per step for all) against the same runs one at a time. The tower has random weights (the speed does not
// depend on their values), so no checkpoint is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/coop_defaults.h"
#include "text/tokenizer.h"
#include "worker/clip/text_encoder.h"

namespace pg::orchestrator {

struct TextBenchOptions {
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
  std::string truncate = "both";  // on: the truncated and shared-prefix rows; off: the 77-token row
  double peak_tflops = 0;         // the device's dense peak for --precision, to report utilisation (0: not known)
  int64_t pack = 0;               // > 0: time this many CoOp runs packed against the same run one by one
  std::string method = "coop";    // coop | cocoop
  int64_t test_images = 64;       // cocoop: images classified per timed evaluation
  int64_t max_sequences = 4096;   // cocoop: prompt sequences per text-encoder pass
};

// Distinct class names of exactly `tokens` byte-level tokens each.
std::vector<std::string> bench_class_names(int64_t classes, int64_t tokens);
// A text tower of the options' size with random weights (the same on every call), for `tokenizer`.
worker::TextEncoder random_text_tower(const TextBenchOptions& options, const text::Tokenizer& tokenizer, bool truncate);

// Every size is checked before LibTorch sees it: an impossible one is a pg::Error, not an allocation
// failure with a C++ backtrace.
void check_text_bench_options(const TextBenchOptions& options);
// Prints the CoOp step table (--method coop).
void bench_coop_step(const TextBenchOptions& options);
// Prints run-steps per second of `pack` CoOp runs trained packed (train_coop_packed) against the same
// runs trained one after another (train_coop): each run `steps` epochs of one batch.
void bench_packed_coop(const TextBenchOptions& options);
// Prints CoCoOp's training and test images/s (--method cocoop).
void bench_cocoop(const TextBenchOptions& options);

}  // namespace pg::orchestrator
