#include "orchestrator/synthetic_benchmark.h"

#include <filesystem>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <unistd.h>

#include <map>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/log.h"
#include "orchestrator/synthetic_images.h"
#include "storage/feature_store.h"
#include "sweeps/catalog.h"
#include "worker/clip/random_clip.h"
#include "worker/clip/state_dict.h"
#include "worker/clip/text_encoder.h"
#include "text/tokenizer.h"
#include "worker/methods/coop/coop_prompt_learner.h"

namespace pg::orchestrator {
namespace {

// Pronounceable, distinct class names ("kelomar", "tivu sopa", ...) from a seeded stream.
std::vector<std::string> synthetic_classnames(int count, at::Generator& generator) {
  static const char* consonants = "bdfgklmnprstvz";
  static const char* vowels = "aeiou";
  std::vector<std::string> names;
  std::set<std::string> seen;
  auto draw = [&](int64_t n) { return torch::randint(n, {1}, generator).item<int64_t>(); };
  while (static_cast<int>(names.size()) < count) {
    std::string name;
    const int64_t words = 1 + (draw(4) == 0 ? 1 : 0);
    for (int64_t word = 0; word < words; ++word) {
      if (word > 0) name += ' ';
      const int64_t syllables = 2 + draw(2);
      for (int64_t s = 0; s < syllables; ++s) {
        name += consonants[draw(14)];
        name += vowels[draw(5)];
      }
    }
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

torch::Tensor normalize_rows(const torch::Tensor& x) { return x / x.norm(2, -1, true); }

std::vector<float> to_vector(const torch::Tensor& tensor) {
  const torch::Tensor flat = tensor.contiguous().to(torch::kFloat32);
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

storage::SplitFeatures make_split(const std::string& dataset, const std::string& split, const torch::Tensor& directions,
                                  int per_class, double noise_std, int views, at::Generator& generator) {
  const int64_t classes = directions.size(0);
  const int64_t dim = directions.size(1);
  const torch::Tensor labels = torch::arange(classes, torch::kInt64).repeat_interleave(per_class);
  const torch::Tensor clean = directions.index_select(0, labels);
  const torch::Tensor features = clean + noise_std * torch::randn({labels.size(0), dim}, generator);
  storage::SplitFeatures out;
  out.rows = labels.size(0);
  out.dim = dim;
  out.features = to_vector(features);
  for (int64_t i = 0; i < out.rows; ++i) {
    const int64_t label = i / per_class;  // rows are class-major, per_class each (labels above)
    out.labels.push_back(static_cast<int32_t>(label));
    out.paths.push_back(dataset + "/" + split + "/class_" + std::to_string(label) + "/" + std::to_string(i) + ".jpg");
  }
  if (views > 0) {
    // An augmented view moves a feature a little (a crop shows the same object): a quarter of the noise.
    const torch::Tensor jitter = 0.25 * noise_std * torch::randn({views, out.rows, dim}, generator);
    out.num_views = views;
    out.views = to_vector(features.unsqueeze(0) + jitter);
  }
  return out;
}

void write_files(const SyntheticBenchmarkOptions& options, const SyntheticBenchmarkFiles& files) {
  torch::NoGradGuard no_grad;
  at::Generator generator = at::detail::createCPUGenerator(options.seed);

  // Byte-level vocabulary: CLIP's file format with a header line and no merges. No newline after the
  // header: OpenAI's tokenizer splits the file on '\n' and would read the empty last line as a merge
  // (a 515th token, SOT and EOT one past the embedding).
  write_file_atomic(files.vocab, "#version: promptgrid synthetic byte-level vocabulary (no merges)");
  const text::Tokenizer tokenizer = text::Tokenizer::from_vocab_file(files.vocab);

  worker::TextEncoderOptions encoder_options;
  encoder_options.vocab_size = tokenizer.vocab_size();
  encoder_options.width = options.width;
  encoder_options.heads = std::max<int64_t>(1, options.width / 64);
  encoder_options.layers = options.layers;
  encoder_options.embed_dim = options.embed_dim;
  worker::StateDict state = worker::random_clip_text_tower(encoder_options, options.seed);
  // A small ResNet: random convolutions and pooling respond to texture, which the synthetic images are.
  worker::ModifiedResNetOptions image_options;
  image_options.layers = {1, 1, 1, 1};
  image_options.width = options.image_width;
  image_options.heads = std::max<int64_t>(1, options.image_width * 32 / 64);
  image_options.input_resolution = 64;
  image_options.embed_dim = options.embed_dim;
  state.merge(worker::random_clip_resnet_tower(image_options, options.seed + 1));
  worker::write_safetensors(files.checkpoint, state);
  worker::TextEncoder encoder = worker::load_text_encoder(files.checkpoint);

  std::vector<sweeps::DatasetInfo> datasets;
  if (options.datasets.empty()) {
    datasets = sweeps::benchmark_datasets();
  } else {
    for (const auto& name : options.datasets) datasets.push_back(sweeps::find_dataset(name));
  }

  storage::FeatureStoreWriter writer(files.features, "synthetic-clip-w" + std::to_string(options.width),
                                     options.embed_dim, storage::FeatureDtype::float32,
                                     options.force ? storage::WriteMode::replace : storage::WriteMode::create);
  struct Written {
    std::vector<std::string> classnames;
    torch::Tensor directions;
    double noise_std = 0;
  };
  std::map<std::string, Written> written;
  for (const auto& info : datasets) {
    const int num_classes = options.max_classes > 0 ? std::min(info.num_classes, options.max_classes) : info.num_classes;
    const std::vector<std::string> classnames = synthetic_classnames(num_classes, generator);
    // The hidden context: what CoOp should discover. Class directions are centred so that the part all
    // classes share (which no classifier can use) does not set the noise scale.
    worker::CoOpOptions hidden;
    hidden.n_ctx = options.hidden_context;
    worker::CoOpPromptLearner prompts(hidden, classnames, tokenizer, encoder, options.seed);
    prompts->set_context(torch::randn({options.hidden_context, options.width}, generator) * options.hidden_context_std);
    const torch::Tensor text = normalize_rows(encoder->forward(prompts->forward(), prompts->eot_index()));
    const torch::Tensor directions = normalize_rows(text - text.mean(0, true));
    // Noise relative to the nearest-class distance, so every dataset is about equally hard per class.
    const torch::Tensor distances = torch::cdist(directions, directions) +
                                    torch::eye(directions.size(0)) * 1e9;
    const double nearest = std::get<0>(distances.min(1)).mean().item<double>();
    const double noise_std = options.noise * nearest;

    storage::DatasetFeatures dataset;
    dataset.name = info.name;
    dataset.classnames = classnames;
    dataset.prompt_template = info.prompt_template;
    dataset.splits["train"] = make_split(info.name, "train", directions, options.train_per_class, noise_std,
                                         options.train_views, generator);
    dataset.splits["val"] = make_split(info.name, "val", directions, options.val_per_class, noise_std, 0, generator);
    dataset.splits["test"] = make_split(info.name, "test", directions, options.test_per_class, noise_std, 0, generator);
    writer.write_dataset(dataset);
    log_info("synth: " + info.name + ": " + std::to_string(num_classes) + " classes");
    written[info.name] = {classnames, directions, noise_std};
  }

  // The domain-generalization targets: test-only datasets of their source's classes (all, or an evenly
  // spaced subset), every feature moved by one offset per dataset (the domain) and noisier, so that
  // accuracy drops as it does from ImageNet to its shifted test sets.
  const auto& shifts = sweeps::domain_shift_datasets();
  for (size_t s = 0; s < shifts.size(); ++s) {
    const auto& shift = shifts[s];
    const auto source = written.find(shift.source);
    if (source == written.end()) continue;
    const int64_t source_classes = static_cast<int64_t>(source->second.classnames.size());
    // The share of the source's classes the real dataset has (200 of ImageNet's 1000), at least one.
    const int64_t wanted = std::max<int64_t>(
        1, source_classes * shift.num_classes / sweeps::find_dataset(shift.source).num_classes);
    const int64_t stride = std::max<int64_t>(1, source_classes / wanted);
    std::vector<int64_t> kept;
    for (int64_t c = static_cast<int64_t>(s) % stride; c < source_classes && static_cast<int64_t>(kept.size()) < wanted;
         c += stride) {
      kept.push_back(c);
    }
    const torch::Tensor offset = normalize_rows(torch::randn({1, options.embed_dim}, generator));
    const double strength = 0.3 + 0.1 * static_cast<double>(s);
    const torch::Tensor directions =
        normalize_rows(source->second.directions.index_select(0, torch::tensor(kept, torch::kInt64)) + strength * offset);
    storage::DatasetFeatures dataset;
    dataset.name = shift.name;
    for (int64_t c : kept) dataset.classnames.push_back(source->second.classnames[static_cast<size_t>(c)]);
    dataset.prompt_template = sweeps::find_dataset(shift.source).prompt_template;
    dataset.source = shift.source;
    dataset.splits["test"] = make_split(shift.name, "test", directions, options.test_per_class,
                                        1.5 * source->second.noise_std, 0, generator);
    writer.write_dataset(dataset);
    log_info("synth: " + shift.name + ": test-only, " + std::to_string(kept.size()) + " classes of " + shift.source);
  }
  writer.close();

  SyntheticImagesOptions images;
  images.images_folder = files.images;
  images.split_file = files.split_file;
  images.seed = options.seed;
  log_info("synth: " + std::to_string(write_synthetic_images(images)) + " texture images in " + files.images);
}

}  // namespace

SyntheticBenchmarkFiles write_synthetic_benchmark(const SyntheticBenchmarkOptions& options) {
  if (options.out_dir.empty()) throw Error("synth: --out is empty; name a folder for the synthetic benchmark");
  SyntheticBenchmarkFiles files{options.out_dir + "/clip.safetensors", options.out_dir + "/vocab_bytes.txt",
                                options.out_dir + "/features.h5", options.out_dir + "/images",
                                options.out_dir + "/split_zhou_DescribableTextures.json"};
  if (!options.force) {
    for (const std::string& path : {files.checkpoint, files.vocab, files.features, files.images, files.split_file}) {
      if (file_exists(path)) {
        throw Error("synth: " + path + " already exists; pass --force to replace it, or write to another --out");
      }
    }
  }
  const bool created_folder = !file_exists(options.out_dir);
  make_directories(options.out_dir);
  try {
    write_files(options, files);
  } catch (...) {
    for (const std::string& path : {files.checkpoint, files.vocab, files.features, files.split_file}) {
      remove_file_quietly(path);
    }
    std::error_code ignored;
    std::filesystem::remove_all(files.images, ignored);
    if (created_folder) ::rmdir(options.out_dir.c_str());  // only succeeds when empty
    throw;
  }
  return files;
}

}  // namespace pg::orchestrator
