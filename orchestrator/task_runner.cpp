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
  std::vector<TaskResult> run_pack(const std::vector<sweeps::TaskSpec>& specs);
  TaskResult run_sharded(const sweeps::TaskSpec& spec, worker::Collectives& group,
                         const std::function<void()>& trained_together);
  std::string device_description() const;
  const std::string& features_digest(const std::string& dataset);

  struct Split;
  const Split& split(const std::string& dataset, const std::string& name);
  worker::TextEncoder& encoder_for(torch::Dtype dtype);
  void fill_inputs(sweeps::TaskSpec& spec);

  // A task's steps: set up (sample, classes, checkpoint hooks), train (one of the run_* functions),
  // evaluate; and the fields every record ends with.
  struct PreparedTask;
  using Trainer = std::function<std::unique_ptr<worker::TrainedMethod>(PreparedTask&)>;
  std::unique_ptr<PreparedTask> set_up(const sweeps::TaskSpec& spec, nlohmann::json& record, bool saves_checkpoints);
  void record_training(PreparedTask& prepared, const worker::TrainedMethod& trained, double seconds);
  std::vector<storage::NamedTensor> evaluate(PreparedTask& prepared, worker::TrainedMethod& trained);
  void finish_record(nlohmann::json& record, Clock::time_point start) const;
  worker::MethodEnvironment environment();
  // One task trained by `train`; only a group's leader (or a task on its own) evaluates and saves.
  TaskResult run_one(const sweeps::TaskSpec& spec, const Trainer& train, bool group_leader = true);

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

// A task between its setup and its evaluation: the method's task (few-shot sample and hooks), what
// its evaluation needs (the class selections), and its checkpoint state. Not movable: the hooks given
// to the method point at it.
struct TaskRunner::Impl::PreparedTask {
  PreparedTask() = default;
  PreparedTask(const PreparedTask&) = delete;
  PreparedTask& operator=(const PreparedTask&) = delete;

  const sweeps::TaskSpec* spec = nullptr;
  json* record = nullptr;
  worker::MethodTask task;
  std::vector<std::string> classnames;  // the dataset's, all of them
  bool base2novel = false;
  sweeps::ClassSelection seen_classes, novel_classes;
  std::vector<std::string> seen_names;
  std::vector<std::string> missing;  // classes with no train image
  Subset seen_val;
  // Checkpoints (trained methods, with a checkpoint folder).
  std::optional<worker::TrainState> resume;
  std::string checkpoint_path;                  // empty: this task saves none
  std::optional<worker::TrainState> latest_state;  // of the last finished epoch, until it is saved
  int checkpoint_epoch = 0;                        // where the saved checkpoint resumes; 0: none
  Clock::time_point last_saved = Clock::now();

  void save_checkpoint() {
    if (!latest_state || checkpoint_path.empty()) return;
    try {
      save_train_checkpoint(checkpoint_path, (*record)["spec"], *latest_state);
      checkpoint_epoch = latest_state->next_epoch;
    } catch (const Error& e) {  // the task goes on; only its resumability is lost
      log_warning("task " + spec->id() + ": cannot save a checkpoint: " + e.what());
    }
    latest_state.reset();
  }
  // After a stop in `epoch` (0-based): saves the last finished epoch and says where the task resumes.
  void record_interrupt(int epoch) {
    save_checkpoint();
    (*record)["train"]["interrupted_in_epoch"] = epoch + 1;
    (*record)["train"]["checkpoint_epoch"] = checkpoint_epoch;  // 0: no epoch finished, it starts over
  }
};

