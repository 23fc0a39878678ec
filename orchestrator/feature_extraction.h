// `promptgrid features extract`: a dataset folder and CoOp's split file in, the dataset's CLIP image
// features in the feature store out, computed as the reference pipeline computes them (openai/CLIP's
// image tower, Dassl's read_image + CLIP's test transform; with --views, Dassl's training transform).
//
// Alone, one process decodes on a thread pool and encodes. Under mpirun with N > 1 ranks, rank 0
// hands each worker rank a deterministic share of the units (orchestrator/extraction_plan.h), keeps
// what they send back and alone writes the store; the result is byte-identical to one process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pg::orchestrator {

struct ExtractionOptions {
  std::string images_root;   // CoOp's image_dir: split-file paths are relative to it
  std::string split_path;    // split_zhou_<Name>.json
  std::string dataset;       // the name in the store
  std::string checkpoint;    // CLIP weights (.pt archive or safetensors) with an image tower
  std::string out;           // the store: created, or the dataset appended to it
  std::string backbone;      // the store's backbone name; empty: the tower's (ViT-B/16, RN50, ...)
  std::optional<std::string> prompt_template;  // default: the catalog's for the dataset
  std::string source;        // a test-only dataset (imagenet_sketch...): only its test split is extracted
  int views = 0;             // augmented views per training image
  int batch_size = 64;       // images per encoder pass, and per unit of resumable work
  std::string device = "cpu";
  std::string precision;     // "fp16" | "fp32"; empty: fp16 on CUDA (as the reference), fp32 on the CPU
  std::string dtype = "float16";   // the store's
  std::string order = "dassl";     // "dassl" (CoOp: RGB first) | "clip" (CLIP's _transform)
  int64_t seed = 1;                // of the augmented views (0 or more)
  bool skip_bad = false;           // leave unreadable images out (listed in the store) instead of failing
  int threads = 0;                 // LibTorch threads; 0: this rank's share of the cores
  int decode_threads = 0;          // image-decoding threads; 0: as many as LibTorch's
  bool keep_work = false;          // keep <out>.extract-<dataset>/ after publishing (for inspection)
};

// Returns the exit code. Every rank of an mpirun job calls it with the same options.
int extract_features(const ExtractionOptions& options);

}  // namespace pg::orchestrator
