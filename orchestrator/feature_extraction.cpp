#include "orchestrator/feature_extraction.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/strings.h"
#include "orchestrator/device.h"
#include "orchestrator/error_text.h"
#include "orchestrator/extraction_plan.h"
#include "orchestrator/mpi_link.h"
#include "orchestrator/torch_threads.h"
#include "orchestrator/unit_encoder.h"
#include "orchestrator/worker_device.h"
#include "worker/clip/weights_digest.h"
#include "storage/feature_store.h"
#include "sweeps/catalog.h"
#include "sweeps/split_file.h"

namespace pg::orchestrator {
namespace {

const std::vector<std::string> kSplits = {"train", "val", "test"};
const std::string kWorkerError = "error\n";  // a worker's payload that reports an error, not a unit

// What every rank derives from the options before any image is read.
struct Setup {
  sweeps::SplitFile split_file;
  std::vector<std::string> splits;
  std::vector<ExtractionUnit> plan;
  std::string precision;  // "fp16" | "fp32"
};

Setup read_setup(const ExtractionOptions& options) {
  if (options.views < 0) throw Error("--views " + std::to_string(options.views) + ": give 0 or more");
  if (options.order != "dassl" && options.order != "clip") {
    throw Error("--order " + options.order + ": use dassl (CoOp's, the default) or clip (CLIP's _transform)");
  }
  if (!file_exists(options.checkpoint)) {
    throw Error("--clip " + options.checkpoint + ": no such file; give CLIP's weights (ViT-B-16.pt, RN50.pt or safetensors)");
  }
  if (options.dataset.empty() || options.dataset == "." || options.dataset.find('/') != std::string::npos) {
    throw Error("--dataset '" + options.dataset + "': use a plain name such as dtd (no '/')");
  }
  if (!options.source.empty()) sweeps::find_dataset(options.source);  // an unknown source lists the known ones
  if (!std::filesystem::is_directory(options.images_root)) {
    throw Error("--images " + options.images_root + ": not a folder; give the dataset's image folder (CoOp's image_dir)");
  }
  Setup setup;
  setup.split_file = sweeps::read_split_file(options.split_path);
  setup.splits = options.source.empty() ? kSplits : std::vector<std::string>{"test"};
  for (const auto& split : setup.splits) {
    if (setup.split_file.split(split).empty()) {
      throw Error(options.split_path + ": has no " + split + " images; every split of a dataset needs some" +
                  (options.source.empty() ? std::string(" (a test-only dataset takes --source)") : std::string()));
    }
  }
  if (!options.source.empty() && options.views > 0) {
    throw Error("--views with --source: a test-only dataset has no training images to augment");
  }
  setup.plan = plan_units(setup.split_file, setup.splits, options.views, options.batch_size);
  setup.precision = options.precision;
  if (setup.precision.empty()) setup.precision = options.device.rfind("cuda", 0) == 0 ? "fp16" : "fp32";
  if (setup.precision != "fp16" && setup.precision != "fp32") {
    throw Error("--precision " + setup.precision + ": use fp16 or fp32");
  }
  return setup;
}

// Loads the tower and gives the digest of its weights as loaded (before any conversion: the same on
// every rank and device).
worker::ImageEncoder open_encoder(const std::string& checkpoint, const std::string& precision, torch::Device device,
                                  std::string& weights_digest) {
  worker::ImageEncoder encoder = worker::load_image_encoder(checkpoint);
  ContentHasher hasher;
  if (encoder.is_vit()) {
    worker::hash_parameters(hasher, *encoder.vision_transformer());
  } else {
    worker::hash_parameters(hasher, *encoder.resnet());
  }
  weights_digest = to_hex16(hasher.digest());
  encoder.to_precision(device, precision == "fp16" ? torch::kHalf : torch::kFloat32);
  return encoder;
}

ImageSource image_source(const ExtractionOptions& options, const Setup& setup, const worker::ImageEncoder& encoder) {
  ImageSource source;
  source.images_root = options.images_root;
  source.split_file = &setup.split_file;
  source.dataset = options.dataset;
  source.seed = static_cast<uint64_t>(options.seed);
  source.preprocess.n_px = static_cast<int>(encoder.input_resolution());
  source.preprocess.order = options.order == "clip" ? image::TransformOrder::clip : image::TransformOrder::dassl;
  return source;
}

// XXH64 of the split file's entries as read (the file is read once).
std::string split_digest(const sweeps::SplitFile& split_file) {
  ContentHasher hasher;
  for (const std::string split : {"train", "val", "test"}) {
    hasher.update_field(split);
    for (const auto& item : split_file.split(split)) {
      hasher.update_field(item.relpath);
      hasher.update_field(std::to_string(item.label));
      hasher.update_field(item.classname);
    }
  }
  return to_hex16(hasher.digest());
}

// Everything the units' values depend on: a work folder left with other settings starts over. (Not
// the thread count: on the CPU, results can differ in the last bits between thread counts, so a store
// is byte-identical to another only when both were encoded with the same --threads per rank.)
nlohmann::json work_settings(const ExtractionOptions& options, const Setup& setup,
                             const worker::ImageEncoder& encoder, const std::string& weights_digest) {
  return {{"dataset", options.dataset},
          {"split_file", split_digest(setup.split_file)},
          {"images", std::filesystem::weakly_canonical(options.images_root).string()},
          {"checkpoint", weights_digest},
          {"architecture", encoder.architecture()},
          {"device", options.device.rfind("cuda", 0) == 0 ? "cuda" : "cpu"},
          {"views", options.views},
          {"batch_size", options.batch_size},
          {"order", options.order},
          {"precision", setup.precision},
          {"seed", options.seed}};
}

std::string work_folder_of(const ExtractionOptions& options) { return options.out + ".extract-" + options.dataset; }

// Images per second and the ETA on stderr: redrawn in place on a terminal, a line every 10 s otherwise.
class ExtractionProgress {
 public:
  ExtractionProgress(std::string dataset, int64_t total, int64_t done)
      : dataset_(std::move(dataset)), total_(total), done_(done), resumed_(done), terminal_(::isatty(2) != 0) {}
  void add(int64_t images) {
    done_ += images;
    const auto now = Clock::now();
    const double since_shown = std::chrono::duration<double>(now - shown_).count();
    if (done_ < total_ && since_shown < (terminal_ ? 0.5 : 10.0)) return;
    shown_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done_ - resumed_) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    char line[200];
    std::snprintf(line, sizeof(line), "extract %s: %lld/%lld images (%.0f%%), %.1f images/s, ETA %.0f s",
                  dataset_.c_str(), static_cast<long long>(done_), static_cast<long long>(total_),
                  total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0, rate, eta);
    // On a terminal the line is redrawn in place (cleared first) and ended once done.
    std::cerr << (terminal_ ? "\r\033[K" : "") << line << (terminal_ && done_ < total_ ? "" : "\n") << std::flush;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string dataset_;
  int64_t total_, done_, resumed_;
  bool terminal_;
  Clock::time_point start_ = Clock::now(), shown_{};
};

// Rank 0's side: the work folder, what is left to do, and what happens to each finished unit.
class UnitCollector {
 public:
  UnitCollector(const ExtractionOptions& options, const Setup& setup, const nlohmann::json& settings, int64_t dim)
      : options_(options), setup_(setup), folder_(work_folder_of(options), settings), dim_(dim) {
    int64_t total = 0, done = 0;
    for (size_t i = 0; i < setup.plan.size(); ++i) {
      total += setup.plan[i].rows;
      if (folder_.finished(static_cast<int64_t>(i), setup.plan[i], dim)) {
        done += setup.plan[i].rows;
      } else {
        pending_.push_back(static_cast<int64_t>(i));
      }
    }
    if (done > 0) log_info(folder_.folder() + ": resuming; " + std::to_string(done) + " of " + std::to_string(total) +
                           " images were encoded by an earlier run");
    progress_ = std::make_unique<ExtractionProgress>(options.dataset, total, done);
  }
  const std::vector<int64_t>& pending() const { return pending_; }
  const ExtractionWorkFolder& folder() const { return folder_; }