namespace {

void start_record(const sweeps::TaskSpec& spec, json& record) {
  record["task_id"] = spec.id();
  record["spec"] = spec.to_json();
}

void mark_interrupted(json& record, const std::string& what) {
  record["status"] = "interrupted";
  const int epoch = record["train"].value("checkpoint_epoch", 0);
  log_info("task " + record["task_id"].get<std::string>() + ": " + what +
           (epoch > 0 ? "; its checkpoint after epoch " + std::to_string(epoch) + " is saved"
                      : "; no epoch had finished: the next run starts it over"));
}

void mark_failed(json& record, const std::string& error, ErrorKind kind) {
  record["status"] = "failed";
  record["error"] = error;
  record["error_kind"] = to_string(kind);
  log_warning("task " + record["task_id"].get<std::string>() + " failed: " + error);
}

void mark_failed(json& record, const std::exception& e) { mark_failed(record, error_text(e), error_kind(e)); }

}  // namespace

void TaskRunner::Impl::finish_record(json& record, Clock::time_point start) const {
  record["timings"]["total_s"] = seconds_since(start);
  record["features"] = options_.features_path;
  record["checkpoint"] = options_.checkpoint_path;
  record["device"] = device_description();
  record["software"] = {{"promptgrid", "0.1.0"}, {"libtorch", TORCH_VERSION}, {"hdf5", storage::hdf5_library_version()}};
  record["host"] = host_name();
  record["finished_at"] = utc_now_iso8601();
}

worker::MethodEnvironment TaskRunner::Impl::environment() {
  return {tokenizer_, [this](torch::Dtype dtype) -> worker::TextEncoder& { return encoder_for(dtype); }, device_,
          options_.max_sequences};
}

TaskResult TaskRunner::Impl::run_one(const sweeps::TaskSpec& spec, const Trainer& train, bool group_leader) {
  const auto start = Clock::now();
  TaskResult result;
  json& record = result.record;
  start_record(spec, record);
  try {
    std::unique_ptr<PreparedTask> prepared = set_up(spec, record, /*saves_checkpoints=*/group_leader);
    const auto train_start = Clock::now();
    std::unique_ptr<worker::TrainedMethod> trained;
    try {
      trained = train(*prepared);
    } catch (const worker::TrainingInterrupted& stop) {
      prepared->record_interrupt(stop.epoch);
      throw;
    }
    record_training(*prepared, *trained, seconds_since(train_start));
    // The other ranks of a group hold the same trained method: the leader evaluates it alone.
    if (group_leader) result.prompts = evaluate(*prepared, *trained);
    record["status"] = "ok";
  } catch (const worker::TrainingInterrupted& e) {
    result.prompts.clear();
    mark_interrupted(record, e.what());
  } catch (const std::exception& e) {
    result.prompts.clear();
    mark_failed(record, e);
  }
  finish_record(record, start);
  return result;
}

TaskResult TaskRunner::Impl::run(const sweeps::TaskSpec& spec) {
  return run_one(spec, [&](PreparedTask& prepared) {
    worker::MethodEnvironment methods = environment();
    return worker::find_method(spec.method).run(prepared.task, methods);
  });
}

TaskResult TaskRunner::Impl::run_sharded(const sweeps::TaskSpec& spec, worker::Collectives& group,
                                         const std::function<void()>& trained_together) {
  return run_one(
      spec,
      [&](PreparedTask& prepared) {
        const worker::MethodEntry& method = worker::find_method(spec.method);
        if (!method.run_sharded) {
          throw Error("method " + spec.method + " cannot train across ranks", ErrorKind::internal);
        }
        // Every rank must stop at the same step, or the others would wait in a collective forever:
        // the group stops when any of its ranks was asked to.
        const std::function<bool()> asked = prepared.task.stop_requested;
        const torch::Device device = device_;
        prepared.task.stop_requested = [asked, &group, device] {
          torch::Tensor votes = torch::full({1}, asked && asked() ? 1.0 : 0.0, torch::kFloat32);
          votes = votes.to(device);  // NCCL reduces device tensors only
          group.all_reduce_sum(votes);
          return votes.item<double>() > 0;
        };
        worker::MethodEnvironment methods = environment();
        std::unique_ptr<worker::TrainedMethod> trained;
        try {
          trained = method.run_sharded(prepared.task, methods, group);
        } catch (...) {
          trained_together();
          throw;
        }
        trained_together();
        return trained;
      },
      /*group_leader=*/group.rank() == 0);
}

