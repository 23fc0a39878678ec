#include "worker/methods/linear_probe/logistic_regression.h"

#include <cmath>
#include <deque>
#include <limits>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

// The parameters as one vector [K * D + K]: W row-major, then b.
struct Packing {
  int64_t classes, dim;
  torch::Tensor weight(const torch::Tensor& x) const { return x.slice(0, 0, classes * dim).view({classes, dim}); }
  torch::Tensor bias(const torch::Tensor& x) const { return x.slice(0, classes * dim); }
};

double max_abs(const torch::Tensor& x) { return x.numel() == 0 ? 0.0 : x.abs().max().item<double>(); }

}  // namespace

double logistic_objective(const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& features,
                          const torch::Tensor& labels, double c, torch::Tensor* weight_grad, torch::Tensor* bias_grad) {
  const torch::Tensor logits = torch::addmm(bias, features, weight.t());  // [N, K]
  const torch::Tensor log_normaliser = torch::logsumexp(logits, 1);      // [N]
  const torch::Tensor picked = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  const double data = (log_normaliser - picked).sum().item<double>();
  const double penalty = weight.pow(2).sum().item<double>() / (2 * c);
  if (weight_grad != nullptr) {
    // d/dz = softmax - onehot
    torch::Tensor residual = torch::softmax(logits, 1);
    residual.scatter_add_(1, labels.unsqueeze(1), -torch::ones({labels.size(0), 1}, residual.options()));
    *weight_grad = residual.t().matmul(features) + weight / c;
    *bias_grad = residual.sum(0);
  }
  return data + penalty;
}

