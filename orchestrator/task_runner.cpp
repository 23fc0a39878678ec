#include "orchestrator/task_runner.h"

#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "results/tables.h"
#include "storage/library_version.h"
#include "storage/prompt_store.h"
#include "sweeps/class_split.h"
#include "sweeps/fewshot.h"
#include "worker/coop_prompt_learner.h"
#include "worker/coop_trainer.h"
#include "worker/evaluation.h"
#include "worker/zeroshot.h"

namespace pg::orchestrator {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
}

torch::Dtype precision_dtype(const std::string& precision) {
  if (precision == "fp16") return torch::kHalf;
  if (precision == "bf16") return torch::kBFloat16;
  return torch::kFloat32;
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

}  // namespace

struct TaskRunner::Split {
  torch::Tensor features;  // [N, E] float32, CPU
  torch::Tensor views;     // [V, N, E] float32, CPU; undefined without augmented views
  std::vector<int> labels;
  std::vector<sweeps::SplitItem> items;  // what few-shot sampling sees: relpath, label, class name
};

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    throw Error("--device '" + name + "' is not a device; use cpu, cuda or cuda:N");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw Error("--device " + name + ": this promptgrid build or machine has no CUDA device; use --device cpu");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA devices");
    }
  } else if (!device.is_cpu()) {
    throw Error("--device '" + name + "' is not supported; use cpu, cuda or cuda:N");
  }
  return device;
}

TaskRunner::TaskRunner(const RunnerOptions& options)
    : options_(options),
      store_(options.features_path),
      tokenizer_(text::Tokenizer::from_vocab_file(options.vocab_path)),
      device_(parse_device(options.device)) {
  make_directories(options_.out_dir);
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
}

std::string TaskRunner::device_description() const {
  if (device_.is_cpu()) return "cpu (" + std::to_string(torch::get_num_threads()) + " threads)";
  return device_.str();
}

worker::TextEncoder& TaskRunner::encoder_for(torch::Dtype dtype) {
  auto found = encoders_.find(dtype);
  if (found != encoders_.end()) return found->second;
  if (dtype == torch::kHalf && device_.is_cpu()) {
    throw Error("precision fp16 needs a CUDA device (--device cuda); on the CPU use fp32 or bf16");
  }
  worker::TextEncoder encoder = worker::load_text_encoder(options_.checkpoint_path);
  encoder->to_precision(device_, dtype);
  return encoders_.emplace(dtype, encoder).first->second;
}

const TaskRunner::Split& TaskRunner::split(const std::string& dataset, const std::string& name) {
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
  return *splits_.emplace(key, split).first->second;
}

json TaskRunner::run(sweeps::TaskSpec spec) {
  const auto start = Clock::now();
  json record;
  try {
    spec.backbone = store_.backbone();
    spec.resolve();
    record["task_id"] = spec.id();
    record["spec"] = spec.to_json();
    run_unchecked(spec, record);
    record["status"] = "ok";
  } catch (const std::exception& e) {
    record["status"] = "failed";
    record["error"] = e.what();
    if (!record.contains("spec")) record["spec"] = spec.to_json();
    if (!record.contains("task_id")) record["task_id"] = spec.id();
    log_warning("task " + record["task_id"].get<std::string>() + " failed: " + e.what());
  }
  record["timings"]["total_s"] = seconds_since(start);
  record["features"] = options_.features_path;
  record["checkpoint"] = options_.checkpoint_path;
  record["device"] = device_description();
  record["software"] = {{"promptgrid", "0.1.0"}, {"libtorch", TORCH_VERSION}, {"hdf5", storage::hdf5_library_version()}};
  record["host"] = host_name();
  record["finished_at"] = utc_now_iso8601();
  write_json_file_atomic(options_.out_dir + "/" + record["task_id"].get<std::string>() + ".json", record);
  return record;
}

