// The image dataset of the built-in synthetic benchmark: textures of 10 classes named as in DTD
// (banded, chequered, dotted...), drawn procedurally with random colours, scale, angle and noise, at
// random sizes, saved as JPEG and PNG under <folder>/<class>/, with a CoOp split file. What
// `features extract` runs on without downloads; the pattern, not the colour, tells the classes apart.
#pragma once

#include <cstdint>
#include <string>

namespace pg::orchestrator {

struct SyntheticImagesOptions {
  std::string images_folder;  // the dataset's image folder (CoOp's image_dir)
  std::string split_file;     // the split file to write (split_zhou_DescribableTextures.json)
  uint64_t seed = 2024;
  int train_per_class = 16;
  int val_per_class = 4;
  int test_per_class = 10;
};

// Writes the images and the split file; returns the number of images.
int write_synthetic_images(const SyntheticImagesOptions& options);

}  // namespace pg::orchestrator