std::vector<TaskResult> TaskRunner::Impl::run_pack(const std::vector<sweeps::TaskSpec>& specs) {
  if (specs.empty()) return {};
  std::vector<TaskResult> results(specs.size());
  std::vector<Clock::time_point> starts(specs.size());
  std::vector<std::unique_ptr<PreparedTask>> prepared(specs.size());
  std::vector<const worker::MethodTask*> tasks;
  std::vector<size_t> packed;  // the index of each of `tasks` in `specs`
  for (size_t i = 0; i < specs.size(); ++i) {
    starts[i] = Clock::now();
    start_record(specs[i], results[i].record);
    try {
      if (specs[i].method != specs.front().method || specs[i].settings.value("precision", "fp32") !=
                                                         specs.front().settings.value("precision", "fp32")) {
        throw Error("a pack holds tasks of one method and precision; task " + specs[i].id() + " differs from " +
                        specs.front().id(),
                    ErrorKind::internal);
      }
      prepared[i] = set_up(specs[i], results[i].record, /*saves_checkpoints=*/true);
      tasks.push_back(&prepared[i]->task);
      packed.push_back(i);
    } catch (const std::exception& e) {
      mark_failed(results[i].record, e);
    }
  }
  const auto train_start = Clock::now();
  std::vector<worker::PackedMethodResult> outcomes;
  try {
    const worker::MethodEntry& method = worker::find_method(specs.front().method);
    if (!method.run_packed) throw Error("method " + specs.front().method + " cannot train packed", ErrorKind::internal);
    worker::MethodEnvironment methods = environment();
    if (!tasks.empty()) outcomes = method.run_packed(tasks, methods);
  } catch (const std::exception& e) {  // the pack's own failure: each of its tasks says so
    for (size_t i : packed) mark_failed(results[i].record, e);
    packed.clear();
  }
  const double train_s = seconds_since(train_start);
  for (size_t k = 0; k < packed.size(); ++k) {
    const size_t i = packed[k];
    json& record = results[i].record;
    worker::PackedMethodResult& outcome = outcomes.at(k);
    // The pass was shared: train_s is the pack's, as the record says.
    record["pack"] = {{"tasks", tasks.size()}, {"position", k}};
    try {
      if (outcome.interrupted_epoch) {
        prepared[i]->record_interrupt(*outcome.interrupted_epoch);
        mark_interrupted(record, worker::TrainingInterrupted(*outcome.interrupted_epoch).what());
        continue;
      }
      if (!outcome.trained) {
        mark_failed(record, outcome.error, ErrorKind::user);
        continue;
      }
      record_training(*prepared[i], *outcome.trained, train_s);
      results[i].prompts = evaluate(*prepared[i], *outcome.trained);
      record["status"] = "ok";
    } catch (const std::exception& e) {
      results[i].prompts.clear();
      mark_failed(record, e);
    }
  }
  for (size_t i = 0; i < specs.size(); ++i) finish_record(results[i].record, starts[i]);
  return results;
}

