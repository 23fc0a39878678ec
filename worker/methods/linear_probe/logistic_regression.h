// Multinomial logistic regression, L2-regularised, solved to its optimum in float64: the model of
// CoOp's linear-probe baseline (lpclip/linear_probe.py, which fits scikit-learn's
// LogisticRegression(solver="lbfgs", C=C)). The objective is scikit-learn's:
//   J(W, b) = sum_i [logsumexp_k(z_ik) - z_{i,y_i}] + ||W||_F^2 / (2C),  z_i = W x_i + b,
// a sum over samples, the intercept b not penalised. scikit-learn stops early (gtol 1e-4, or a relative
// decrease of 2.2e-9); this solver goes on to the optimum (L-BFGS with an Armijo line search, which a
// strictly convex J allows) and says whether it got there.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace pg::worker {

struct LogisticRegressionOptions {
  double c = 1.0;            // inverse regularisation strength, > 0
  int max_iterations = 20000;
  int history = 20;          // L-BFGS memory
  // Converged when max |dJ| <= gradient_tolerance * max(1, N) (N = samples), or when J no longer
  // decreases in float64 (10 iterations, or not even along the gradient) with max |dJ| <= 1e4 times
  // that: near the optimum of a flat objective (large C) float64 runs out before the gradient does.
  // stop_reason says which.
  double gradient_tolerance = 1e-11;
};

struct LogisticRegressionFit {
  torch::Tensor weight;      // [K, D] float64
  torch::Tensor bias;        // [K] float64, centred (sum 0: only differences are determined)
  double objective = 0;      // J at the solution
  double gradient_max_abs = 0;
  int iterations = 0;
  bool converged = false;
  std::string stop_reason;   // why the solver stopped, for the record
};

// J and its gradient at (weight, bias); features [N, D], labels [N] int64 in [0, K), all float64 CPU.
double logistic_objective(const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& features,
                          const torch::Tensor& labels, double c, torch::Tensor* weight_grad = nullptr,
                          torch::Tensor* bias_grad = nullptr);

// Fits K = num_classes classes from zeros. features [N, D] (any float dtype, converted to float64),
// labels [N] integers in [0, K). Bad shapes, labels or C are a pg::Error.
LogisticRegressionFit fit_logistic_regression(const torch::Tensor& features, const torch::Tensor& labels,
                                              int64_t num_classes, const LogisticRegressionOptions& options);

// argmax_k (x W^T + b)_k per row, the first index on ties: [N] int64.
torch::Tensor logistic_predict(const LogisticRegressionFit& fit, const torch::Tensor& features);

}  // namespace pg::worker
