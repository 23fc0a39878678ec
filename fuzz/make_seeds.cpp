// Writes the seed corpora of the fuzz targets: small valid files of every format the readers take,
// made with promptgrid's own writers and cut down from ../shared/data where it is present.
//   make_seeds <corpus folder> [<shared data folder>]
// Each target gets <corpus folder>/<target>/ (pickle, torch_archive, safetensors, npy, split_file,
// bpe_vocabulary, feature_store, sweep_file, journal, image, job_script).
#include <zlib.h>

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
#include <jpeglib.h>

#include <cstdlib>

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

// NUL-separated option values (fuzz_job_script.cpp): valid ones, and hostile ones the checks refuse or quote.
void job_script_seeds(const fs::path& out) {
  fs::create_directories(out / "job_script");
  using namespace std::string_literals;
  write(out / "job_script" / "gpu_job",
        "gpu,long\0proj-1\0high\0a100&ib\0" "2-12:00:00\0module load cuda\0sweeps/coop.yaml\0runs/coop\0\0"
        "shots=[1, 16]\0methods.1.lr=0.01"s);
  write(out / "job_script" / "hostile",
        "\0\0\0\0\0echo 'it''s' \"$(id)\" `id`\nexport A=1\0it's $(x)\n.yaml\0out `y`\0\0a='b'\0\0"s);
}

void journal_seeds(const fs::path& out) {
  fs::create_directories(out / "journal");
  const std::string one = pg::storage::frame_journal_record(
      {{"task_id", "0123456789abcdef"}, {"status", "ok"}, {"metrics", {{"accuracy", 61.5}}}});
  const std::string two = pg::storage::frame_journal_record({{"task_id", "x"}, {"status", "failed"}, {"error", "é"}});
  write(out / "journal" / "two.jsonl", one + two);
  write(out / "journal" / "torn.jsonl", one + two.substr(0, two.size() / 2));
}

// A PNG chunk: length, type, data, CRC-32 of type and data.
std::string png_chunk(const std::string& type, const std::string& data) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  const std::string body = type + data;
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
}

// A small PNG of `rows` (each row's bytes already packed, without the filter byte): filter 0, zlib.
// Interlaced: `rows` are the rows of the Adam7 passes, in order.
std::string tiny_png(int width, int height, int bit_depth, int color_type, const std::vector<std::string>& rows,
                     const std::string& palette = "", bool interlaced = false) {
  std::string raw;
  for (const std::string& row : rows) raw += '\0' + row;
  std::string compressed(compressBound(static_cast<uLong>(raw.size())), '\0');
  uLongf length = static_cast<uLongf>(compressed.size());
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &length, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 9);
  compressed.resize(length);
  std::string header;
  for (const uint32_t v : {static_cast<uint32_t>(width), static_cast<uint32_t>(height)}) {
    for (int shift = 24; shift >= 0; shift -= 8) header += static_cast<char>(v >> shift);
  }
  header += {static_cast<char>(bit_depth), static_cast<char>(color_type), 0, 0, static_cast<char>(interlaced)};
  std::string png = "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", header);
  if (!palette.empty()) png += png_chunk("PLTE", palette);
  return png + png_chunk("IDAT", compressed) + png_chunk("IEND", "");
}

// A small JPEG of a gradient, compressed in memory by libjpeg with the given colour space and options.
// Colour JPEGs have their luma sampled `h` x `v` times as often as chroma (2x2: 4:2:0, 2x1: 4:2:2).
std::string tiny_jpeg(int width, int height, J_COLOR_SPACE space, int components, bool progressive, int h, int v) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr error{};
  cinfo.err = jpeg_std_error(&error);  // a seed writer: libjpeg's default (exit on error) is fine here
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = components;
  cinfo.in_color_space = space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 80, TRUE);
  if (components == 3) {
    cinfo.comp_info[0].h_samp_factor = h;
    cinfo.comp_info[0].v_samp_factor = v;
  }
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> row(static_cast<size_t>(width) * components);
  while (cinfo.next_scanline < cinfo.image_height) {
    for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<unsigned char>(i * 9 + cinfo.next_scanline * 17);
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&cinfo, &pointer, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return bytes;
}

void image_seeds(const fs::path& out, const fs::path& shared) {
  using namespace std::string_literals;  // the rows hold zero bytes
  const fs::path dir = out / "image";
  write(dir / "rgb_3x2.png", tiny_png(3, 2, 8, 2, {"\x10\x20\x30\x40\x50\x60\x70\x80\x90"s, "abcdefghi"s}));
  write(dir / "gray1_9x2.png", tiny_png(9, 2, 1, 0, {"\xa5\x80"s, "\x3c\x00"s}));
  // 2x2 Adam7: pass 1 has pixel (0, 0), pass 6 pixel (1, 0), pass 7 row 1; the other passes are empty.
  write(dir / "gray16_2x2_interlaced.png",
        tiny_png(2, 2, 16, 0, {"\x01\x02"s, "\x03\x04"s, "\x05\x06\x07\x08"s}, "", true));
  write(dir / "palette2_5x2.png",
        tiny_png(5, 2, 2, 3, {"\x1b\x40"s, "\xe4\x00"s}, "\xff\x00\x00\x00\xff\x00\x00\x00\xff"s));
  write(dir / "rgba16_1x1.png", tiny_png(1, 1, 16, 6, {"\x01\x02\x03\x04\x05\x06\xff\xff"s}));
  write(dir / "la_2x1.png", tiny_png(2, 1, 8, 4, {"\x80\x00\x40\xc0"s}));
  write(dir / "baseline_420.jpg", tiny_jpeg(17, 11, JCS_RGB, 3, false, 2, 2));
  write(dir / "progressive_422.jpg", tiny_jpeg(9, 16, JCS_RGB, 3, true, 2, 1));
  write(dir / "baseline_444.jpg", tiny_jpeg(8, 8, JCS_RGB, 3, false, 1, 1));
  write(dir / "gray.jpg", tiny_jpeg(12, 5, JCS_GRAYSCALE, 1, false, 1, 1));
  write(dir / "cmyk.jpg", tiny_jpeg(6, 6, JCS_CMYK, 4, false, 1, 1));
  // The reference pipeline's own test images (the larger ones reach the fuzzer cut to -max_len).
  if (fs::exists(shared / "golden/preprocess")) {
    for (const auto& entry : fs::directory_iterator(shared / "golden/preprocess")) {
      fs::remove(dir / entry.path().filename());  // the shared copies are read-only
      fs::copy_file(entry.path(), dir / entry.path().filename());
    }
  }
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
    image_seeds(out, shared);
    job_script_seeds(out);
  } catch (const pg::Error& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