  void accept(const UnitResult& result) {
    if (result.unit < 0 || result.unit >= static_cast<int64_t>(setup_.plan.size())) {
      throw Error("a worker sent unit " + std::to_string(result.unit) + ", which is not in the plan", ErrorKind::internal);
    }
    const ExtractionUnit& unit = setup_.plan[static_cast<size_t>(result.unit)];
    if (result.rows != unit.rows || result.dim != dim_) {
      throw Error("unit " + unit.name() + " came back with " + std::to_string(result.rows) + " x " +
                  std::to_string(result.dim) + " values, expected " + std::to_string(unit.rows) + " x " +
                  std::to_string(dim_) + "; every rank must load the same --clip file");
    }
    // A unit with unreadable images is kept too (it is never taken as finished, so it is computed
    // again next time), and the extraction goes on: every bad image is reported at the end, not one
    // per run.
    folder_.save(unit, result);
    for (const FailedImage& failure : result.failed) failures_[{result.unit, failure.row}] = failure.reason;
    progress_->add(unit.rows);
  }

  // The rows of `split` (split-file rows) whose image failed in some unit, and why. Every failure passed
  // through accept(): a unit with one is never taken as finished from an earlier run.
  std::map<int64_t, std::string> failed_rows(const std::string& split) const {
    std::map<int64_t, std::string> rows;
    for (const auto& [where, reason] : failures_) {
      const ExtractionUnit& unit = setup_.plan[static_cast<size_t>(where.first)];
      if (unit.split == split) rows.emplace(unit.first_row + where.second, reason);
    }
    return rows;
  }

