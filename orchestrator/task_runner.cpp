#include "orchestrator/task_runner.h"

#include <torch/torch.h>

#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/system_info.h"
#include "orchestrator/device.h"
#include "orchestrator/error_text.h"
#include "orchestrator/train_checkpoint.h"
#include "storage/library_version.h"
#include "storage/prompt_store.h"
#include "sweeps/class_split.h"
#include "sweeps/fewshot.h"
#include "sweeps/protocol.h"
#include "text/tokenizer.h"
#include "worker/clip/text_encoder.h"
#include "worker/clip/weights_digest.h"
#include "worker/evaluation.h"
#include "worker/methods/registry.h"

namespace pg::orchestrator {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Test rows read at a time: bounds evaluation memory (8192 x 768 float32 = 25 MB) whatever the split.
constexpr int64_t kTestRowsPerChunk = 8192;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::Tensor take_rows(const torch::Tensor& rows, const std::vector<int64_t>& indices, int64_t dim = 0) {
  return rows.index_select(dim, torch::tensor(indices, torch::kInt64));
}

// A class subset of one split: rows of the split and their labels in the subset's numbering.
struct Subset {
  std::vector<int64_t> rows;
  std::vector<int64_t> labels;
};

Subset select(const sweeps::ClassSelection& selection, const std::vector<int64_t>& rows,
              const std::vector<int>& row_labels) {
  std::vector<sweeps::LabelledIndex> items;
  items.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) items.push_back({i, row_labels[rows[i]]});
  Subset subset;
  for (const auto& kept : sweeps::apply_class_selection(selection, items)) {
    subset.rows.push_back(rows[kept.index]);
    subset.labels.push_back(kept.label);
  }
  return subset;
}

std::vector<std::string> names_of(const sweeps::ClassSelection& selection, const std::vector<std::string>& all) {
  std::vector<std::string> names;
  for (int label : selection.labels) names.push_back(all.at(label));
  return names;
}

std::vector<int64_t> all_rows(size_t count) {
  std::vector<int64_t> rows(count);
  for (size_t i = 0; i < count; ++i) rows[i] = static_cast<int64_t>(i);
  return rows;
}

// One classifier scored over the streamed test split. `target_of_label` maps a test row's original
// label to the classifier's class index; a label it lacks maps to -1, and such rows count as errors
// when `score_missing` (Dassl scores every test image) or are left out (base/novel subsets).
struct Evaluation {
  std::vector<int64_t> target_of_label;
  bool score_missing = false;
  std::unique_ptr<worker::Classifier> classifier;
  worker::AccuracyCounter counter;
  int64_t missing_rows = 0;

  Evaluation(const sweeps::ClassSelection& classes, int64_t num_classes, bool score_missing_rows,
             std::unique_ptr<worker::Classifier> classifier_of_classes)
      : target_of_label(static_cast<size_t>(num_classes), -1),
        score_missing(score_missing_rows),
        classifier(std::move(classifier_of_classes)) {
    for (size_t i = 0; i < classes.labels.size(); ++i) target_of_label.at(classes.labels[i]) = static_cast<int64_t>(i);
  }
};

void score_test_split(const storage::FeatureStoreReader& store, const std::string& dataset, torch::Device device,
                      std::vector<Evaluation*> evaluations) {
  store.for_each_chunk(dataset, "test", kTestRowsPerChunk, [&](const storage::SplitChunk& chunk) {
    const torch::Tensor features =
        torch::from_blob(const_cast<float*>(chunk.features.data()), {chunk.rows, chunk.dim}, torch::kFloat32);
    for (Evaluation* evaluation : evaluations) {
      std::vector<int64_t> rows, targets;
      for (int64_t row = 0; row < chunk.rows; ++row) {
        const int64_t target = evaluation->target_of_label.at(chunk.labels[row]);
        if (target < 0) {
          if (!evaluation->score_missing) continue;
          ++evaluation->missing_rows;
        }
        rows.push_back(row);
        targets.push_back(target);
      }
      if (rows.empty()) continue;
      evaluation->counter.add(*evaluation->classifier, take_rows(features, rows), torch::tensor(targets, torch::kInt64),
                              device);
    }
  });
}

