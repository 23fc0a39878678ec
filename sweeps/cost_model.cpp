#include "sweeps/cost_model.h"

#include <algorithm>
#include <sstream>

namespace pg::sweeps {
namespace {

constexpr double kFlopsPerToken = 24.0 * 12 * 512 * 512;
constexpr double kFeatureDim = 512;
constexpr double kPriorFlopsPerSecond = 10e9;

int64_t words(const std::string& text) {
  std::istringstream stream(text);
  std::string word;
  int64_t count = 0;
  while (stream >> word) ++count;
  return count;
}

}  // namespace

double estimated_flops(const TaskSpec& spec, const DatasetFacts& dataset) {
  const int64_t classes = std::max<int64_t>(1, dataset.num_classes);
  const bool base2novel = spec.protocol == "base2novel";
  const int64_t trained = base2novel ? (classes + 1) / 2 : classes;
  const auto setting = [&](const std::string& key, int fallback) {
    return spec.settings.contains(key) && spec.settings[key].is_number_integer() ? spec.settings[key].get<int>() : fallback;
  };
  const std::string init = spec.settings.contains("ctx_init") ? spec.settings["ctx_init"].get<std::string>() : "";
  // Prompt methods: their context; zero-shot and the probe: a template about as long as "a photo of a".
  const int64_t context = spec.settings.contains("n_ctx") ? (init.empty() ? setting("n_ctx", 4) : words(init)) : 4;
  const double tokens = static_cast<double>(3 + context + dataset.longest_name_tokens);
  const double classifier = static_cast<double>(classes) * tokens * kFlopsPerToken;
  const double scoring = static_cast<double>(dataset.test_images) * static_cast<double>(classes) * 2 * kFeatureDim;
  // CoCoOp's classifier is per image: every test image runs every class prompt through the encoder.
  const bool per_image = spec.method == "cocoop";
  const double evaluation = per_image ? static_cast<double>(dataset.test_images) * classifier + scoring
                                      : classifier + scoring;
  if (!spec.method_info().trains || !spec.settings.contains("epochs")) return evaluation;
  const int64_t per_class = std::min<int64_t>(spec.shots, std::max<int64_t>(1, dataset.fewest_train_images));
  const int64_t images = trained * per_class;
  const int64_t batch = std::max(1, setting("batch_size", 32));
  const int64_t batches = images >= batch ? images / batch : 1;
  const double steps = static_cast<double>(batches) * std::max(1, setting("epochs", 1));
  const double sequences_per_step = static_cast<double>(trained) * (per_image ? static_cast<double>(batch) : 1.0);
  return steps * sequences_per_step * tokens * kFlopsPerToken * 3 + evaluation;
}

void CostCalibration::add(double flops, double seconds) {
  if (!(flops > 0) || !(seconds >= 0)) return;
  flops_ += flops;
  seconds_ += seconds;
  ++samples_;
}

double CostCalibration::seconds(double flops) const {
  if (samples_ == 0 || !(seconds_ > 0)) return flops / kPriorFlopsPerSecond;
  return flops * seconds_ / flops_;
}

}  // namespace pg::sweeps