  // Without --skip-bad, the images that could not be read (the first few, and how many) as one error.
  void require_no_failures() const {
    if (failures_.empty() || options_.skip_bad) return;
    std::vector<std::string> listed;
    for (const auto& [where, reason] : failures_) {
      if (listed.size() == 5) break;
      const ExtractionUnit& unit = setup_.plan[static_cast<size_t>(where.first)];
      listed.push_back(unit.split + " row " + std::to_string(unit.first_row + where.second) + " of " +
                       options_.split_path + ": " + reason);
    }
    throw Error(std::to_string(failures_.size()) + " image(s) could not be read: " + join(listed, "; ") +
                (failures_.size() > listed.size() ? "; ..." : "") +
                ". Fix or remove them and run the command again (the other images are kept and not encoded again), "
                "or pass --skip-bad to leave unreadable images out (the store lists them)");
  }

 private:
  const ExtractionOptions& options_;
  const Setup& setup_;
  ExtractionWorkFolder folder_;
  int64_t dim_;
  std::vector<int64_t> pending_;
  std::map<std::pair<int64_t, int64_t>, std::string> failures_;  // (unit, row in unit) -> reason, in plan order
  std::unique_ptr<ExtractionProgress> progress_;
};

// Before hours of encoding: every image of the split file is there (unless --skip-bad), and the store
// can take the dataset.
void check_before_encoding(const ExtractionOptions& options, const Setup& setup, const std::string& backbone,
                           int64_t embed_dim) {
  const std::string prompt_template = sweeps::store_template(options.prompt_template, options.dataset, options.source);
  if (prompt_template.find("{}") == std::string::npos) {
    throw Error("--template '" + prompt_template + "' has no '{}' where the class name goes (e.g. \"a photo of a {}.\")");
  }
  if (!options.skip_bad) {
    std::vector<std::string> missing;
    int64_t count = 0;
    for (const auto& split : setup.splits) {
      const auto& items = setup.split_file.split(split);
      for (size_t row = 0; row < items.size(); ++row) {
        if (file_exists(options.images_root + "/" + items[row].relpath)) continue;
        if (++count <= 5) missing.push_back(options.images_root + "/" + items[row].relpath + " (" + split + " row " +
                                            std::to_string(row) + ")");
      }
    }
    if (count > 0) {
      throw Error(std::to_string(count) + " image(s) of " + options.split_path + " are missing under --images " +
                  options.images_root + ": " + join(missing, ", ") + (count > 5 ? ", ..." : "") +
                  "; point --images at the dataset's image folder, or pass --skip-bad to leave them out");
    }
  }
  if (!file_exists(options.out)) return;
  std::unique_ptr<storage::FeatureStoreReader> opened;
  try {
    opened = std::make_unique<storage::FeatureStoreReader>(options.out);
  } catch (const Error& e) {
    throw Error("--out: " + std::string(e.what()) + "; give a new file, or a feature store to add the dataset to",
                e.kind());
  }
  const storage::FeatureStoreReader& store = *opened;
  if (store.backbone() != backbone || store.embed_dim() != embed_dim) {
    throw Error(options.out + ": holds backbone " + store.backbone() + " (D = " + std::to_string(store.embed_dim()) +
                "), but " + options.checkpoint + " is " + backbone + " (D = " + std::to_string(embed_dim) +
                "); extract into another store (one per backbone)");
  }
  const auto datasets = store.datasets();
  if (std::find(datasets.begin(), datasets.end(), options.dataset) != datasets.end()) {
    throw Error(options.out + ": already holds " + options.dataset +
                "; a dataset is written once: remove the store or write to another");
  }
}

// The finished units, put together in split-file order; an image that failed in any pass is left out
// of every pass and listed as skipped. Each unit is read once, its values straight into place, so a
// split is held once in memory.
storage::DatasetFeatures assemble(const ExtractionOptions& options, const Setup& setup, const UnitCollector& collector,
                                  int64_t dim) {
  const ExtractionWorkFolder& folder = collector.folder();
  storage::DatasetFeatures dataset;
  dataset.name = options.dataset;
  dataset.classnames = sweeps::classnames_by_label(setup.split_file);
  dataset.prompt_template = sweeps::store_template(options.prompt_template, options.dataset, options.source);
  dataset.source = options.source;
  for (const auto& split : setup.splits) {
    const auto& items = setup.split_file.split(split);
    const int64_t total = static_cast<int64_t>(items.size());
    std::vector<size_t> units;  // this split's, in plan order
    for (size_t i = 0; i < setup.plan.size(); ++i) {
      if (setup.plan[i].split == split) units.push_back(i);
    }
    const std::map<int64_t, std::string> failed = collector.failed_rows(split);
    storage::SplitFeatures out;
    out.dim = dim;
    out.num_views = split == "train" ? options.views : 0;
    std::vector<int64_t> kept_position(static_cast<size_t>(total), -1);
    for (int64_t row = 0; row < total; ++row) {
      const auto bad = failed.find(row);
      if (bad != failed.end()) {
        out.skipped.push_back({row, items[static_cast<size_t>(row)].relpath, bad->second});
        continue;
      }
      kept_position[static_cast<size_t>(row)] = out.rows++;
      out.labels.push_back(items[static_cast<size_t>(row)].label);
      out.paths.push_back(items[static_cast<size_t>(row)].relpath);
    }
    if (out.rows == 0) {
      throw Error("no image of the " + split + " split of " + options.split_path + " could be read (the first: " +
                  out.skipped.front().reason + ")");
    }
    out.features.resize(static_cast<size_t>(out.rows * dim));
    out.views.resize(static_cast<size_t>(out.num_views * out.rows * dim));
    for (const size_t i : units) {
      const ExtractionUnit& unit = setup.plan[i];
      const UnitResult result = folder.load(static_cast<int64_t>(i), unit, dim);
      float* pass = unit.view < 0 ? out.features.data() : out.views.data() + unit.view * out.rows * dim;
      for (int64_t row = 0; row < unit.rows; ++row) {
        const int64_t position = kept_position[static_cast<size_t>(unit.first_row + row)];
        if (position < 0) continue;
        std::copy_n(result.features.begin() + row * dim, dim, pass + position * dim);
      }
    }
    dataset.splits[split] = std::move(out);
  }
  return dataset;
}

void publish(const ExtractionOptions& options, const Setup& setup, const UnitCollector& collector,
             const std::string& backbone, int64_t dim) {
  const storage::DatasetFeatures dataset = assemble(options, setup, collector, dim);
  const bool append = file_exists(options.out);
  storage::FeatureStoreWriter writer(options.out, backbone, dim,
                                     options.dtype == "float32" ? storage::FeatureDtype::float32
                                                                : storage::FeatureDtype::float16,
                                     append ? storage::WriteMode::append : storage::WriteMode::create);
  writer.write_dataset(dataset);
  writer.close();
  if (!options.keep_work) collector.folder().remove();
  std::cout << options.out << ": " << (append ? "added " : "wrote ") << options.dataset << " ("
            << dataset.classnames.size() << " classes; " << backbone << ", D = " << dim << ", " << options.dtype
            << "; rows:";
  for (const auto& split : setup.splits) {
    const auto& features = dataset.splits.at(split);
    std::cout << " " << split << " " << features.rows;
    if (!features.skipped.empty()) std::cout << " (" << features.skipped.size() << " skipped)";
  }
  if (options.views > 0) std::cout << "; " << options.views << (options.views == 1 ? " view" : " views") << " per training image";
  std::cout << ")\n";
  for (const auto& split : setup.splits) {
    for (const auto& skipped : dataset.splits.at(split).skipped) {
      std::cout << "  skipped " << split << " row " << skipped.split_row << ": " << skipped.reason << "\n";
    }
  }
}

std::string backbone_of(const ExtractionOptions& options, const worker::ImageEncoder& encoder) {
  return options.backbone.empty() ? encoder.architecture() : options.backbone;
}

int extract_in_process(const ExtractionOptions& options) {
  set_torch_threads(options.threads);
  const Setup setup = read_setup(options);
  const torch::Device device = parse_device(options.device);
  std::string weights_digest;
  worker::ImageEncoder encoder = open_encoder(options.checkpoint, setup.precision, device, weights_digest);
  const std::string backbone = backbone_of(options, encoder);
  check_before_encoding(options, setup, backbone, encoder.embed_dim());
  UnitCollector collector(options, setup, work_settings(options, setup, encoder, weights_digest), encoder.embed_dim());
  const int decode_threads = options.decode_threads > 0 ? options.decode_threads : torch::get_num_threads();
  UnitEncoder units(encoder, device, image_source(options, setup, encoder), decode_threads);
  units.encode(setup.plan, collector.pending(), [&](UnitResult result) { collector.accept(result); });
  collector.require_no_failures();
  publish(options, setup, collector, backbone, encoder.embed_dim());
  return 0;
}

// Worker rank: its share of the pending units, each result sent to rank 0 as it is done.
void run_extraction_worker(const ExtractionOptions& options, const Setup& setup, worker::ImageEncoder& encoder,
                           torch::Device device, int threads) {
  const std::optional<std::string> share = receive_task_from_coordinator();
  if (!share) return;  // stopped before any work (an error on rank 0)
  std::vector<int64_t> indices = nlohmann::json::parse(*share).get<std::vector<int64_t>>();
  try {
    const int decode_threads = options.decode_threads > 0 ? options.decode_threads : threads;
    UnitEncoder units(encoder, device, image_source(options, setup, encoder), decode_threads);
    units.encode(setup.plan, indices, [](UnitResult result) { send_result_to_coordinator(encode_unit(result)); });
  } catch (const std::exception& e) {
    send_result_to_coordinator(kWorkerError + error_text(e));
  }
  receive_task_from_coordinator();  // the stop
}

void run_extraction_coordinator(const ExtractionOptions& options, const Setup& setup, MpiSession& mpi,
                                const worker::ImageEncoder& encoder, const std::string& weights_digest,
                                const std::string& backbone) {
  MpiCoordinatorLink link(mpi);
  UnitCollector collector(options, setup, work_settings(options, setup, encoder, weights_digest), encoder.embed_dim());
  // Deterministic shares: unit i of the pending list goes to worker i mod W.
  std::vector<std::vector<int64_t>> shares(static_cast<size_t>(link.workers()));
  for (size_t i = 0; i < collector.pending().size(); ++i) shares[i % shares.size()].push_back(collector.pending()[i]);
  for (int w = 0; w < link.workers(); ++w) link.send_task(w, nlohmann::json(shares[static_cast<size_t>(w)]).dump());
  size_t received = 0;
  while (received < collector.pending().size()) {
    const std::optional<WorkerMessage> message = link.receive(1000);
    if (!message || message->kind != WorkerMessage::Kind::result) continue;
    if (message->payload.rfind(kWorkerError, 0) == 0) {
      throw Error("worker rank " + std::to_string(message->worker + 1) + ": " +
                  message->payload.substr(kWorkerError.size()));
    }
    collector.accept(decode_unit(message->payload, "a unit from worker rank " + std::to_string(message->worker + 1)));
    ++received;
  }
  for (int w = 0; w < link.workers(); ++w) link.send_stop(w);
  collector.require_no_failures();
  publish(options, setup, collector, backbone, encoder.embed_dim());
}

int extract_with_mpi(const ExtractionOptions& options) {
  MpiSession mpi;
  if (mpi.size() < 2) return extract_in_process(options);
  const bool coordinator = mpi.rank() == 0;
  const int threads = options.threads > 0 ? options.threads : mpi.threads_per_worker();
  std::string error;
  std::unique_ptr<Setup> setup;
  std::unique_ptr<worker::ImageEncoder> encoder;
  std::string backbone, weights_digest;
  torch::Device device = torch::kCPU;
  try {
    set_torch_threads(threads);
    setup = std::make_unique<Setup>(read_setup(options));
    // Rank 0 only reads the tower's shapes; each worker of a node takes the next GPU.
    device = parse_device(coordinator ? "cpu" : device_for_worker(options.device, mpi.local_worker_index()));
    encoder = std::make_unique<worker::ImageEncoder>(
        open_encoder(options.checkpoint, coordinator ? "fp32" : setup->precision, device, weights_digest));
    backbone = backbone_of(options, *encoder);
    if (coordinator) check_before_encoding(options, *setup, backbone, encoder->embed_dim());
  } catch (const std::exception& e) {
    error = error_text(e);
  }
  if (!mpi.all_started(error)) return 2;
  try {
    if (coordinator) {
      run_extraction_coordinator(options, *setup, mpi, *encoder, weights_digest, backbone);
    } else {
      run_extraction_worker(options, *setup, *encoder, device, threads);
    }
  } catch (const std::exception& e) {
    // The other ranks wait for messages from this one: end the whole job rather than leave them waiting.
    // Units finished so far are kept: running the command again resumes.
    std::cerr << "promptgrid: rank " << mpi.rank() << ": error: " << error_text(e) << std::endl;
    mpi.abort(error_kind(e) == ErrorKind::internal ? 1 : 2);
  }
  return 0;
}

}  // namespace

int extract_features(const ExtractionOptions& options) {
  return launched_by_mpi() ? extract_with_mpi(options) : extract_in_process(options);
}

}  // namespace pg::orchestrator