void hash_floats(ContentHasher& hasher, const float* values, size_t count) {
  hasher.update(values, count * sizeof(float));
}

}  // namespace

class TaskRunner::Impl {
 public:
  explicit Impl(const RunnerOptions& options);
  sweeps::TaskSpec prepare(sweeps::TaskSpec spec);
  TaskResult run(const sweeps::TaskSpec& spec);
  std::string device_description() const;
  const std::string& features_digest(const std::string& dataset);

  struct Split;
  const Split& split(const std::string& dataset, const std::string& name);
  worker::TextEncoder& encoder_for(torch::Dtype dtype);
  void fill_inputs(sweeps::TaskSpec& spec);
  std::vector<storage::NamedTensor> run_unchecked(const sweeps::TaskSpec& spec, nlohmann::json& record);

  RunnerOptions options_;
  storage::FeatureStoreReader store_;
  text::Tokenizer tokenizer_;
  torch::Device device_;
  std::map<torch::Dtype, worker::TextEncoder> encoders_;
  std::map<std::string, std::shared_ptr<Split>> splits_;  // "<dataset>/<split>"
  std::string checkpoint_digest_;
  std::map<std::string, std::string> features_digests_;
};

struct TaskRunner::Impl::Split {
  torch::Tensor features;  // [N, E] float32, CPU
  torch::Tensor views;     // [V, N, E] float32, CPU; undefined without augmented views
  std::vector<int> labels;
  std::vector<sweeps::SplitItem> items;  // what few-shot sampling sees: relpath, label, class name
  std::vector<std::string> paths;
};

TaskRunner::Impl::Impl(const RunnerOptions& options)
    : options_(options),
      store_(options.features_path),
      tokenizer_(text::Tokenizer::from_vocab_file(options.vocab_path)),
      device_(parse_device(options.device)) {
  if (options_.max_sequences == 0) options_.max_sequences = device_.is_cpu() ? 1 : 4096;
  worker::TextEncoder& encoder = encoder_for(torch::kFloat32);
  if (encoder->options().vocab_size != tokenizer_.vocab_size()) {
    throw Error(options_.checkpoint_path + " has a vocabulary of " + std::to_string(encoder->options().vocab_size) +
                " tokens but " + options_.vocab_path + " gives " + std::to_string(tokenizer_.vocab_size()) +
                "; pass the vocabulary the checkpoint was trained with (--bpe)");
  }
  if (encoder->options().embed_dim != store_.embed_dim()) {
    throw Error(options_.features_path + " holds " + std::to_string(store_.embed_dim()) + "-d features of backbone " +
                store_.backbone() + " but " + options_.checkpoint_path + " has embed_dim " +
                std::to_string(encoder->options().embed_dim) + "; use the checkpoint the features were extracted with");
  }
  ContentHasher hasher;
  worker::hash_parameters(hasher, *encoder);
  const double logit_scale = encoder->logit_scale();
  hasher.update(&logit_scale, sizeof logit_scale);
  checkpoint_digest_ = to_hex16(hasher.digest());
}

std::string TaskRunner::Impl::device_description() const {
  if (device_.is_cpu()) return "cpu (" + std::to_string(torch::get_num_threads()) + " threads)";
  return device_.str();
}

worker::TextEncoder& TaskRunner::Impl::encoder_for(torch::Dtype dtype) {
  auto found = encoders_.find(dtype);
  if (found != encoders_.end()) return found->second;
  if (dtype == torch::kHalf && device_.is_cpu()) {
    throw Error("precision fp16 needs a CUDA device (--device cuda); on the CPU use fp32 or bf16");
  }
  worker::TextEncoder encoder = worker::load_text_encoder(options_.checkpoint_path);
  encoder->to_precision(device_, dtype);
  return encoders_.emplace(dtype, encoder).first->second;
}

