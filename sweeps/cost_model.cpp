#include "sweeps/cost_model.h"

#include <algorithm>
#include <sstream>

namespace pg::sweeps {
namespace {

constexpr double kLayers = 12;
constexpr double kWidth = 512;
constexpr double kHeads = 8;
constexpr double kFlopsPerToken = 24.0 * kLayers * kWidth * kWidth;
// Activations a layer keeps per token for the backward pass, in widths: LayerNorm inputs and outputs
// (4), q, k, v (3), the attention output and projection (2), the MLP's hidden layer before and after
// QuickGELU (8); plus one attention probability per head and token.
constexpr double kSavedWidthsPerToken = 17;
constexpr double kFeatureDim = 512;
constexpr double kPriorFlopsPerSecond = 10e9;

int64_t words(const std::string& text) {
  std::istringstream stream(text);
  std::string word;
  int64_t count = 0;
  while (stream >> word) ++count;
  return count;
}

int setting(const TaskSpec& spec, const std::string& key, int fallback) {
  return spec.settings.contains(key) && spec.settings[key].is_number_integer() ? spec.settings[key].get<int>() : fallback;
}

int64_t dataset_classes(const DatasetFacts& dataset) { return std::max<int64_t>(1, dataset.num_classes); }

// The classes a task trains on: base2novel trains on the base half.
int64_t trained_classes(const TaskSpec& spec, const DatasetFacts& dataset) {
  const int64_t classes = dataset_classes(dataset);
  return spec.protocol == "base2novel" ? (classes + 1) / 2 : classes;
}

// Tokens of the longest prompt up to its EOT.
double prompt_tokens(const TaskSpec& spec, const DatasetFacts& dataset) {
  const std::string init = spec.settings.contains("ctx_init") ? spec.settings["ctx_init"].get<std::string>() : "";
  // Prompt methods: their context; zero-shot and the probe: a template about as long as "a photo of a".
  const int64_t context =
      spec.settings.contains("n_ctx") ? (init.empty() ? setting(spec, "n_ctx", 4) : words(init)) : 4;
  return static_cast<double>(3 + context + dataset.longest_name_tokens);
}

}  // namespace

TrainingStep estimated_step(const TaskSpec& spec, const DatasetFacts& dataset) {
  TrainingStep step;
  step.classes = trained_classes(spec, dataset);
  const double tokens = prompt_tokens(spec, dataset);
  const std::string precision = spec.settings.value("precision", std::string("fp32"));
  const double bytes = precision == "fp32" ? 4 : 2;
  step.memory_bytes =
      static_cast<double>(step.classes) * tokens * kLayers * (kSavedWidthsPerToken * kWidth + kHeads * tokens) * bytes;
  return step;
}

double estimated_flops(const TaskSpec& spec, const DatasetFacts& dataset) {
  const int64_t classes = dataset_classes(dataset);
  const int64_t trained = trained_classes(spec, dataset);
  const double tokens = prompt_tokens(spec, dataset);
  const double classifier = static_cast<double>(classes) * tokens * kFlopsPerToken;
  const double scoring = static_cast<double>(dataset.test_images) * static_cast<double>(classes) * 2 * kFeatureDim;
  // CoCoOp's classifier is per image: every test image runs every class prompt through the encoder.
  const bool per_image = spec.method == "cocoop";
  const double evaluation = per_image ? static_cast<double>(dataset.test_images) * classifier + scoring
                                      : classifier + scoring;
  if (!spec.method_info().trains || !spec.settings.contains("epochs")) return evaluation;
  const int64_t per_class = std::min<int64_t>(spec.shots, std::max<int64_t>(1, dataset.fewest_train_images));
  const int64_t images = trained * per_class;
  const int64_t batch = std::max(1, setting(spec, "batch_size", 32));
  const int64_t batches = images >= batch ? images / batch : 1;
  const double steps = static_cast<double>(batches) * std::max(1, setting(spec, "epochs", 1));
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