void TaskRunner::run_unchecked(const sweeps::TaskSpec& spec, json& record) {
  const auto setup_start = Clock::now();
  const std::vector<std::string> classnames = store_.classnames(spec.dataset);
  const Split& train = split(spec.dataset, "train");
  const Split& test = split(spec.dataset, "test");
  const torch::Dtype dtype = spec.method == "coop" ? precision_dtype(spec.coop.precision) : torch::kFloat32;
  worker::TextEncoder& encoder = encoder_for(dtype);
  const bool base2novel = spec.protocol == "base2novel";

  // The classes trained on and, for base2novel, the novel classes tested on (CoCoOp's subsample_classes
  // over the labels of the train set the task sees).
  std::vector<int64_t> train_rows = all_rows(train.labels.size());
  std::vector<int> train_labels = train.labels;
  std::vector<int64_t> val_rows;
  if (spec.method == "coop") {
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
  const Subset seen_test = select(seen_classes, all_rows(test.labels.size()), test.labels);
  sweeps::ClassSelection novel_classes;
  Subset novel_test;
  if (base2novel) {
    novel_classes = sweeps::select_classes(train_labels, sweeps::Subsample::kNew);
    novel_test = select(novel_classes, all_rows(test.labels.size()), test.labels);
  }
  record["counts"] = {{"classes", seen_names.size()}, {"test", seen_test.rows.size()}};
  if (base2novel) {
    record["counts"]["novel_classes"] = novel_classes.labels.size();
    record["counts"]["novel_test"] = novel_test.rows.size();
  }
  record["timings"]["setup_s"] = seconds_since(setup_start);

  auto evaluate = [&](const torch::Tensor& text_features, const Subset& subset) {
    return worker::accuracy_percent(text_features, take_rows(test.features, subset.rows).to(device_),
                                    torch::tensor(subset.labels, torch::kInt64).to(device_));
  };
  auto write_metrics = [&](double seen_accuracy, double novel_accuracy) {
    if (base2novel) {
      record["metrics"] = {{"base", seen_accuracy},
                           {"novel", novel_accuracy},
                           {"harmonic", results::harmonic_mean(seen_accuracy, novel_accuracy)}};
    } else {
      record["metrics"] = {{"accuracy", seen_accuracy}};
    }
  };

  const std::string prompt_template = store_.prompt_template(spec.dataset);
  if (spec.method == "zeroshot") {
    const auto eval_start = Clock::now();
    const double seen_accuracy =
        evaluate(worker::zeroshot_text_features(encoder, tokenizer_, prompt_template, seen_names), seen_test);
    double novel_accuracy = 0;
    if (base2novel) {
      novel_accuracy = evaluate(
          worker::zeroshot_text_features(encoder, tokenizer_, prompt_template, names_of(novel_classes, classnames)),
          novel_test);
    }
    write_metrics(seen_accuracy, novel_accuracy);
    record["timings"]["eval_s"] = seconds_since(eval_start);
    return;
  }

  // CoOp: learn the context on the few-shot train set of the seen classes.
  const auto train_start = Clock::now();
  const Subset seen_train = select(seen_classes, train_rows, train.labels);
  worker::CoOpOptions coop;
  coop.n_ctx = spec.coop.n_ctx;
  coop.ctx_init = spec.coop.ctx_init;
  coop.class_specific = spec.coop.class_specific;
  coop.position = worker::parse_class_token_position(spec.coop.class_token_position);
  worker::CoOpPromptLearner learner(coop, seen_names, tokenizer_, encoder, static_cast<uint64_t>(spec.seed));
  learner->to(device_);

  worker::TrainingData data;
  data.features = take_rows(train.features, seen_train.rows);
  if (train.views.defined()) data.views = take_rows(train.views, seen_train.rows, 1);
  data.labels = torch::tensor(seen_train.labels, torch::kInt64);
  worker::TrainOptions training;
  training.epochs = spec.coop.epochs;
  training.batch_size = spec.coop.batch_size;
  training.lr = spec.coop.lr;
  training.seed = static_cast<uint64_t>(spec.seed);
  training.device = device_;
  training.dtype = dtype;
  const worker::TrainReport report = worker::train_coop(learner, encoder, data, training);
  record["counts"]["train"] = seen_train.rows.size();
  record["counts"]["val_sampled"] = val_rows.size();
  record["train"] = {{"epochs", training.epochs},
                     {"steps", report.steps},
                     {"n_ctx", learner->options().n_ctx},
                     {"final_loss", report.epoch_loss.empty() ? 0.0 : report.epoch_loss.back()},
                     {"loss_per_epoch", report.epoch_loss}};
  record["timings"]["train_s"] = seconds_since(train_start);

  // Test the last-epoch model once.
  const auto eval_start = Clock::now();
  const double seen_accuracy = evaluate(worker::coop_text_features(learner, encoder), seen_test);
  double novel_accuracy = 0;
  if (base2novel) {
    if (coop.class_specific) {
      throw Error("class-specific context (CSC) exists only for the base classes, so it cannot be tested on novel "
                  "classes; use generic context for the base2novel protocol");
    }
    worker::CoOpPromptLearner novel_learner(coop, names_of(novel_classes, classnames), tokenizer_, encoder,
                                            static_cast<uint64_t>(spec.seed));
    novel_learner->to(device_);
    novel_learner->set_context(learner->context());
    novel_accuracy = evaluate(worker::coop_text_features(novel_learner, encoder), novel_test);
  }
  write_metrics(seen_accuracy, novel_accuracy);
  record["timings"]["eval_s"] = seconds_since(eval_start);

  // The learned context, so the prompt can be re-evaluated without retraining.
  const torch::Tensor ctx = learner->context().detach().to(torch::kCPU, torch::kFloat32).contiguous();
  storage::NamedTensor saved{"ctx", ctx.sizes().vec(), std::vector<float>(ctx.data_ptr<float>(), ctx.data_ptr<float>() + ctx.numel())};
  const std::string prompt_file = record["task_id"].get<std::string>() + ".prompts.h5";
  storage::write_prompt_file(options_.out_dir + "/" + prompt_file, spec.to_json().dump(), {saved});
  record["prompt_file"] = prompt_file;
}

}  // namespace pg::orchestrator