const TaskRunner::Impl::Split& TaskRunner::Impl::split(const std::string& dataset, const std::string& name) {
  const std::string key = dataset + "/" + name;
  auto found = splits_.find(key);
  if (found != splits_.end()) return *found->second;
  storage::SplitFeatures raw = store_.read_split(dataset, name);
  auto split = std::make_shared<Split>();
  split->features = torch::from_blob(raw.features.data(), {raw.rows, raw.dim}, torch::kFloat32).clone();
  if (raw.num_views > 0) {
    split->views = torch::from_blob(raw.views.data(), {raw.num_views, raw.rows, raw.dim}, torch::kFloat32).clone();
  }
  const auto classnames = store_.classnames(dataset);
  split->labels.assign(raw.labels.begin(), raw.labels.end());
  for (int64_t i = 0; i < raw.rows; ++i) {
    split->items.push_back({raw.paths[i], raw.labels[i], classnames.at(raw.labels[i])});
  }
  split->paths = std::move(raw.paths);
  return *splits_.emplace(key, split).first->second;
}

const std::string& TaskRunner::Impl::features_digest(const std::string& dataset) {
  const auto cached = features_digests_.find(dataset);
  if (cached != features_digests_.end()) return cached->second;
  const storage::DatasetSummary summary = store_.summary(dataset);
  ContentHasher hasher;
  for (const std::string& name : store_.classnames(dataset)) hasher.update_field(name);
  hasher.update_field(summary.prompt_template);
  for (const std::string name : {"train", "val"}) {
    if (summary.split_rows.count(name) == 0) continue;
    const Split& part = split(dataset, name);
    hasher.update_field(name);
    hash_floats(hasher, part.features.data_ptr<float>(), static_cast<size_t>(part.features.numel()));
    hasher.update(part.labels.data(), part.labels.size() * sizeof(int));
    for (const std::string& path : part.paths) hasher.update_field(path);
    if (part.views.defined()) hash_floats(hasher, part.views.data_ptr<float>(), static_cast<size_t>(part.views.numel()));
  }
  if (summary.split_rows.count("test") != 0) {
    hasher.update_field("test");
    store_.for_each_chunk(dataset, "test", kTestRowsPerChunk, [&](const storage::SplitChunk& chunk) {
      hash_floats(hasher, chunk.features.data(), chunk.features.size());
      hasher.update(chunk.labels.data(), chunk.labels.size() * sizeof(int32_t));
    });
  }
  return features_digests_.emplace(dataset, to_hex16(hasher.digest())).first->second;
}

// The spec names what it ran on: the store's backbone and the content digests of its dataset and of
// the weights. A spec that already names other inputs was meant for other files: an error, never a
// silent overwrite.
void TaskRunner::Impl::fill_inputs(sweeps::TaskSpec& spec) {
  auto settle = [](std::string& field, const std::string& actual, const std::string& name, const std::string& source) {
    if (!field.empty() && field != actual) {
      throw Error("task field '" + name + "' is '" + field + "' but " + source + " gives '" + actual +
                  "'; the task was meant for other inputs (run it with those, or drop the field)");
    }
    field = actual;
  };
  settle(spec.backbone, store_.backbone(), "backbone", options_.features_path);
  settle(spec.features_digest, features_digest(spec.dataset), "inputs.features",
         options_.features_path + " (dataset " + spec.dataset + ")");
  settle(spec.checkpoint_digest, checkpoint_digest_, "inputs.checkpoint", options_.checkpoint_path);
  for (const std::string& target : spec.targets) {
    settle(spec.target_digests[target], features_digest(target), "inputs.targets." + target,
           options_.features_path + " (dataset " + target + ")");
  }
}

sweeps::TaskSpec TaskRunner::Impl::prepare(sweeps::TaskSpec spec) {
  spec.resolve();
  if (!store_.summary(spec.dataset).split_rows.count("train")) {
    throw Error(options_.features_path + ": dataset " + spec.dataset + " has no train split (a test-only dataset"
                " such as imagenet_sketch); test it as a target: --protocol domain_generalization --targets " +
                spec.dataset);
  }
  for (const std::string& dataset : spec.targets) {
    if (!store_.summary(dataset).split_rows.count("test")) {
      throw Error(options_.features_path + ": target dataset " + dataset + " has no test split to evaluate on");
    }
  }
  if (!store_.summary(spec.dataset).split_rows.count("test")) {
    throw Error(options_.features_path + ": dataset " + spec.dataset + " has no test split to evaluate on");
  }
  fill_inputs(spec);
  return spec;
}

