#include "worker/methods/linear_probe/linear_probe.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

double accuracy_fraction(const LogisticRegressionFit& fit, const torch::Tensor& features, const torch::Tensor& labels) {
  const torch::Tensor predicted = logistic_predict(fit, features);
  const int64_t correct = predicted.eq(labels.to(torch::kCPU, torch::kInt64)).sum().item<int64_t>();
  return static_cast<double>(correct) / static_cast<double>(labels.size(0));
}

// The probe's classifier over a subset of its classes (those of a test-only dataset), in that order.
class ProbeClassifier : public Classifier {
 public:
  ProbeClassifier(const LogisticRegressionFit& fit, const std::vector<int64_t>& rows, torch::Device device) {
    const torch::Tensor index = torch::tensor(rows, torch::kInt64);
    weight_ = fit.weight.index_select(0, index).to(device);
    bias_ = fit.bias.index_select(0, index).to(device);
  }
  torch::Tensor logits(const torch::Tensor& image_features) override {
    torch::NoGradGuard no_grad;
    return torch::addmm(bias_, image_features.to(weight_.device(), torch::kFloat64), weight_.t()).to(torch::kFloat32);
  }
  int64_t num_classes() const override { return weight_.size(0); }

 private:
  torch::Tensor weight_, bias_;  // float64: the argmax is that of the float64 fit
};

class TrainedLinearProbe : public TrainedMethod {
 public:
  TrainedLinearProbe(LogisticRegressionFit fit, std::vector<std::string> classnames, torch::Device device)
      : fit_(std::move(fit)), classnames_(std::move(classnames)), device_(device) {
    learned.push_back(to_named_tensor("weight", fit_.weight));
    learned.push_back(to_named_tensor("bias", fit_.bias));
  }
  // Only the classes it was trained on, in any order or subset (a test-only dataset's classes).
  std::unique_ptr<Classifier> classifier(const std::vector<std::string>& classnames, const std::string&) override {
    std::vector<int64_t> rows;
    for (const auto& name : classnames) {
      const auto found = std::find(classnames_.begin(), classnames_.end(), name);
      if (found == classnames_.end()) return nullptr;
      rows.push_back(found - classnames_.begin());
    }
    return std::make_unique<ProbeClassifier>(fit_, rows, device_);
  }

 private:
  LogisticRegressionFit fit_;
  std::vector<std::string> classnames_;
  torch::Device device_;
};

}  // namespace

const std::vector<double>& linear_probe_c_values() {
  static const std::vector<double> values = {1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6};
  return values;
}

LinearProbeSearch search_linear_probe(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                                      const torch::Tensor& val_features, const torch::Tensor& val_labels,
                                      int64_t num_classes, int steps,
                                      const std::function<void(double, const LogisticRegressionFit&)>& on_fit) {
  if (!val_features.defined() || val_features.dim() != 2 || val_features.size(0) < 1 || !val_labels.defined() ||
      val_labels.size(0) != val_features.size(0)) {
    throw Error("linear probe: C is chosen on the few-shot validation sample, and the task has none; the dataset "
                "needs a val split with images of the classes trained on");
  }
  if (steps < 0) throw Error("linear probe: search_steps = " + std::to_string(steps) + " must be 0 or more");
  LinearProbeSearch search;
  auto fit_and_score = [&](double c) {
    LogisticRegressionOptions options;
    options.c = c;
    LogisticRegressionFit fit = fit_logistic_regression(train_features, train_labels, num_classes, options);
    ++search.fits;
    if (!fit.converged) ++search.fits_not_converged;
    if (on_fit) on_fit(c, fit);
    const double accuracy = accuracy_fraction(fit, val_features, val_labels);
    return std::make_pair(std::move(fit), accuracy);
  };

  std::vector<LogisticRegressionFit> sweep_fits;
  for (double c : linear_probe_c_values()) {
    auto [fit, accuracy] = fit_and_score(c);
    search.search_c.push_back(c);
    search.search_accuracy.push_back(accuracy);
    sweep_fits.push_back(std::move(fit));
  }
  for (size_t i = 1; i < search.search_accuracy.size(); ++i) {
    if (search.search_accuracy[i] > search.search_accuracy[search.peak]) search.peak = i;  // the first maximum
  }
  search.c = search.search_c[search.peak];
  search.val_accuracy = search.search_accuracy[search.peak];
  search.fit = std::move(sweep_fits[search.peak]);
  sweep_fits.clear();

  double c_left = 0.1 * search.c, c_right = 10 * search.c;
  for (int step = 0; step < steps; ++step) {
    auto [left, accuracy_left] = fit_and_score(c_left);
    auto [right, accuracy_right] = fit_and_score(c_right);
    LinearProbeSearchStep record{c_left, c_right, accuracy_left, accuracy_right, accuracy_left < accuracy_right, 0};
    const double log_left = std::log10(c_left), log_right = std::log10(c_right);
    const double middle = 0.5 * (log_right + log_left);
    if (record.chose_right) {
      record.c_chosen = c_right;
      search.fit = std::move(right);
      search.val_accuracy = accuracy_right;
      c_left = std::pow(10.0, middle);
      c_right = std::pow(10.0, log_right);
    } else {
      record.c_chosen = c_left;
      search.fit = std::move(left);
      search.val_accuracy = accuracy_left;
      c_right = std::pow(10.0, middle);
      c_left = std::pow(10.0, log_left);
    }
    search.c = record.c_chosen;
    search.steps.push_back(record);
  }
  return search;
}

std::unique_ptr<TrainedMethod> run_linear_probe(const MethodTask& task, MethodEnvironment& environment) {
  const int64_t classes = static_cast<int64_t>(task.classnames.size());
  const int steps = task.settings.at("search_steps").get<int>();
  const LinearProbeSearch search = search_linear_probe(task.train.features, task.train.labels, task.val.features,
                                                       task.val.labels, classes, steps);
  auto trained = std::make_unique<TrainedLinearProbe>(search.fit, task.classnames, environment.device);
  nlohmann::json steps_json = nlohmann::json::array();
  for (const auto& step : search.steps) {
    steps_json.push_back({{"c_left", step.c_left}, {"c_right", step.c_right}, {"acc_left", step.accuracy_left},
                          {"acc_right", step.accuracy_right}, {"chosen", step.chose_right ? "right" : "left"}});
  }
  trained->report = {{"c", search.c},
                     {"search", {{"c", search.search_c}, {"val_acc", search.search_accuracy}, {"peak", search.peak}}},
                     {"steps", steps_json},
                     {"fits", search.fits},
                     {"objective", search.fit.objective},
                     {"gradient_max_abs", search.fit.gradient_max_abs},
                     {"iterations", search.fit.iterations},
                     {"converged", search.fit.converged},
                     {"fits_not_converged", search.fits_not_converged}};
  if (!search.fit.converged) {
    trained->report["not_converged"] = "the chosen fit stopped before its optimum: " + search.fit.stop_reason;
  }
  return trained;
}

}  // namespace pg::worker
