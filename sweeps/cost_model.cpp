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
  const int64_t context = spec.method == "coop" ? (spec.coop.ctx_init.empty() ? spec.coop.n_ctx : words(spec.coop.ctx_init))
                                                : 4;  // "a photo of a": the templates are about as long
  const double tokens = static_cast<double>(3 + context + dataset.longest_name_tokens);
  const double evaluation = static_cast<double>(classes) * tokens * kFlopsPerToken +
                            static_cast<double>(dataset.test_images) * static_cast<double>(classes) * 2 * kFeatureDim;
  if (spec.method != "coop") return evaluation;
  const int64_t per_class = std::min<int64_t>(spec.shots, std::max<int64_t>(1, dataset.fewest_train_images));
  const int64_t images = trained * per_class;
  const int64_t batch = std::max(1, spec.coop.batch_size);
  const int64_t batches = images >= batch ? images / batch : 1;
  const double steps = static_cast<double>(batches) * std::max(1, spec.coop.epochs);
  return steps * static_cast<double>(trained) * tokens * kFlopsPerToken * 3 + evaluation;
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