TaskResult TaskRunner::Impl::run(const sweeps::TaskSpec& spec) {
  const auto start = Clock::now();
  TaskResult result;
  json& record = result.record;
  record["task_id"] = spec.id();
  record["spec"] = spec.to_json();
  try {
    result.prompts = run_unchecked(spec, record);
    record["status"] = "ok";
  } catch (const worker::TrainingInterrupted& e) {
    result.prompts.clear();
    record["status"] = "interrupted";
    const int epoch = record["train"].value("checkpoint_epoch", 0);
    log_info("task " + record["task_id"].get<std::string>() + ": " + e.what() +
             (epoch > 0 ? "; its checkpoint after epoch " + std::to_string(epoch) + " is saved"
                        : "; no epoch had finished: the next run starts it over"));
  } catch (const std::exception& e) {
    result.prompts.clear();
    record["status"] = "failed";
    record["error"] = error_text(e);
    record["error_kind"] = to_string(error_kind(e));
    log_warning("task " + record["task_id"].get<std::string>() + " failed: " + record["error"].get<std::string>());
  }
  record["timings"]["total_s"] = seconds_since(start);
  record["features"] = options_.features_path;
  record["checkpoint"] = options_.checkpoint_path;
  record["device"] = device_description();
  record["software"] = {{"promptgrid", "0.1.0"}, {"libtorch", TORCH_VERSION}, {"hdf5", storage::hdf5_library_version()}};
  record["host"] = host_name();
  record["finished_at"] = utc_now_iso8601();
  return result;
}

