#include "orchestrator/image_pipeline_bench.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/error.h"
#include "orchestrator/torch_threads.h"
#include "worker/image/image.h"
#include "worker/image/image_writer.h"
#include "worker/image/transforms.h"

namespace pg::orchestrator {
namespace {

// A smooth colour field with noise: compresses like a photo rather than like a flat test card.
std::vector<uint8_t> photo_like(int width, int height, std::mt19937& random) {
  std::normal_distribution<double> noise(0.0, 8.0);
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const double value = 128 + 90 * std::sin(0.02 * x * (c + 1) + 0.03 * y) + noise(random);
        rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      }
    }
  }
  return rgb;
}

// Seconds to run `work(i)` for i in [0, count) on `threads` threads.
template <typename Work>
double time_parallel(int count, int threads, const Work& work) {
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> next{0};
  auto run = [&] {
    for (int i = next++; i < count; i = next++) work(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run);
  run();
  for (auto& thread : pool) thread.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void bench_image_pipeline(int images, int threads) {
  if (images < 1 || images > 100000) throw Error("bench: --images " + std::to_string(images) + ": use 1 to 100000");
  const int cores = threads > 0 ? threads : available_cores();
  const std::string folder =
      (std::filesystem::temp_directory_path() / ("promptgrid-bench-decode-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(folder);
  std::mt19937 random(7);
  std::vector<std::string> files;
  for (int i = 0; i < std::min(images, 16); ++i) {  // 16 distinct files, read round-robin
    const bool portrait = i % 2 == 1;
    const int width = portrait ? 375 : 500, height = portrait ? 500 : 375;
    const std::vector<uint8_t> rgb = photo_like(width, height, random);
    const bool png = i % 4 == 3;
    files.push_back(folder + "/" + std::to_string(i) + (png ? ".png" : ".jpg"));
    if (png) {
      image::write_png_rgb(files.back(), width, height, rgb);
    } else {
      image::write_jpeg_rgb(files.back(), width, height, rgb, 90);
    }
  }
  image::PreprocessOptions options;  // 224 px, Dassl's order
  auto test_transform = [&](int i) {
    image::preprocess_for_test(image::read_image_file(files[static_cast<size_t>(i) % files.size()]), options);
  };
  auto training_view = [&](int i) {
    image::preprocess_training_view(image::read_image_file(files[static_cast<size_t>(i) % files.size()]), options,
                                    static_cast<uint64_t>(i));
  };
  auto decode_only = [&](int i) { image::read_image_file(files[static_cast<size_t>(i) % files.size()]); };
  time_parallel(std::min(images, 16), 1, test_transform);  // warm the page cache
  std::printf("image pipeline: %d images (500x375 and 375x500; 3 JPEG q90 4:2:0 : 1 PNG) -> 224 px, Dassl's order\n",
              images);
  std::printf("%-34s %14s %14s %10s\n", "", "1 thread", (std::to_string(cores) + " threads").c_str(), "speed-up");
  for (const auto& [name, work] : {std::pair<const char*, std::function<void(int)>>{"decode only", decode_only},
                                   {"decode + test transform", test_transform},
                                   {"decode + training view (RRC+flip)", training_view}}) {
    const double one = static_cast<double>(images) / time_parallel(images, 1, work);
    const double all = static_cast<double>(images) / time_parallel(images, cores, work);
    std::printf("%-34s %10.1f i/s %10.1f i/s %9.2fx\n", name, one, all, all / one);
  }
  std::error_code ignored;
  std::filesystem::remove_all(folder, ignored);
}

}  // namespace pg::orchestrator
