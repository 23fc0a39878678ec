// `promptgrid features extract`: images + CoOp split file -> CLIP image features in a feature store
// (orchestrator/feature_extraction.h). Runs alone or under mpirun (rank 0 writes, the others encode).
#include <CLI/CLI.hpp>
#include <memory>

#include "orchestrator/commands/commands.h"
#include "orchestrator/feature_extraction.h"

namespace pg::orchestrator {

void add_features_extract_command(CLI::App& features) {
  auto options = std::make_shared<ExtractionOptions>();
  auto* command = features.add_subcommand(
      "extract",
      "Encode a dataset's images with a CLIP image tower and add the features to a feature store, as the "
      "reference pipeline computes them (Dassl's read_image and CLIP's test transform; openai/CLIP's tower). "
      "Under mpirun -np N the images are shared among N-1 worker ranks and rank 0 writes the store; an "
      "interrupted extraction resumes from the units kept in <out>.extract-<dataset>/.");
  command->add_option("--images", options->images_root, "Image folder: split-file paths are relative to it")->required();
  command->add_option("--split", options->split_path, "CoOp split file (split_zhou_<Name>.json)")->required();
  command->add_option("--dataset", options->dataset, "Dataset name in the store (e.g. dtd, oxford_pets)")->required();
  command->add_option("--clip", options->checkpoint,
                      "CLIP weights with an image tower: OpenAI's .pt archive (ViT-B-16.pt, RN50.pt) or safetensors")
      ->required();
  command->add_option("--out", options->out, "Feature store: created, or the dataset added to it")->required();
  command->add_option("--backbone", options->backbone,
                      "Backbone name in the store (default: the tower's, e.g. ViT-B/16 or RN50)");
  command->add_option("--views", options->views,
                      "Augmented views per training image (Dassl's CoOp train transform), 0 to 1000")
      ->default_val(0)
      ->check(CLI::Range(0, 1000));
  command->add_option("--batch-size", options->batch_size, "Images per encoder pass (and per resumable unit)")
      ->default_val(64)
      ->check(CLI::Range(1, 4096));
  command->add_option("--device", options->device, "cpu, cuda or cuda:N (under mpirun, cuda gives each worker its GPU)")
      ->default_val("cpu");
  command->add_option("--precision", options->precision,
                      "Tower precision: fp16 (the reference's on CUDA) or fp32; default fp16 on CUDA, fp32 on the CPU")
      ->check(CLI::IsMember({"fp16", "fp32"}));
  command->add_option("--dtype", options->dtype, "Storage precision of the features: float16 or float32")
      ->default_val("float16")
      ->check(CLI::IsMember({"float16", "float32"}));
  command->add_option("--order", options->order,
                      "dassl: convert to RGB, then resize and crop (CoOp's data path, the default); clip: CLIP's "
                      "_transform (resize in the image's own mode, convert last)")
      ->default_val("dassl")
      ->check(CLI::IsMember({"dassl", "clip"}));
  command->add_option("--template", options->prompt_template,
                      "Zero-shot prompt template with {} (default: the catalog's for the dataset)");
  command->add_option("--source", options->source,
                      "A test-only dataset of the domain-generalization protocol: the dataset whose classes it uses; "
                      "only the split file's test images are extracted");
  command->add_option("--seed", options->seed, "Seed of the augmented views (0 or more)")
      ->default_val(1)
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  command->add_flag("--skip-bad", options->skip_bad,
                    "Leave missing or unreadable images out (listed in the store) instead of stopping");
  command->add_option("--threads", options->threads, "LibTorch threads (0: this rank's share of the cores)")
      ->default_val(0)
      ->check(CLI::Range(0, 4096));
  command->add_option("--decode-threads", options->decode_threads,
                      "Image-decoding threads, up to 256 (0: as many as LibTorch's)")
      ->default_val(0)
      ->check(CLI::Range(0, 256));
  command->add_flag("--keep-work", options->keep_work, "Keep <out>.extract-<dataset>/ after the store is written");
  command->callback([options] {
    const int code = extract_features(*options);
    if (code != 0) throw CommandExit{code};
  });
}

}  // namespace pg::orchestrator
