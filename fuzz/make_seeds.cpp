// Writes the seed corpora of the fuzz targets: small valid files of every format the readers take,
// made with promptgrid's own writers and cut down from ../shared/data where it is present.
//   make_seeds <corpus folder> [<shared data folder>]
// Each target gets <corpus folder>/<target>/ (pickle, torch_archive, safetensors, npy, split_file,
// bpe_vocabulary, feature_store).
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "storage/feature_store.h"
#include "storage/journal.h"
#include "storage/npy.h"
#include "support/zip_writer.h"
#include "worker/checkpoint/safetensors.h"
#include "worker/checkpoint/zip_archive.h"

namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string gzip(const std::string& text) {
  std::string out(compressBound(static_cast<uLong>(text.size())) + 64, '\0');
  z_stream stream{};
  deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: a gzip wrapper
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

pg::checkpoint::TensorRecord record(const std::string& name, pg::checkpoint::DType dtype,
                                    const std::vector<int64_t>& shape) {
  pg::checkpoint::TensorRecord tensor;
  tensor.name = name;
  tensor.dtype = dtype;
  tensor.shape = shape;
  tensor.strides = pg::checkpoint::contiguous_strides(shape);
  int64_t count = 1;
  for (const int64_t n : shape) count *= n;
  std::string bytes(static_cast<size_t>(count * pg::checkpoint::element_size(dtype)), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0x3c + i % 7);
  tensor.storage = std::make_shared<const std::string>(bytes);
  return tensor;
}

void checkpoint_seeds(const fs::path& out, const fs::path& shared) {
  write(out / "torch_archive" / "tiny.pt", pg::testing::tiny_torch_save_zip());
  write(out / "torch_archive" / "tiny_zip64.pt", pg::testing::tiny_torch_save_zip(true));
  const std::string archive = (out / "torch_archive" / "tiny.pt").string();
  write(out / "pickle" / "tiny.pkl", pg::checkpoint::ZipArchive(archive).read("archive/data.pkl"));
  // pickle.dumps(OrderedDict([('k', 300), ('m', (1, 2, 3, 4))]), protocol=4): frames, memo, STACK_GLOBAL.
  write(out / "pickle" / "protocol4.pkl",
        pg::testing::from_hex("8004953a000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294"
                              "288c016b944d2c018c016d94284b014b024b034b047494752e"));
  if (fs::exists(shared / "golden/tiny_clip.pt")) {
    // The real module tree of a TorchScript archive (its storages are too large for a seed).
    write(out / "pickle" / "tiny_clip.pkl",
          pg::checkpoint::ZipArchive((shared / "golden/tiny_clip.pt").string()).read("tiny_clip/data.pkl"));
  }
  using pg::checkpoint::DType;
  fs::create_directories(out / "safetensors");
  pg::checkpoint::write_safetensors((out / "safetensors" / "small.safetensors").string(),
                                    {record("a.weight", DType::float32, {2, 3}), record("b", DType::float16, {4}),
                                     record("c", DType::bfloat16, {1, 2, 1})});
  if (fs::exists(shared / "golden/encode_image.safetensors")) {
    fs::copy_file(shared / "golden/encode_image.safetensors", out / "safetensors" / "encode_image.safetensors",
                  fs::copy_options::overwrite_existing);
  }
}

void npy_seeds(const fs::path& out) {
  write(out / "npy" / "matrix.npy", pg::storage::encode_npy({3, 4}, std::vector<float>(12, 0.5f)));
  write(out / "npy" / "views.npy", pg::storage::encode_npy({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
}

void split_seeds(const fs::path& out, const fs::path& shared) {
  nlohmann::json split = {{"train", {{"a/1.jpg", 0, "apple"}, {"b/2.jpg", 1, "bay_leaf"}, {"a/3.jpg", 0, "apple"}}},
                          {"val", {{"b/4.jpg", 1, "bay_leaf"}}},
                          {"test", {{"a/5.jpg", 0, "apple"}}}};
  write(out / "split_file" / "tiny.json", split.dump());
  for (const char* name : {"split_zhou_DescribableTextures.json", "split_zhou_OxfordPets.json"}) {
    if (!fs::exists(shared / "splits" / name)) continue;
    // The first entries of each split of a real file.
    const nlohmann::json real = pg::read_json_file((shared / "splits" / name).string(), "a split file");
    nlohmann::json cut;
    for (const char* part : {"train", "val", "test"}) {
      cut[part] = nlohmann::json::array();
      for (size_t i = 0; i < 6 && i < real[part].size(); ++i) cut[part].push_back(real[part][i]);
    }
    write(out / "split_file" / name, cut.dump());
  }
}

void vocabulary_seeds(const fs::path& out, const fs::path& shared) {
  write(out / "bpe_vocabulary" / "byte_level.txt", "#version: byte-level\n");
  std::string merges = "#version: 0.2\ni n\nt h\na n\nr e\nth e</w>\n";
  const fs::path vocabulary = shared / "clip/bpe_simple_vocab_16e6.txt.gz";
  if (fs::exists(vocabulary)) {
    // The first 400 merges of CLIP's vocabulary.
    gzFile file = gzopen(vocabulary.string().c_str(), "rb");
    char line[512];
    merges.clear();
    for (int i = 0; i < 401 && gzgets(file, line, sizeof line) != nullptr; ++i) merges += line;
    gzclose(file);
  }
  write(out / "bpe_vocabulary" / "merges.txt", merges);
  write(out / "bpe_vocabulary" / "merges.txt.gz", gzip(merges));
}

pg::storage::SplitFeatures split_rows(int64_t rows, int64_t dim, int64_t views, float base) {
  pg::storage::SplitFeatures split;
  split.rows = rows;
  split.dim = dim;
  for (int64_t i = 0; i < rows * dim; ++i) split.features.push_back(base + 0.25f * static_cast<float>(i + 1));
  for (int64_t i = 0; i < rows; ++i) {
    split.labels.push_back(static_cast<int32_t>(i % 2));
    split.paths.push_back("class_" + std::to_string(i % 2) + "/image_" + std::to_string(i) + ".jpg");
  }
  split.num_views = views;
  for (int64_t i = 0; i < views * rows * dim; ++i) split.views.push_back(-1.0f - 0.5f * static_cast<float>(i));
  return split;
}

void feature_store_seeds(const fs::path& out) {
  fs::create_directories(out / "feature_store");
  for (const auto dtype : {pg::storage::FeatureDtype::float32, pg::storage::FeatureDtype::float16}) {
    const std::string path = (out / "feature_store" / ("tiny_" + pg::storage::dtype_name(dtype) + ".h5")).string();
    fs::remove(path);
    pg::storage::FeatureStoreWriter writer(path, "ViT-B/16", 4, dtype);
    pg::storage::DatasetFeatures dataset;
    dataset.name = "dtd";
    dataset.classnames = {"banded", "bubbly"};
    dataset.prompt_template = "{} texture.";
    dataset.splits["train"] = split_rows(4, 4, 2, 1.0f);
    dataset.splits["val"] = split_rows(2, 4, 0, 10.0f);
    dataset.splits["test"] = split_rows(3, 4, 0, -10.0f);
    writer.write_dataset(dataset);
    writer.close();
  }
}

void sweep_file_seeds(const fs::path& out) {
  fs::create_directories(out / "sweep_file");
  const std::string inputs = "features: dev/null\nclip: dev/null\nvocab: dev/null\n";
  write(out / "sweep_file" / "grid.yaml",
        inputs + "protocol: [fewshot, base2novel]\ndatasets: all\nshots: [1, 2]\nseeds: [1]\nmethods:\n"
                 "  - name: zeroshot\n  - name: coop\n    lr: [0.002, 0.01]\n    epochs: auto\n    csc: false\n");
  write(out / "sweep_file" / "search.yaml",
        inputs + "datasets: [dtd]\nshots: 1\nseeds: 1\nmethods: [{name: coop, ctx_init: a photo of a}]\n"
                 "search: {samples: 3, seed: 7, space: {coop.lr: {log_uniform: [1e-4, 1e-1]}, "
                 "coop.n_ctx: {choice: [4, 8]}}}\n");
  write(out / "sweep_file" / "methods.yaml",
        inputs + "protocol: [cross_dataset, domain_generalization]\ndatasets: all\nsource: imagenet\nshots: [16]\n"
                 "seeds: [1]\nmethods:\n  - {name: kgcoop, w: [1, 8]}\n  - {name: cocoop, datasets: [eurosat]}\n"
                 "  - {name: linear_probe, search_steps: 8}\n"
                 "search: {samples: 2, space: {kgcoop.w: {uniform: [1, 10]}}}\n");
}

void journal_seeds(const fs::path& out) {
  fs::create_directories(out / "journal");
  const std::string one = pg::storage::frame_journal_record(
      {{"task_id", "0123456789abcdef"}, {"status", "ok"}, {"metrics", {{"accuracy", 61.5}}}});
  const std::string two = pg::storage::frame_journal_record({{"task_id", "x"}, {"status", "failed"}, {"error", "é"}});
  write(out / "journal" / "two.jsonl", one + two);
  write(out / "journal" / "torn.jsonl", one + two.substr(0, two.size() / 2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_seeds <corpus folder> [<shared data folder>]\n";
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path shared = argc > 2 ? fs::path(argv[2]) : fs::path();
  try {
    checkpoint_seeds(out, shared);
    npy_seeds(out);
    split_seeds(out, shared);
    vocabulary_seeds(out, shared);
    feature_store_seeds(out);
    sweep_file_seeds(out);
    journal_seeds(out);
  } catch (const pg::Error& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
