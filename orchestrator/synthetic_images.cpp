#include "orchestrator/synthetic_images.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "common/files.h"
#include "worker/image/image_writer.h"

namespace pg::orchestrator {
namespace {

const std::vector<std::string> kClasses = {"banded",  "chequered",    "crosshatched", "dotted",     "grid",
                                           "lined",   "polka-dotted", "spiralled",    "striped",    "zigzagged"};

double fraction(double value) { return value - std::floor(value); }

// How much of the foreground colour pixel (u, v) of a texture of class `label` takes, in [0, 1];
// (u, v) are already rotated and scaled by the image's own angle and period.
double texture(int label, double u, double v, double x, double y, double phase) {
  switch (label) {
    case 0: return fraction(u) < 0.5 ? 1.0 : 0.0;                                        // banded: wide bands
    case 1: return (fraction(u) < 0.5) != (fraction(v) < 0.5) ? 1.0 : 0.0;               // chequered
    case 2: return (fraction(u + v) < 0.15 || fraction(u - v) < 0.15) ? 1.0 : 0.0;        // crosshatched
    case 3: return std::hypot(fraction(u) - 0.5, fraction(v) - 0.5) < 0.15 ? 1.0 : 0.0;  // dotted: small dots
    case 4: return (fraction(u) < 0.12 || fraction(v) < 0.12) ? 1.0 : 0.0;                // grid
    case 5: return fraction(u) < 0.12 ? 1.0 : 0.0;                                        // lined: thin lines
    case 6: return std::hypot(fraction(u) - 0.5, fraction(v) - 0.5) < 0.35 ? 1.0 : 0.0;  // polka-dotted: discs
    case 7: {                                                                             // spiralled
      const double r = std::hypot(x, y), theta = std::atan2(y, x);
      return fraction(r / 6.0 + theta / (2 * M_PI) + phase) < 0.5 ? 1.0 : 0.0;
    }
    case 8: return fraction(3.0 * u) < 0.5 ? 1.0 : 0.0;                                   // striped: narrow
    default: {                                                                            // zigzagged
      const double zig = std::abs(fraction(v) - 0.5) * 2.0;
      return fraction(u + 0.6 * zig) < 0.4 ? 1.0 : 0.0;
    }
  }
}

std::vector<uint8_t> draw(int label, int width, int height, std::mt19937_64& random) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 6.0);
  const double period = 8.0 + 10.0 * unit(random);
  const double angle = M_PI * unit(random);
  const double phase = unit(random);
  double foreground[3], background[3];
  for (int c = 0; c < 3; ++c) {
    foreground[c] = 255.0 * unit(random);
    background[c] = 255.0 * unit(random);
  }
  // Keep the two colours apart so that every texture is visible.
  if (std::abs(foreground[0] + foreground[1] + foreground[2] - background[0] - background[1] - background[2]) < 150) {
    for (double& value : foreground) value = 255.0 - value * 0.3;
    for (double& value : background) value *= 0.3;
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  const double cx = width / 2.0 + (unit(random) - 0.5) * 10, cy = height / 2.0 + (unit(random) - 0.5) * 10;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double dx = x - cx, dy = y - cy;
      const double u = (dx * std::cos(angle) + dy * std::sin(angle)) / period + phase;
      const double v = (-dx * std::sin(angle) + dy * std::cos(angle)) / period;
      const double t = texture(label, u, v, dx, dy, phase);
      for (int c = 0; c < 3; ++c) {
        const double value = t * foreground[c] + (1 - t) * background[c] + noise(random);
        rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      }
    }
  }
  return rgb;
}

}  // namespace

int write_synthetic_images(const SyntheticImagesOptions& options) {
  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<int> side(40, 120);
  nlohmann::json split_file = {{"train", nlohmann::json::array()}, {"val", nlohmann::json::array()},
                               {"test", nlohmann::json::array()}};
  int written = 0;
  for (int label = 0; label < static_cast<int>(kClasses.size()); ++label) {
    const std::string& name = kClasses[static_cast<size_t>(label)];
    make_directories(options.images_folder + "/" + name);
    int index = 0;
    for (const auto& [split, count] : {std::pair<std::string, int>{"train", options.train_per_class},
                                       {"val", options.val_per_class},
                                       {"test", options.test_per_class}}) {
      for (int i = 0; i < count; ++i, ++index) {
        const int width = side(random), height = side(random);
        const std::vector<uint8_t> rgb = draw(label, width, height, random);
        // Mostly JPEG, as real datasets are; every third a PNG.
        const bool png = index % 3 == 2;
        char file[64];
        std::snprintf(file, sizeof(file), "%s_%04d.%s", name.c_str(), index, png ? "png" : "jpg");
        const std::string relpath = name + "/" + file;
        if (png) {
          image::write_png_rgb(options.images_folder + "/" + relpath, width, height, rgb);
        } else {
          image::write_jpeg_rgb(options.images_folder + "/" + relpath, width, height, rgb, 90);
        }
        split_file[split].push_back({relpath, label, name});
        ++written;
      }
    }
  }
  write_json_file_atomic(options.split_file, split_file);
  return written;
}

}  // namespace pg::orchestrator
