#include "sweeps/method_settings.h"

#include <algorithm>
#include <cmath>

#include "common/coop_defaults.h"
#include "common/error.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "sweeps/catalog.h"

namespace pg::sweeps {
namespace {

using nlohmann::json;
using Type = SettingField::Type;

SettingField integer(std::string key, int value, int minimum, std::string help, int maximum = 1'000'000) {
  SettingField field{std::move(key), Type::integer, value, std::move(help)};
  field.minimum = minimum;
  field.maximum = maximum;
  return field;
}
SettingField positive_number(std::string key, double value, std::string help) {
  SettingField field{std::move(key), Type::number, value, std::move(help)};
  field.exclusive_minimum = true;
  return field;
}
SettingField number_at_least(std::string key, double value, double minimum, std::string help) {
  SettingField field{std::move(key), Type::number, value, std::move(help)};
  field.minimum = minimum;
  return field;
}
SettingField text(std::string key, std::string value, std::string help, std::vector<std::string> choices = {}) {
  SettingField field{std::move(key), Type::text, std::move(value), std::move(help)};
  field.choices = std::move(choices);
  return field;
}
SettingField boolean(std::string key, bool value, std::string help, std::string file_key = "") {
  SettingField field{std::move(key), Type::boolean, value, std::move(help)};
  field.file_key = std::move(file_key);
  return field;
}
SettingField auto_epochs(std::string help) {
  SettingField field = integer("epochs", 0, 0, std::move(help));
  field.accepts_auto = true;
  return field;
}

// fp16 and bf16 keep the context a float32 master copy; pure_fp16 is the reference's PREC=fp16 (the
// context an fp16 parameter updated in fp16, logits and loss in fp16), pure_bf16 the same in bf16.
SettingField precision(bool with_pure_half) {
  std::vector<std::string> choices = {"fp32", "fp16", "bf16"};
  if (with_pure_half) choices.insert(choices.end(), {"pure_fp16", "pure_bf16"});
  return text("precision", coop_defaults::kPrecision,
              with_pure_half ? "the text encoder's compute precision (fp16: CUDA only); pure_fp16 is the reference's "
                               "fp16, the context itself in fp16 (CUDA only), pure_bf16 the same in bf16"
                             : "the text encoder's compute precision (fp16: CUDA only)",
              std::move(choices));
}

// CoOp's prompt-learner fields, shared by the methods built on its learner.
std::vector<SettingField> prompt_fields(int n_ctx, const std::string& ctx_init) {
  // 77 tokens hold SOT, the context, at least one name token, '.' and EOT.
  return {integer("n_ctx", n_ctx, 0, "number of context vectors, 1 or more (ignored with ctx_init)", 73),
          text("ctx_init", ctx_init, "words whose embeddings initialise the context; empty: random N(0, 0.02)"),
          text("ctx_init_length", "words",
               "with ctx_init: words (the reference's: one vector per word, the init's further tokens stay frozen) "
               "or tokens (one learned vector per token)",
               {"words", "tokens"})};
}

// With init words the context length comes from them: n_ctx is canonically 0, so a grid over n_ctx
// with an init gives one task, not several with the same meaning; likewise the init's settings
// without an init.
void canonical_context(json& settings) {
  const bool has_init = !settings["ctx_init"].get<std::string>().empty();
  if (has_init) {
    settings["n_ctx"] = 0;
  } else if (settings["n_ctx"].get<int>() < 1) {
    throw Error("task field 'n_ctx' is " + settings["n_ctx"].dump() + "; a random context needs 1 or more vectors");
  }
  if (!has_init) settings["ctx_init_length"] = "words";
  // CoOp ignores CSC when given an init (csc_init "shared", the reference's rule): the task is the
  // generic-context one, said so in its spec, so nothing downstream needs the rule again.
  if (has_init && settings.value("class_specific", false) && settings.value("csc_init", std::string()) == "shared") {
    settings["class_specific"] = false;
  }
  if (settings.contains("csc_init") && (!has_init || !settings.value("class_specific", false))) {
    settings["csc_init"] = "shared";
  }
}

void resolve_coop(json& settings, const SettingsContext& context) {
  canonical_context(settings);
  if (settings["epochs"].get<int>() == 0) settings["epochs"] = coop_epochs(context.dataset, context.shots);
  if (context.protocol != "fewshot" && settings.value("class_specific", false)) {
    throw Error("task field 'csc' is true, but class-specific context (CSC) exists only for the classes trained on "
                "and cannot be tested on other classes; use generic context (csc: false) for the " + context.protocol +
                " protocol");
  }
}

void resolve_cocoop(json& settings, const SettingsContext&) { canonical_context(settings); }

// The fields of prompt_training.h's SGD loop, in the order their grid axes nest: lr, epochs,
// batch_size, precision.
void add_sgd_fields(MethodInfo& method, SettingField epochs, int batch_size, bool with_pure_half = false) {
  method.fields.push_back(positive_number("lr", coop_defaults::kLearningRate, "SGD's base learning rate"));
  method.fields.push_back(std::move(epochs));
  method.fields.push_back(integer("batch_size", batch_size, 1, "images per SGD step"));
  method.fields.push_back(precision(with_pure_half));
}

std::vector<MethodInfo> build_table() {
  using namespace coop_defaults;
  MethodInfo zeroshot{"zeroshot", "Zero-shot CLIP", /*trains=*/false, {}};

  MethodInfo coop{"coop", "CoOp", true, prompt_fields(kContextVectors, "")};
  coop.fields.push_back(boolean("class_specific", false, "class-specific context (CSC): one context per class", "csc"));
  coop.fields.push_back(text("csc_init", "shared",
                             "csc with ctx_init: shared (the reference's: CoOp ignores csc, one context) or per_class "
                             "(the init repeated per class)",
                             {"shared", "per_class"}));
  coop.fields.push_back(text("class_token_position", kClassTokenPosition, "where the class name goes",
                             {"end", "middle", "front"}));
  add_sgd_fields(coop, auto_epochs("training epochs; auto: CoOp's schedule (50/100/200 by shots, ImageNet 50)"),
                 kBatchSize, /*with_pure_half=*/true);
  coop.resolve_combinations = resolve_coop;

  // KgCoOp (Yao et al. 2023): CoOp plus w * (1 - mean cos(learned, hand-crafted text features)).
  MethodInfo kgcoop{"kgcoop", "KgCoOp", true, prompt_fields(4, "a photo of a")};
  kgcoop.fields.push_back(number_at_least("w", 8.0, 0, "weight of the knowledge-guided term"));
  add_sgd_fields(kgcoop, auto_epochs("training epochs; auto: CoOp's schedule"), kBatchSize);
  kgcoop.resolve_combinations = resolve_coop;

  // CoCoOp (Zhou et al. 2022b): the reference's defaults, batch 1 and 10 epochs.
  MethodInfo cocoop{"cocoop", "CoCoOp", true, prompt_fields(4, "a photo of a")};
  add_sgd_fields(cocoop, integer("epochs", 10, 1, "training epochs"), 1);
  cocoop.resolve_combinations = resolve_cocoop;

  // The linear probe of CoOp's lpclip: L2-regularised logistic regression, C searched on val.
  MethodInfo probe{"linear_probe", "Linear probe", true, {}};
  probe.fields.push_back(integer("search_steps", 8, 0, "bisection steps of the C search after the 7-value sweep", 50));

  return {zeroshot, coop, kgcoop, cocoop, probe};
}

std::string type_words(const SettingField& field) {
  switch (field.type) {
    case Type::integer:
      return std::string(field.accepts_auto ? "auto or " : "") + "a whole number from " +
             std::to_string(static_cast<int>(field.minimum) + (field.accepts_auto ? 1 : 0)) + " to " +
             std::to_string(static_cast<int64_t>(field.maximum));
    case Type::number:
      return std::string("a number ") + (field.exclusive_minimum ? "> " : ">= ") + format_number(field.minimum);
    case Type::boolean:
      return "true or false";
    case Type::text:
      return field.choices.empty() ? "text" : "one of " + join(field.choices, ", ");
  }
  return "a value";
}

void check_field(const SettingField& field, json& value) {
  const std::string name = "task field '" + field.name_in_file() + "'";
  const auto wrong = [&]() {
    throw Error(name + " is " + value.dump() + "; expected " + type_words(field) + " (" + field.help + ")");
  };
  switch (field.type) {
    case Type::integer: {
      if (field.accepts_auto && value == "auto") value = 0;
      if (value.is_number_float() && value.get<double>() == std::floor(value.get<double>()) &&
          std::abs(value.get<double>()) < 1e9) {
        value = static_cast<int>(value.get<double>());
      }
      if (!value.is_number_integer()) wrong();
      const int64_t v = value.get<int64_t>();
      const bool is_auto = field.accepts_auto && v == 0;
      if (!is_auto && (v < static_cast<int64_t>(field.minimum) + (field.accepts_auto ? 1 : 0) ||
                       v > static_cast<int64_t>(field.maximum))) {
        wrong();
      }
      return;
    }
    case Type::number: {
      if (!value.is_number()) wrong();
      const double v = value.get<double>();
      if (!std::isfinite(v) || v < field.minimum || (field.exclusive_minimum && v == field.minimum)) wrong();
      value = v;
      return;
    }
    case Type::boolean:
      if (!value.is_boolean()) wrong();
      return;
    case Type::text: {
      if (!value.is_string()) wrong();
      const std::string v = value.get<std::string>();
      require_utf8(v, name, "write it in UTF-8");
      if (!field.choices.empty() && std::find(field.choices.begin(), field.choices.end(), v) == field.choices.end()) {
        wrong();
      }
      return;
    }
  }
}

}  // namespace

const std::vector<MethodInfo>& methods() {
  static const std::vector<MethodInfo> table = build_table();
  return table;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& method : methods()) names.push_back(method.name);
  return names;
}