std::unique_ptr<TaskRunner::Impl::PreparedTask> TaskRunner::Impl::set_up(const sweeps::TaskSpec& spec, json& record,
                                                                         bool saves_checkpoints) {
  const auto setup_start = Clock::now();
  auto prepared = std::make_unique<PreparedTask>();
  prepared->spec = &spec;
  prepared->record = &record;
  const sweeps::MethodInfo& method = spec.method_info();
  prepared->classnames = store_.classnames(spec.dataset);
  const std::vector<std::string>& classnames = prepared->classnames;
  const int64_t num_classes = static_cast<int64_t>(classnames.size());
  const bool base2novel = prepared->base2novel = spec.protocol == "base2novel";
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
    // What a replay or an audit needs: the rows of the store's splits in sampling order, and a digest
    // of their image paths (the rows name other images if the store was re-imported differently).
    ContentHasher paths;
    for (size_t row : sample.train) paths.update_field(train.paths.at(row));
    for (size_t row : sample.val) paths.update_field(val.paths.at(row));
    record["sample"] = {{"train_rows", sample.train}, {"val_rows", sample.val}, {"paths_xxh64", to_hex16(paths.digest())}};
    train_labels.clear();
    for (int64_t row : train_rows) train_labels.push_back(train.labels[row]);
  }
  const auto seen = base2novel ? sweeps::Subsample::kBase : sweeps::Subsample::kAll;
  prepared->seen_classes = sweeps::select_classes(train_labels, seen);
  prepared->seen_names = names_of(prepared->seen_classes, classnames);
  if (base2novel) prepared->novel_classes = sweeps::select_classes(train_labels, sweeps::Subsample::kNew);

  // Dassl builds the classifier from the classes of the train split; a class with no training image is
  // not in it. Its test images are still scored (as errors) in the few-shot protocol, and left out of
  // base and novel alike in base2novel. Either way the record says so.
  {
    const std::set<int> present(train_labels.begin(), train_labels.end());
    for (int64_t label = 0; label < num_classes; ++label) {
      if (present.count(static_cast<int>(label)) == 0) prepared->missing.push_back(classnames[static_cast<size_t>(label)]);
    }
  }
  record["counts"] = {{"classes", prepared->seen_names.size()}};
  if (base2novel) record["counts"]["novel_classes"] = prepared->novel_classes.labels.size();

  // The method's task: its settings, the classes trained on and their few-shot samples.
  worker::MethodTask& task = prepared->task;
  task.settings = spec.settings;
  task.classnames = prepared->seen_names;
  task.prompt_template = store_.prompt_template(spec.dataset);
  task.seed = static_cast<uint64_t>(spec.seed);
  if (method.trains) {
    const Subset seen_train = select(prepared->seen_classes, train_rows, train.labels);
    task.train.features = take_rows(train.features, seen_train.rows);
    if (train.views.defined()) task.train.views = take_rows(train.views, seen_train.rows, 1);
    task.train.labels = torch::tensor(seen_train.labels, torch::kInt64);
    const Split& val = split(spec.dataset, "val");
    prepared->seen_val = select(prepared->seen_classes, val_rows, val.labels);
    task.val.features = take_rows(val.features, prepared->seen_val.rows);
    task.val.labels = torch::tensor(prepared->seen_val.labels, torch::kInt64);
    record["counts"]["train"] = seen_train.rows.size();
    record["counts"]["val_sampled"] = val_rows.size();
  }
  if (method.trains && !options_.checkpoint_dir.empty()) {
    const std::string path = options_.checkpoint_dir + "/" + spec.id() + ".h5";
    prepared->resume = load_train_checkpoint(path, record["spec"]);
    if (prepared->resume) {
      task.resume = &*prepared->resume;
      prepared->checkpoint_epoch = prepared->resume->next_epoch;
      record["train"]["resumed_at_epoch"] = prepared->resume->next_epoch;
      log_info("task " + spec.id() + ": resuming from its checkpoint at epoch " +
               std::to_string(prepared->resume->next_epoch));
    }
    if (saves_checkpoints) {
      prepared->checkpoint_path = path;
      PreparedTask* state = prepared.get();
      task.on_epoch_end = [this, state](const worker::TrainState& epoch_state) {
        state->latest_state = epoch_state;  // small (the trained tensors); saved at once when a stop is requested
        if (seconds_since(state->last_saved) < options_.checkpoint_every_s) return;
        state->save_checkpoint();
        state->last_saved = Clock::now();
      };
    }
    task.stop_requested = options_.stop_requested;
  }
  record["timings"]["setup_s"] = seconds_since(setup_start);
  return prepared;
}

