// The linear probe against the reference (golden linear_probe: CoOp's lpclip/linear_probe.py run with
// scikit-learn on synthetic features): per C, the objective at the true optimum the golden records
// (`tight_optimum`) and the predictions wherever scikit-learn's own fit reached it; the search's
// steps and final C, and the test accuracy, where the validation accuracies agree.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/worker/coop_test_support.h"
#include "worker/methods/linear_probe/linear_probe.h"

namespace pg::worker {
namespace {

using testing::golden_json;
using testing::golden_tensors;
using testing::int64_tensor;

struct ProbeGolden {
  nlohmann::json golden = golden_json("linear_probe");
  StateDict tensors = golden_tensors("linear_probe");
  torch::Tensor train = tensors.at("train_features"), val = tensors.at("val_features"), test = tensors.at("test_features");
  torch::Tensor train_labels = int64_tensor(golden["train_labels"].get<std::vector<int64_t>>());
  torch::Tensor val_labels = int64_tensor(golden["val_labels"].get<std::vector<int64_t>>());
  torch::Tensor test_labels = int64_tensor(golden["test_labels"].get<std::vector<int64_t>>());
  int64_t classes = golden["data"]["n_classes"].get<int64_t>();
};

std::vector<int64_t> predictions(const LogisticRegressionFit& fit, const torch::Tensor& features) {
  const torch::Tensor p = logistic_predict(fit, features).contiguous();
  return std::vector<int64_t>(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
}

// The C values of the bisection are 10^x computed by numpy, whose power is not always correctly
// rounded (10^0.5 comes out 1 ulp below sqrt(10)): equal within a few ulps.
constexpr double kCUlps = 1e-15;

// Whether the golden's `tight_optimum` is one: its solver stopped with max |gradient| <= 1e-7. At
// C = 1e-6 it stopped after 2 iterations at 9.6e-6 (the ftol rule on a flat objective), where the
// predictions hinge on intercept differences of that size; there the predictions of the true optimum
// (this solver's, gradient < 1e-10 and a lower J) are not the golden's, and only the objective is compared.
bool optimum_is_tight(const nlohmann::json& fit) { return fit["tight_optimum"]["grad_max_abs"].get<double>() <= 1e-7; }

// Every fit of the golden search, in the order lpclip makes them: the 7 of the sweep, then each
// step's left and right.
std::vector<nlohmann::json> golden_fits(const nlohmann::json& golden) {
  std::vector<nlohmann::json> fits(golden["search"].begin(), golden["search"].end());
  for (const auto& step : golden["steps"]) {
    fits.push_back(step["left"]);
    fits.push_back(step["right"]);
  }
  return fits;
}

TEST(LinearProbeGolden, EveryFitReachesTheOptimumAndPredictsAsTheOptimumDoes) {
  ProbeGolden g;
  const std::vector<nlohmann::json> expected = golden_fits(g.golden);
  std::vector<std::pair<double, LogisticRegressionFit>> fits;
  search_linear_probe(g.train, g.train_labels, g.val, g.val_labels, g.classes, 8,
                      [&](double c, const LogisticRegressionFit& fit) { fits.emplace_back(c, fit); });
  ASSERT_EQ(fits.size(), expected.size());
  for (size_t i = 0; i < fits.size(); ++i) {
    const auto& [c, fit] = fits[i];
    const nlohmann::json& want = expected[i];
    EXPECT_NEAR(c, want["C"].get<double>(), kCUlps * c) << "fit " << i;
    const double tight = want["tight_optimum"]["objective"].get<double>();
    // At the optimum: within 1e-6 relative of the tight one, and never above scikit-learn's own stop.
    EXPECT_LE(std::abs(fit.objective - tight), 1e-6 * tight) << "C " << c << ": " << fit.objective << " vs " << tight;
    EXPECT_LE(fit.objective, want["objective"].get<double>() * (1 + 1e-12)) << "C " << c;
    EXPECT_TRUE(fit.converged) << "C " << c << ": " << fit.stop_reason;
    // The objective as computed independently from the fit's own weights.
    const double recomputed = logistic_objective(fit.weight, fit.bias, g.train.to(torch::kFloat64), g.train_labels, c);
    EXPECT_NEAR(recomputed, fit.objective, 1e-9 * std::max(1.0, fit.objective));
    if (!optimum_is_tight(want)) continue;
    if (want["tight_optimum"]["same_val_pred"].get<bool>()) {
      EXPECT_EQ(predictions(fit, g.val), want["val_pred"].get<std::vector<int64_t>>()) << "C " << c;
    }
    if (want["tight_optimum"]["same_test_pred"].get<bool>()) {
      EXPECT_EQ(predictions(fit, g.test), want["test_pred"].get<std::vector<int64_t>>()) << "C " << c;
    }
  }
}

TEST(LinearProbeGolden, SearchStepsAndFinalCMatchWhereValidationAgrees) {
  ProbeGolden g;
  const LinearProbeSearch search = search_linear_probe(g.train, g.train_labels, g.val, g.val_labels, g.classes, 8);
  EXPECT_EQ(search.search_c, g.golden["search_list"].get<std::vector<double>>());
  // Validation accuracies agree where scikit-learn reached the optimum's predictions.
  for (size_t i = 0; i < search.search_c.size(); ++i) {
    const auto& want = g.golden["search"][i];
    if (optimum_is_tight(want) && want["tight_optimum"]["same_val_pred"].get<bool>()) {
      EXPECT_EQ(search.search_accuracy[i], want["val_acc"].get<double>()) << "C " << search.search_c[i];
    }
  }
  // Here the peak is a unique maximum at C = 1 both ways, so every step must follow the reference.
  ASSERT_EQ(search.peak, g.golden["peak_idx"].get<size_t>());
  ASSERT_EQ(search.steps.size(), g.golden["steps"].size());
  for (size_t s = 0; s < search.steps.size(); ++s) {
    const auto& want = g.golden["steps"][s];
    const auto& step = search.steps[s];
    EXPECT_NEAR(step.c_left, want["c_left"].get<double>(), kCUlps * step.c_left) << "step " << s;
    EXPECT_NEAR(step.c_right, want["c_right"].get<double>(), kCUlps * step.c_right) << "step " << s;
    EXPECT_EQ(step.accuracy_left, want["acc_left"].get<double>()) << "step " << s;
    EXPECT_EQ(step.accuracy_right, want["acc_right"].get<double>()) << "step " << s;
    EXPECT_EQ(step.chose_right ? "right" : "left", want["chosen"].get<std::string>()) << "step " << s;
  }
  EXPECT_EQ(search.c, g.golden["final"]["C"].get<double>());
  const torch::Tensor predicted = logistic_predict(search.fit, g.test);
  const double test_accuracy = 100.0 * predicted.eq(g.test_labels).sum().item<double>() / g.test_labels.size(0);
  EXPECT_DOUBLE_EQ(test_accuracy, g.golden["final"]["test_acc"].get<double>());
}

TEST(LinearProbe, ObjectiveGradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({7, 4}, torch::kFloat64);
  const torch::Tensor y = int64_tensor({0, 1, 2, 0, 1, 2, 2});
  const torch::Tensor w = torch::randn({3, 4}, torch::kFloat64), b = torch::randn({3}, torch::kFloat64);
  torch::Tensor gw, gb;
  logistic_objective(w, b, x, y, 0.7, &gw, &gb);
  const double h = 1e-6;
  for (int64_t k = 0; k < 3; ++k) {
    for (int64_t d = 0; d < 4; ++d) {
      torch::Tensor plus = w.clone(), minus = w.clone();
      plus[k][d] += h;
      minus[k][d] -= h;
      const double numeric = (logistic_objective(plus, b, x, y, 0.7) - logistic_objective(minus, b, x, y, 0.7)) / (2 * h);
      EXPECT_NEAR(gw[k][d].item<double>(), numeric, 1e-6);
    }
    torch::Tensor plus = b.clone(), minus = b.clone();
    plus[k] += h;
    minus[k] -= h;
    EXPECT_NEAR(gb[k].item<double>(),
                (logistic_objective(w, plus, x, y, 0.7) - logistic_objective(w, minus, x, y, 0.7)) / (2 * h), 1e-6);
  }
}

TEST(LinearProbe, NoValidationSampleIsAnError) {
  ProbeGolden g;
  testing::expect_error([&] { search_linear_probe(g.train, g.train_labels, torch::zeros({0, 32}), int64_tensor({}), 6, 8); },
                        {"validation sample"});
}

}  // namespace
}  // namespace pg::worker