const MethodInfo& find_method(const std::string& name) {
  for (const auto& method : methods()) {
    if (method.name == name) return method;
  }
  throw Error("task field 'method' is '" + name + "'; the methods are: " + join(method_names(), ", "));
}

json resolve_settings(const MethodInfo& method, json settings, const SettingsContext& context) {
  if (settings.is_null()) settings = json::object();
  if (!settings.is_object()) {
    throw Error("the settings of method " + method.name + " are " + settings.dump() + "; expected a mapping of fields");
  }
  // An explicit n_ctx means a random context of that length: with a method whose default init is words
  // ("a photo of a" sets the length) it would be ignored without a word.
  const auto init = std::find_if(method.fields.begin(), method.fields.end(),
                                 [](const SettingField& f) { return f.key == "ctx_init"; });
  if (init != method.fields.end() && settings.contains("n_ctx") && !settings.contains("ctx_init") &&
      !init->default_value.get<std::string>().empty()) {
    throw Error("task field 'n_ctx' is given, but " + method.name + " initialises its context from \"" +
                init->default_value.get<std::string>() + "\", which sets the length; add ctx_init: \"\" for a random " +
                "context of n_ctx vectors");
  }
  json resolved = json::object();
  for (const auto& item : settings.items()) {
    // Named copies: a lambda may not capture a structured binding before C++20 (clang refuses it).
    const std::string key = item.key();
    const json& value = item.value();
    const auto known = std::find_if(method.fields.begin(), method.fields.end(), [&](const SettingField& f) {
      return f.key == key || f.name_in_file() == key;
    });
    if (known == method.fields.end()) {
      std::vector<std::string> valid;
      for (const auto& field : method.fields) valid.push_back(field.name_in_file());
      throw Error("task field '" + key + "' is not a setting of " + method.name + "; its settings are: " +
                  (valid.empty() ? std::string("(none)") : join(valid, ", ")));
    }
    if (resolved.contains(known->key)) {
      throw Error("task field '" + known->name_in_file() + "' is given twice (as " + known->key + " and " +
                  known->name_in_file() + ")");
    }
    resolved[known->key] = value;
  }
  for (const auto& field : method.fields) {
    if (!resolved.contains(field.key)) resolved[field.key] = field.default_value;
    check_field(field, resolved[field.key]);
  }
  if (method.resolve_combinations != nullptr) method.resolve_combinations(resolved, context);
  return resolved;
}