std::vector<storage::NamedTensor> TaskRunner::Impl::run_unchecked(const sweeps::TaskSpec& spec, json& record) {
  const auto setup_start = Clock::now();
  const sweeps::MethodInfo& method = spec.method_info();
  const std::vector<std::string> classnames = store_.classnames(spec.dataset);
  const int64_t num_classes = static_cast<int64_t>(classnames.size());
  const bool base2novel = spec.protocol == "base2novel";
  const Split& train = split(spec.dataset, "train");

  // The classes trained on and, for base2novel, the novel classes tested on (CoCoOp's subsample_classes
  // over the labels of the train set the task sees).
  std::vector<int64_t> train_rows = all_rows(train.labels.size());
  std::vector<int> train_labels = train.labels;
  std::vector<int64_t> val_rows;
  if (method.trains) {
    const Split& val = split(spec.dataset, "val");
    const sweeps::FewShotSample sample = sweeps::sample_few_shot(train.items, val.items, spec.shots, spec.seed);
    train_rows.assign(sample.train.begin(), sample.train.end());
    val_rows.assign(sample.val.begin(), sample.val.end());
    train_labels.clear();
    for (int64_t row : train_rows) train_labels.push_back(train.labels[row]);
  }
  const auto seen = base2novel ? sweeps::Subsample::kBase : sweeps::Subsample::kAll;
  const sweeps::ClassSelection seen_classes = sweeps::select_classes(train_labels, seen);
  const std::vector<std::string> seen_names = names_of(seen_classes, classnames);
  sweeps::ClassSelection novel_classes;
  if (base2novel) novel_classes = sweeps::select_classes(train_labels, sweeps::Subsample::kNew);

  // Dassl builds the classifier from the classes of the train split; a class with no training image is
  // not in it. Its test images are still scored (as errors) in the few-shot protocol, and left out of
  // base and novel alike in base2novel. Either way the record says so.
  std::vector<std::string> missing;
  {
    const std::set<int> present(train_labels.begin(), train_labels.end());
    for (int64_t label = 0; label < num_classes; ++label) {
      if (present.count(static_cast<int>(label)) == 0) missing.push_back(classnames[static_cast<size_t>(label)]);
    }
  }
  record["counts"] = {{"classes", seen_names.size()}};
  if (base2novel) record["counts"]["novel_classes"] = novel_classes.labels.size();

  // The method's task: its settings, the classes trained on and their few-shot samples.
  const std::string prompt_template = store_.prompt_template(spec.dataset);
  worker::MethodTask task;
  task.settings = spec.settings;
  task.classnames = seen_names;
  task.prompt_template = prompt_template;
  task.seed = static_cast<uint64_t>(spec.seed);
  Subset seen_val;
  if (method.trains) {
    const Subset seen_train = select(seen_classes, train_rows, train.labels);
    task.train.features = take_rows(train.features, seen_train.rows);
    if (train.views.defined()) task.train.views = take_rows(train.views, seen_train.rows, 1);
    task.train.labels = torch::tensor(seen_train.labels, torch::kInt64);
    const Split& val = split(spec.dataset, "val");
    seen_val = select(seen_classes, val_rows, val.labels);
    task.val.features = take_rows(val.features, seen_val.rows);
    task.val.labels = torch::tensor(seen_val.labels, torch::kInt64);
    record["counts"]["train"] = seen_train.rows.size();
    record["counts"]["val_sampled"] = val_rows.size();
  }
  std::optional<worker::TrainState> resume;
  auto last_saved = Clock::now();
  std::string checkpoint_path;
  std::optional<worker::TrainState> latest_state;  // of the last finished epoch, until it is saved
  int checkpoint_epoch = 0;                          // where the saved checkpoint resumes; 0: none
  auto save_checkpoint = [&] {
    if (!latest_state) return;
    try {
      save_train_checkpoint(checkpoint_path, record["spec"], *latest_state);
      checkpoint_epoch = latest_state->next_epoch;
    } catch (const Error& e) {  // the task goes on; only its resumability is lost
      log_warning(std::string("task ") + spec.id() + ": cannot save a checkpoint: " + e.what());
    }
    latest_state.reset();
  };
  if (method.trains && !options_.checkpoint_dir.empty()) {
    const std::string path = options_.checkpoint_dir + "/" + spec.id() + ".h5";
    resume = load_train_checkpoint(path, record["spec"]);
    if (resume) {
      task.resume = &*resume;
      checkpoint_epoch = resume->next_epoch;
      record["train"]["resumed_at_epoch"] = resume->next_epoch;
      log_info("task " + spec.id() + ": resuming from its checkpoint at epoch " + std::to_string(resume->next_epoch));
    }
    checkpoint_path = path;
    task.on_epoch_end = [&](const worker::TrainState& state) {
      latest_state = state;  // small (the trained tensors); saved at once when a stop is requested
      if (seconds_since(last_saved) < options_.checkpoint_every_s) return;
      save_checkpoint();
      last_saved = Clock::now();
    };
    task.stop_requested = options_.stop_requested;
  }
  record["timings"]["setup_s"] = seconds_since(setup_start);

  const auto train_start = Clock::now();
  worker::MethodEnvironment environment{tokenizer_, [this](torch::Dtype dtype) -> worker::TextEncoder& {
                                          return encoder_for(dtype);
                                        },
                                        device_, options_.max_sequences};
  std::unique_ptr<worker::TrainedMethod> trained;
  try {
    trained = worker::find_method_runner(spec.method)(task, environment);
  } catch (const worker::TrainingInterrupted& stop) {
    save_checkpoint();
    record["train"]["interrupted_in_epoch"] = stop.epoch + 1;
    record["train"]["checkpoint_epoch"] = checkpoint_epoch;  // 0: no epoch finished, it starts over
    throw;
  }
  if (method.trains) {
    json train_summary = trained->report;
    if (record.contains("train")) train_summary.update(record["train"]);
    record["train"] = train_summary;
  }
  record["timings"]["train_s"] = seconds_since(train_start);

  // The classifiers: of the classes trained on, and of the novel classes where the method has one.
  const auto eval_start = Clock::now();
  std::unique_ptr<worker::Classifier> seen_classifier = trained->classifier(seen_names, prompt_template);
  if (!seen_classifier) throw Error("method " + spec.method + " gave no classifier for the classes it was trained on", ErrorKind::internal);
  std::optional<double> val_accuracy;
  if (!seen_val.rows.empty()) {
    // Accuracy on the few-shot validation sample (Dassl draws it after the training shots), so a sweep
    // can select hyperparameters without looking at test.
    worker::AccuracyCounter val_counter;
    val_counter.add(*seen_classifier, task.val.features, task.val.labels, device_);
    record["counts"]["val"] = seen_val.rows.size();
    val_accuracy = val_counter.percent();
  }
  Evaluation seen_eval(seen_classes, num_classes, /*score_missing_rows=*/!base2novel, std::move(seen_classifier));
  std::vector<Evaluation*> evaluations = {&seen_eval};
  std::optional<Evaluation> novel_eval;
  std::vector<std::string> not_applicable;
  if (base2novel) {
    std::unique_ptr<worker::Classifier> novel = trained->classifier(names_of(novel_classes, classnames), prompt_template);
    if (novel) {
      novel_eval.emplace(novel_classes, num_classes, false, std::move(novel));
      evaluations.push_back(&*novel_eval);
    } else {
      not_applicable = {"novel", "harmonic"};
    }
  }
  score_test_split(store_, spec.dataset, device_, evaluations);
  record["counts"]["test"] = seen_eval.counter.total();
  if (base2novel) {
    const double base = seen_eval.counter.percent();
    record["metrics"] = {{"base", base}};
    if (novel_eval) {
      record["counts"]["novel_test"] = novel_eval->counter.total();
      const double novel = novel_eval->counter.percent();
      record["metrics"]["novel"] = novel;
      record["metrics"]["harmonic"] = sweeps::harmonic_mean(base, novel);
    }
  } else {
    record["metrics"] = {{"accuracy", seen_eval.counter.percent()}};
  }
  if (sweeps::is_transfer_protocol(spec.protocol)) {
    // The same model on each target's test split, with the target's class names and template.
    std::vector<double> accuracies;
    for (const std::string& target : spec.targets) {
      const std::vector<std::string> names = store_.classnames(target);
      std::unique_ptr<worker::Classifier> classifier = trained->classifier(names, store_.prompt_template(target));
      if (!classifier) {
        not_applicable.push_back(sweeps::target_metric(target));
        continue;
      }
      sweeps::ClassSelection all_classes;
      for (size_t label = 0; label < names.size(); ++label) all_classes.labels.push_back(static_cast<int>(label));
      Evaluation target_eval(all_classes, static_cast<int64_t>(names.size()), false, std::move(classifier));
      score_test_split(store_, target, device_, {&target_eval});
      const double accuracy = target_eval.counter.percent();
      record["metrics"][sweeps::target_metric(target)] = accuracy;
      record["counts"]["test." + target] = target_eval.counter.total();
      accuracies.push_back(accuracy);
    }
    if (accuracies.empty()) {
      not_applicable.push_back("average");
    } else {
      double sum = 0;
      for (double accuracy : accuracies) sum += accuracy;
      record["metrics"]["average"] = sum / static_cast<double>(accuracies.size());
    }
  }
  if (!not_applicable.empty()) record["not_applicable"] = not_applicable;
  if (val_accuracy) record["metrics"]["val_accuracy"] = *val_accuracy;
  record["timings"]["eval_s"] = seconds_since(eval_start);

  record["warnings"] = json::array();
  if (!missing.empty()) {
    const size_t named = std::min<size_t>(missing.size(), 10);
    const std::string which = join(std::vector<std::string>(missing.begin(), missing.begin() + named), ", ") +
                              (named < missing.size() ? ", ..." : "");
    record["warnings"].push_back(
        "the train split has no images of " + std::to_string(missing.size()) + " of the " +
        std::to_string(num_classes) + " classes (" + which + "): as in Dassl, the classifier holds only the classes "
        "of the train split; " +
        (base2novel ? std::string("their test images are in neither the base nor the novel test set")
                    : std::to_string(seen_eval.missing_rows) + " test images of these classes count as errors"));
  }
  if (trained->report.contains("not_converged")) record["warnings"].push_back(trained->report["not_converged"]);
  return trained->learned;
}

TaskRunner::TaskRunner(const RunnerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
TaskRunner::~TaskRunner() = default;
sweeps::TaskSpec TaskRunner::prepare(sweeps::TaskSpec spec) { return impl_->prepare(std::move(spec)); }
TaskResult TaskRunner::run(const sweeps::TaskSpec& prepared) { return impl_->run(prepared); }
const storage::FeatureStoreReader& TaskRunner::store() const { return impl_->store_; }
std::string TaskRunner::device_description() const { return impl_->device_description(); }
const std::string& TaskRunner::checkpoint_digest() const { return impl_->checkpoint_digest_; }
const std::string& TaskRunner::features_digest(const std::string& dataset) { return impl_->features_digest(dataset); }

}  // namespace pg::orchestrator
