// CoOp's linear-probe baseline (lpclip/linear_probe.py; Radford et al. 2021 §3.2): logistic regression
// on the few-shot image features, with C chosen on the few-shot validation sample:
//   1. fit each C of [1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6]; the peak is the first maximum of the
//      validation accuracy (the largest C among ties);
//   2. c_left, c_right = 0.1 * peak, 10 * peak; then `steps` times: fit both; if acc_left < acc_right
//      choose right and search [10^((lg l + lg r)/2), 10^(lg r)], otherwise (ties too) choose left and
//      search [10^(lg l), 10^((lg l + lg r)/2)];
//   3. the model is the last step's choice (with 0 steps, the peak's fit).
// Validation accuracy is a fraction, as the script computes it. Also a method (method.h).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "worker/methods/linear_probe/logistic_regression.h"
#include "worker/methods/method.h"

namespace pg::worker {

struct LinearProbeSearchStep {
  double c_left = 0, c_right = 0;
  double accuracy_left = 0, accuracy_right = 0;
  bool chose_right = false;
  double c_chosen = 0;
};

struct LinearProbeSearch {
  std::vector<double> search_c;         // the 7 values
  std::vector<double> search_accuracy;  // their validation accuracies
  size_t peak = 0;
  std::vector<LinearProbeSearchStep> steps;
  double c = 0;                         // the chosen C
  double val_accuracy = 0;              // of the chosen fit
  LogisticRegressionFit fit;            // the chosen fit
  int fits = 0;
  int fits_not_converged = 0;
};

// The C values lpclip sweeps first, largest first.
const std::vector<double>& linear_probe_c_values();

// Runs the search. `on_fit(c, fit)` (optional) sees every fit in order: the 7 of the sweep, then each
// step's left and right. An empty validation sample is a pg::Error (C cannot be chosen).
LinearProbeSearch search_linear_probe(const torch::Tensor& train_features, const torch::Tensor& train_labels,
                                      const torch::Tensor& val_features, const torch::Tensor& val_labels,
                                      int64_t num_classes, int steps,
                                      const std::function<void(double, const LogisticRegressionFit&)>& on_fit = {});

std::unique_ptr<TrainedMethod> run_linear_probe(const MethodTask& task, MethodEnvironment& environment);

}  // namespace pg::worker