std::vector<std::string> non_default_settings(const MethodInfo& method, const json& settings,
                                              const SettingsContext& context) {
  std::vector<std::string> phrases;
  const bool has_init = settings.contains("ctx_init") && !settings["ctx_init"].get<std::string>().empty();
  for (const auto& field : method.fields) {
    if (!settings.contains(field.key)) continue;
    const json& value = settings[field.key];
    if (field.key == "n_ctx" && has_init) continue;  // the init words say it
    if (field.key == "epochs" && field.accepts_auto) {
      int schedule = 0;
      try {
        schedule = coop_epochs(context.dataset, context.shots);
      } catch (const Error&) {  // a dataset outside the catalog: no schedule to compare with
      }
      const int epochs = value.get<int>();
      if (epochs > 0 && epochs != schedule) phrases.push_back(std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs"));
      continue;
    }
    if (value == field.default_value) continue;
    if (field.key == "ctx_init") {
      phrases.push_back(value.get<std::string>().empty() ? "random init" : "init \"" + value.get<std::string>() + "\"");
    } else if (field.key == "class_specific") {
      phrases.push_back(value.get<bool>() ? "CSC" : "generic context");
    } else if (field.key == "epochs") {
      const int epochs = value.get<int>();
      phrases.push_back(std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs"));
    } else if (field.key == "batch_size") {
      phrases.push_back("batch " + std::to_string(value.get<int>()));
    } else if (field.type == Type::text && !field.choices.empty()) {
      phrases.push_back(value.get<std::string>());
    } else if (field.type == Type::number) {
      phrases.push_back(field.key + " " + format_number(value.get<double>()));
    } else {
      phrases.push_back(field.key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
    }
  }
  return phrases;
}

}  // namespace pg::sweeps