LogisticRegressionFit fit_logistic_regression(const torch::Tensor& features_in, const torch::Tensor& labels_in,
                                              int64_t num_classes, const LogisticRegressionOptions& options) {
  if (!features_in.defined() || features_in.dim() != 2 || features_in.size(0) < 1) {
    throw Error("linear probe: features must be [N, D] with N >= 1, got " +
                (features_in.defined() ? format_shape(features_in.sizes().vec()) : std::string("none")));
  }
  if (!labels_in.defined() || labels_in.dim() != 1 || labels_in.size(0) != features_in.size(0) ||
      labels_in.is_floating_point()) {
    throw Error("linear probe: labels must be [" + std::to_string(features_in.size(0)) + "] integers");
  }
  if (!(options.c > 0) || !std::isfinite(options.c)) {
    throw Error("linear probe: C = " + format_number(options.c) + " must be a positive finite number");
  }
  const torch::Tensor features = features_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor labels = labels_in.to(torch::kCPU, torch::kInt64).contiguous();
  if (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= num_classes) {
    throw Error("linear probe: labels must lie in [0, " + std::to_string(num_classes) + ")");
  }
  if (!torch::isfinite(features).all().item<bool>()) throw Error("linear probe: features contain NaN or infinite values");

  const Packing pack{num_classes, features.size(1)};
  const int64_t size = num_classes * (features.size(1) + 1);
  const double tolerance = options.gradient_tolerance * std::max<double>(1.0, static_cast<double>(features.size(0)));
  auto evaluate = [&](const torch::Tensor& x, torch::Tensor& gradient) {
    torch::Tensor gw, gb;
    const double value = logistic_objective(pack.weight(x), pack.bias(x), features, labels, options.c, &gw, &gb);
    gradient = torch::cat({gw.reshape({-1}), gb});
    return value;
  };

  torch::Tensor x = torch::zeros({size}, torch::kFloat64);
  torch::Tensor gradient;
  double value = evaluate(x, gradient);
  std::deque<std::pair<torch::Tensor, torch::Tensor>> memory;  // (s, y) pairs, newest last
  LogisticRegressionFit fit;
  fit.stop_reason = "iteration limit " + std::to_string(options.max_iterations) + " reached";
  // Near the optimum J stops decreasing in float64 before the gradient reaches the tolerance (large C:
  // a flat valley). Stalled for kStalledIterations with a small gradient is the optimum to float64
  // precision.
  constexpr int kStalledIterations = 10;
  const double precision_gradient = 1e4 * tolerance;
  int stalled = 0;
  int iteration = 0;
  for (; iteration < options.max_iterations; ++iteration) {
    if (max_abs(gradient) <= tolerance) {
      fit.converged = true;
      fit.stop_reason = "gradient below tolerance";
      break;
    }
    // Two-loop recursion: direction = -H * gradient.
    torch::Tensor q = gradient.clone();
    std::vector<double> alphas(memory.size());
    for (size_t i = memory.size(); i-- > 0;) {
      const auto& [s, y] = memory[i];
      alphas[i] = s.dot(q).item<double>() / y.dot(s).item<double>();
      q -= alphas[i] * y;
    }
    if (!memory.empty()) {
      const auto& [s, y] = memory.back();
      q *= s.dot(y).item<double>() / y.dot(y).item<double>();
    } else {
      q /= std::max(1.0, gradient.norm().item<double>());  // a first step of length <= 1
    }
    for (size_t i = 0; i < memory.size(); ++i) {
      const auto& [s, y] = memory[i];
      const double beta = y.dot(q).item<double>() / y.dot(s).item<double>();
      q += (alphas[i] - beta) * s;
    }
    torch::Tensor direction = -q;
    double slope = gradient.dot(direction).item<double>();
    if (!(slope < 0)) {  // not a descent direction (rounding): restart from steepest descent
      memory.clear();
      direction = -gradient / std::max(1.0, gradient.norm().item<double>());
      slope = gradient.dot(direction).item<double>();
    }
    // Backtracking (Armijo) line search from the full step.
    double step = 1.0;
    torch::Tensor next_x, next_gradient;
    double next_value = value;
    bool decreased = false;
    for (int tries = 0; tries < 40; ++tries) {
      next_x = x + step * direction;
      next_value = evaluate(next_x, next_gradient);
      if (std::isfinite(next_value) && next_value <= value + 1e-4 * step * slope) {
        decreased = true;
        break;
      }
      step *= 0.5;
    }
    if (!decreased) {
      if (!memory.empty()) {  // a stale curvature estimate: start over from steepest descent once
        memory.clear();
        continue;
      }
      // No representable decrease is left even downhill: the optimum to float64 precision, if the
      // gradient agrees.
      fit.stop_reason = "no further decrease in float64";
      fit.converged = max_abs(gradient) <= precision_gradient;
      break;
    }
    const double decrease = value - next_value;
    stalled = decrease <= 4 * std::numeric_limits<double>::epsilon() * std::abs(value) ? stalled + 1 : 0;
    const torch::Tensor s = next_x - x, y = next_gradient - gradient;
    if (y.dot(s).item<double>() > 1e-300) {
      memory.emplace_back(s, y);
      if (static_cast<int>(memory.size()) > options.history) memory.pop_front();
    }
    x = next_x;
    gradient = next_gradient;
    value = next_value;
    if (stalled >= kStalledIterations && max_abs(gradient) <= precision_gradient) {
      fit.converged = true;
      fit.stop_reason = "optimum to float64 precision (no decrease in " + std::to_string(kStalledIterations) +
                        " iterations)";
      ++iteration;
      break;
    }
  }
  fit.iterations = iteration;
  fit.weight = pack.weight(x).clone();
  // Only differences of b are determined (softmax is shift-invariant): report them centred.
  fit.bias = pack.bias(x) - pack.bias(x).mean();
  fit.objective = value;
  fit.gradient_max_abs = max_abs(gradient);
  return fit;
}

torch::Tensor logistic_predict(const LogisticRegressionFit& fit, const torch::Tensor& features) {
  const torch::Tensor x = features.to(torch::kCPU, torch::kFloat64);
  return torch::addmm(fit.bias, x, fit.weight.t()).argmax(1);
}

}  // namespace pg::worker