void TaskRunner::Impl::record_training(PreparedTask& prepared, const worker::TrainedMethod& trained, double seconds) {
  json& record = *prepared.record;
  if (prepared.spec->method_info().trains) {
    json train_summary = trained.report;
    if (record.contains("train")) train_summary.update(record["train"]);
    record["train"] = train_summary;
  }
  record["timings"]["train_s"] = seconds;
}

std::vector<storage::NamedTensor> TaskRunner::Impl::evaluate(PreparedTask& prepared, worker::TrainedMethod& trained) {
  const sweeps::TaskSpec& spec = *prepared.spec;
  json& record = *prepared.record;
  const std::vector<std::string>& classnames = prepared.classnames;
  const int64_t num_classes = static_cast<int64_t>(classnames.size());
  const bool base2novel = prepared.base2novel;
  const std::vector<std::string>& seen_names = prepared.seen_names;
  const sweeps::ClassSelection& seen_classes = prepared.seen_classes;
  const sweeps::ClassSelection& novel_classes = prepared.novel_classes;
  const std::vector<std::string>& missing = prepared.missing;
  const Subset& seen_val = prepared.seen_val;
  const worker::MethodTask& task = prepared.task;
  const std::string& prompt_template = task.prompt_template;

  // The classifiers: of the classes trained on, and of the novel classes where the method has one.
  const auto eval_start = Clock::now();
  std::unique_ptr<worker::Classifier> seen_classifier = trained.classifier(seen_names, prompt_template);
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
    std::unique_ptr<worker::Classifier> novel = trained.classifier(names_of(novel_classes, classnames), prompt_template);
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
      std::unique_ptr<worker::Classifier> classifier = trained.classifier(names, store_.prompt_template(target));
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
  if (trained.report.contains("not_converged")) record["warnings"].push_back(trained.report["not_converged"]);
  return trained.learned;
}

TaskRunner::TaskRunner(const RunnerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
TaskRunner::~TaskRunner() = default;
sweeps::TaskSpec TaskRunner::prepare(sweeps::TaskSpec spec) { return impl_->prepare(std::move(spec)); }
TaskResult TaskRunner::run(const sweeps::TaskSpec& prepared) { return impl_->run(prepared); }
std::vector<TaskResult> TaskRunner::run_pack(const std::vector<sweeps::TaskSpec>& prepared) {
  return impl_->run_pack(prepared);
}
TaskResult TaskRunner::run_sharded(const sweeps::TaskSpec& prepared, worker::Collectives& group,
                                   const std::function<void()>& trained_together) {
  return impl_->run_sharded(prepared, group, trained_together);
}
std::string TaskRunner::pack_key(const sweeps::TaskSpec& prepared) const {
  if (!worker::find_method(prepared.method).run_packed || worker::pure_half_precision(prepared.settings)) return "";
  return prepared.dataset + "|" + prepared.method + "|" + prepared.settings.value("precision", std::string("fp32"));
}

bool TaskRunner::can_split(const sweeps::TaskSpec& prepared) const {
  // A class-specific context cannot be split by class (the spec says generic where CoOp ignores CSC).
  return worker::find_method(prepared.method).run_sharded && !prepared.settings.value("class_specific", false) &&
         !worker::pure_half_precision(prepared.settings);
}

const storage::FeatureStoreReader& TaskRunner::store() const { return impl_->store_; }
const std::string& TaskRunner::device() const { return impl_->options_.device; }
std::string TaskRunner::device_description() const { return impl_->device_description(); }
const std::string& TaskRunner::checkpoint_digest() const { return impl_->checkpoint_digest_; }
const std::string& TaskRunner::features_digest(const std::string& dataset) { return impl_->features_digest(dataset); }

}  // namespace pg::orchestrator
