// The built-in default benchmark: a small random CLIP (text and image towers) and a feature store of
// synthetic datasets named and sized like the real 11 (class counts of DESIGN §1), so that promptgrid
// runs end to end with no downloads and no GPU; plus a small image dataset of textures with its split
// file (orchestrator/synthetic_images.h), for `features extract` to run on.
//
// The image features are not noise: for each dataset a hidden "true" context of 16 vectors is put in
// front of every class name, the text encoder turns those prompts into class directions, and each
// image feature is its class direction plus Gaussian noise. Zero-shot CLIP, prompting with the
// dataset's template, sees the class names but not the hidden context; CoOp can learn a context that
// recovers it. That is what makes "CoOp beats zero-shot" a real, testable outcome here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::orchestrator {

struct SyntheticBenchmarkOptions {
  std::string out_dir;
  // Replace the files of an earlier benchmark in out_dir; without it, existing files are an error.
  bool force = false;
  uint64_t seed = 2024;
  std::vector<std::string> datasets;  // empty: all 11 of the catalog
  // Caps every dataset's class count (0: the real counts); the shifted test-only ImageNets keep their
  // share of the source's classes. For quick runs of every method and protocol.
  int max_classes = 0;
  // Text tower of the random CLIP (byte-level vocabulary of 514 tokens).
  int64_t width = 64;
  int64_t layers = 2;
  int64_t embed_dim = 64;
  // Image tower of the random CLIP: a small ResNet (one block per stage, 64 px) for the synthetic images.
  int64_t image_width = 16;
  int64_t hidden_context = 16;   // length of the hidden true context
  double hidden_context_std = 0.1;
  int train_per_class = 20;      // enough for 16 shots
  int val_per_class = 4;
  int test_per_class = 20;
  int train_views = 2;           // augmented views per training image (0: none)
  // Per-dimension noise std of the image features, relative to the mean distance between a class
  // direction and its nearest other class direction (0.25: a nearest pair is confused ~2% of the time).
  double noise = 0.25;
};

struct SyntheticBenchmarkFiles {
  std::string checkpoint;  // <out>/clip.safetensors (text and image towers)
  std::string vocab;       // <out>/vocab_bytes.txt (a vocabulary with no merges: byte-level)
  std::string features;    // <out>/features.h5
  std::string images;      // <out>/images: the texture images, one folder per class
  std::string split_file;  // <out>/split_zhou_DescribableTextures.json: their CoOp split file
};

// Writes the files, each published whole; if anything fails, the files this call wrote are
// removed again (and out_dir, if it created it and it is empty), so a failure leaves no half-filled folder.
SyntheticBenchmarkFiles write_synthetic_benchmark(const SyntheticBenchmarkOptions& options);

}  // namespace pg::orchestrator
