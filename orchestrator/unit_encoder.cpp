#include "orchestrator/unit_encoder.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <future>
#include <thread>

#include "common/error.h"
#include "common/hash.h"
#include "worker/image/image.h"

namespace pg::orchestrator {

uint64_t view_seed(uint64_t seed, const std::string& dataset, const std::string& relpath, int view) {
  ContentHasher hasher(seed);
  hasher.update_field(dataset);
  hasher.update_field(relpath);
  hasher.update_field(std::to_string(view));
  return hasher.digest();
}

// A unit's images, preprocessed: [rows, 3, n, n] float32 (a failed image's slot is left zero).
struct UnitEncoder::Prepared {
  std::vector<float> pixels;
  std::vector<FailedImage> failed;
};

UnitEncoder::UnitEncoder(worker::ImageEncoder encoder, torch::Device device, ImageSource source, int decode_threads)
    : encoder_(std::move(encoder)), device_(device), source_(std::move(source)),
      decode_threads_(std::clamp(decode_threads, 1, 256)) {}

UnitEncoder::Prepared UnitEncoder::prepare(const ExtractionUnit& unit) const {
  const int64_t n_px = source_.preprocess.n_px;
  const int64_t image_values = 3 * n_px * n_px;
  const std::vector<sweeps::SplitItem>& items = source_.split_file->split(unit.split);
  Prepared prepared;
  prepared.pixels.assign(static_cast<size_t>(unit.rows * image_values), 0.0f);
  std::vector<std::string> reasons(static_cast<size_t>(unit.rows));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t row = next++; row < unit.rows; row = next++) {
      const sweeps::SplitItem& item = items[static_cast<size_t>(unit.first_row + row)];
      const std::string path = source_.images_root + "/" + item.relpath;
      try {
        const image::Image decoded = image::read_image_file(path);
        const std::vector<float> values =
            unit.view < 0 ? image::preprocess_for_test(decoded, source_.preprocess)
                          : image::preprocess_training_view(
                                decoded, source_.preprocess,
                                view_seed(source_.seed, source_.dataset, item.relpath, unit.view));
        std::copy(values.begin(), values.end(), prepared.pixels.begin() + row * image_values);
      } catch (const Error& e) {
        reasons[static_cast<size_t>(row)] = e.what();
      } catch (const std::bad_alloc&) {
        reasons[static_cast<size_t>(row)] = path + ": out of memory while decoding it";
      } catch (const std::exception& e) {  // nothing may escape a thread: it would end the process
        reasons[static_cast<size_t>(row)] = path + ": " + e.what();
      }
    }
  };
  const int helpers = static_cast<int>(std::min<int64_t>(decode_threads_, unit.rows)) - 1;
  {
    // Joined however this scope is left (a thread that cannot be started throws from emplace_back).
    struct Joined {
      std::vector<std::thread> threads;
      ~Joined() {
        for (auto& thread : threads) thread.join();
      }
    } pool;
    try {
      for (int i = 0; i < helpers; ++i) pool.threads.emplace_back(work);
    } catch (const std::system_error&) {
      // Fewer threads than asked for: the ones started (and this one) do the work.
    }
    work();
  }
  for (int64_t row = 0; row < unit.rows; ++row) {
    if (!reasons[static_cast<size_t>(row)].empty()) prepared.failed.push_back({row, reasons[static_cast<size_t>(row)]});
  }
  return prepared;
}

UnitResult UnitEncoder::encode_prepared(int64_t index, const ExtractionUnit& unit, Prepared prepared) {
  const int64_t n_px = source_.preprocess.n_px;
  const int64_t dim = encoder_.embed_dim();
  UnitResult result;
  result.unit = index;
  result.rows = unit.rows;
  result.dim = dim;
  result.features.assign(static_cast<size_t>(unit.rows * dim), 0.0f);
  result.failed = std::move(prepared.failed);
  std::vector<int64_t> readable;
  size_t next_failure = 0;
  for (int64_t row = 0; row < unit.rows; ++row) {
    if (next_failure < result.failed.size() && result.failed[next_failure].row == row) {
      ++next_failure;
    } else {
      readable.push_back(row);
    }
  }
  if (readable.empty()) return result;
  torch::NoGradGuard no_grad;
  torch::Tensor images = torch::from_blob(prepared.pixels.data(), {unit.rows, 3, n_px, n_px}, torch::kFloat32);
  if (static_cast<int64_t>(readable.size()) != unit.rows) {
    images = images.index_select(0, torch::tensor(readable, torch::kInt64));
  }
  const torch::Tensor features = encoder_.forward(images.to(device_)).to(torch::kCPU, torch::kFloat32).contiguous();
  for (size_t i = 0; i < readable.size(); ++i) {
    std::copy(features.data_ptr<float>() + static_cast<int64_t>(i) * dim,
              features.data_ptr<float>() + static_cast<int64_t>(i + 1) * dim,
              result.features.begin() + readable[i] * dim);
  }
  return result;
}

void UnitEncoder::encode(const std::vector<ExtractionUnit>& plan, const std::vector<int64_t>& indices,
                         const std::function<void(UnitResult)>& done) {
  if (indices.empty()) return;
  auto start = [&](int64_t index) {
    return std::async(std::launch::async, [this, &plan, index] { return prepare(plan[static_cast<size_t>(index)]); });
  };
  std::future<Prepared> upcoming = start(indices[0]);
  for (size_t i = 0; i < indices.size(); ++i) {
    Prepared prepared = upcoming.get();
    if (i + 1 < indices.size()) upcoming = start(indices[i + 1]);  // decoded while this unit encodes
    done(encode_prepared(indices[i], plan[static_cast<size_t>(indices[i])], std::move(prepared)));
  }
}

}  // namespace pg::orchestrator
