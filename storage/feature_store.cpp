#include "storage/feature_store.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/error.h"
#include "common/files.h"
#include "common/utf8.h"
#include "common/log.h"
#include "common/strings.h"
#include "storage/float16.h"
#include "storage/hdf5_io.h"
#include "storage/hdf5_probe.h"

namespace pg::storage {

namespace {

const char* const kFormat = "promptgrid-features";
constexpr int64_t kFormatVersion = 1;
const std::vector<std::string> kSplitNames = {"train", "val", "test"};
const char* const kWhatItIs = "a promptgrid feature store (written by `promptgrid features import`)";
// Rows per chunk: large enough for fast sequential reads, small enough to read a few rows cheaply.
constexpr int64_t kChunkRows = 1024;

// Error prefix naming the file and an object in it: "features.h5: /dtd/train/features".
std::string where(const std::string& file, const std::string& object) { return file + ": " + object; }
std::string root_where(const std::string& file) { return file + ": / (root)"; }

bool is_split_name(const std::string& name) {
  return std::find(kSplitNames.begin(), kSplitNames.end(), name) != kSplitNames.end();
}

void check_split_name(const std::string& file, const std::string& dataset, const std::string& split) {
  if (!is_split_name(split)) {
    throw Error(where(file, "/" + dataset + "/" + split) + ": unknown split '" + split +
                "', expected train, val or test");
  }
}

void check_dataset_name(const std::string& file, const std::string& name) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos) {
    throw Error(file + ": invalid dataset name '" + name + "': use a plain name such as 'dtd'");
  }
}

void check_template(const std::string& template_text, const std::string& location) {
  if (template_text.find("{}") == std::string::npos) {
    throw Error(location + ": template '" + template_text +
                "' has no '{}' where the class name goes (e.g. \"a photo of a {}.\")");
  }
}

// IEEE binary16 as an HDF5 type: sign bit 15, exponent bits 10..14 (bias 15), mantissa bits 0..9;
// h5py and numpy read it as float16. `native_order` picks the memory byte order, else little-endian.
Hdf5Handle float16_type(bool native_order) {
  Hdf5Handle type(H5Tcopy(native_order ? H5T_NATIVE_FLOAT : H5T_IEEE_F32LE), H5Tclose);
  H5Tset_fields(type.get(), 15, 10, 5, 0, 10);
  H5Tset_size(type.get(), 2);
  H5Tset_ebias(type.get(), 15);
  return type;
}

// The stored float type of a features or views dataset; anything else is an error naming it.
FeatureDtype stored_dtype(hid_t dataset, const std::string& location) {
  Hdf5Handle type(H5Dget_type(dataset), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_FLOAT) {
    throw Error(location + ": has type " + type_class_name(type_class) + ", expected float16 or float32");
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 4) return FeatureDtype::float32;
  if (size == 2) {
    size_t sign_pos = 0, exponent_pos = 0, exponent_size = 0, mantissa_pos = 0, mantissa_size = 0;
    H5Tget_fields(type.get(), &sign_pos, &exponent_pos, &exponent_size, &mantissa_pos, &mantissa_size);
    if (sign_pos == 15 && exponent_pos == 10 && exponent_size == 5 && mantissa_pos == 0 &&
        mantissa_size == 10 && H5Tget_ebias(type.get()) == 15) {
      return FeatureDtype::float16;
    }
    throw Error(location + ": has a 16-bit float type that is not IEEE float16 (e.g. bfloat16); store "
                "float16 or float32");
  }
  throw Error(location + ": has " + std::to_string(size * 8) + "-bit floats, expected float16 or float32");
}

// Every value finite and no row all zeros: a NaN, an infinity or a zero row (an image that was never
// encoded) would otherwise score as a silently wrong accuracy. `first_row` numbers rows in messages.
void check_feature_rows(const float* values, int64_t rows, int64_t row_size, const std::string& location,
                        int64_t first_row = 0) {
  for (int64_t row = 0; row < rows; ++row) {
    const float* begin = values + row * row_size;
    bool all_zero = true;
    for (int64_t i = 0; i < row_size; ++i) {
      if (!std::isfinite(begin[i])) {
        throw Error(location + ": row " + std::to_string(first_row + row) + " holds a non-finite value (" +
                    format_number(begin[i]) + "); the features are broken, extract them again");
      }
      if (begin[i] != 0.0f) all_zero = false;
    }
    if (all_zero && row_size > 0) {
      throw Error(location + ": row " + std::to_string(first_row + row) + " is all zeros, which no CLIP image "
                  "feature is (an image that was never encoded?); extract the features again");
    }
  }
}

void check_feature_rows(const std::vector<float>& values, int64_t row_size, const std::string& location) {
  check_feature_rows(values.data(), row_size > 0 ? static_cast<int64_t>(values.size()) / row_size : 0, row_size,
                     location);
}

// float16 holds finite values up to 65504; larger ones would be stored as infinity.
void check_float16_range(const std::vector<float>& values, int64_t row_size, const std::string& location) {
  constexpr float kLargestHalf = 65504.0f;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::fabs(values[i]) > kLargestHalf) {
      throw Error(location + ": row " + std::to_string(static_cast<int64_t>(i) / row_size) + " holds " +
                  format_number(values[i]) + ", beyond float16's largest value 65504, so float16 would store "
                  "infinity; store float32 (--dtype float32)");
    }
  }
}

struct RootInfo {
  std::string backbone;
  int64_t embed_dim = 0;
};

RootInfo read_root(hid_t file, const std::string& path) {
  const std::string location = root_where(path);
  const std::string format = read_string_attribute(file, "format", location);
  if (format != kFormat) {
    throw Error(location + ": attribute 'format' is '" + format + "', expected '" + kFormat + "': not " +
                kWhatItIs);
  }
  const int64_t version = read_int_attribute(file, "format_version", location);
  if (version != kFormatVersion) {
    throw Error(location + ": format_version " + std::to_string(version) +
                " is not supported (this promptgrid reads version " + std::to_string(kFormatVersion) +
                "); use a matching promptgrid or import the features again");
  }
  RootInfo info;
  info.backbone = read_string_attribute(file, "backbone", location);
  if (info.backbone.empty()) throw Error(location + ": attribute 'backbone' is empty");
  info.embed_dim = read_int_attribute(file, "embed_dim", location);
  if (info.embed_dim <= 0) {
    throw Error(location + ": attribute 'embed_dim' is " + std::to_string(info.embed_dim) +
                ", expected a positive dimension");
  }
  return info;
}

// The per-dataset group, validated: classnames match num_classes, the template has "{}".
struct DatasetHeader {
  std::vector<std::string> classnames;
  std::string prompt_template;
  int64_t num_classes = 0;
  std::string source;  // optional attribute: the dataset whose images a test-only dataset shifts
};

DatasetHeader read_dataset_header(hid_t group, const std::string& path, const std::string& dataset) {
  const std::string location = where(path, "/" + dataset);
  DatasetHeader header;
  header.num_classes = read_int_attribute(group, "num_classes", location);
  if (header.num_classes <= 0) {
    throw Error(location + ": attribute 'num_classes' is " + std::to_string(header.num_classes) +
                ", expected at least 1");
  }
  header.prompt_template = read_string_attribute(group, "template", location);
  check_template(header.prompt_template, location);
  if (H5Aexists(group, "source") > 0) header.source = read_string_attribute(group, "source", location);
  const std::string classnames_location = location + "/classnames";
  Hdf5Handle classnames = open_dataset(group, "classnames", classnames_location);
  header.classnames = read_string_dataset(classnames.get(), classnames_location);
  if (static_cast<int64_t>(header.classnames.size()) != header.num_classes) {
    throw Error(classnames_location + ": has " + std::to_string(header.classnames.size()) +
                " class names, but num_classes is " + std::to_string(header.num_classes));
  }
  return header;
}

// Shapes and dtypes of one split, validated against each other and the store's embed_dim.
struct SplitLayout {
  int64_t rows = 0;
  FeatureDtype dtype = FeatureDtype::float32;
  int64_t num_views = 0;
  int64_t skipped = 0;  // images of the split file left out (skipped_rows)
};

struct SplitHandles {
  Hdf5Handle group, features, labels, paths, views;
  Hdf5Handle skipped_rows, skipped_paths, skipped_reasons;  // all or none
};

const char* const kSkippedNames[] = {"skipped_rows", "skipped_paths", "skipped_reasons"};

SplitLayout inspect_split(const SplitHandles& handles, const std::string& path, const RootInfo& root,
                          const std::string& prefix) {
  SplitLayout layout;
  const std::string features_location = where(path, prefix + "/features");
  const std::vector<int64_t> shape = dataset_shape(handles.features.get(), 2, features_location);
  layout.rows = shape[0];
  if (shape[1] != root.embed_dim) {
    throw Error(features_location + " has shape " + format_shape(shape) + ", expected D = " +
                std::to_string(root.embed_dim) + " from backbone " + root.backbone);
  }
  layout.dtype = stored_dtype(handles.features.get(), features_location);
  check_dataset_storage(handles.features.get(), features_location);

  const std::string labels_location = where(path, prefix + "/labels");
  const std::vector<int64_t> label_shape = dataset_shape(handles.labels.get(), 1, labels_location);
  const H5T_class_t label_class = dataset_type_class(handles.labels.get(), labels_location);
  if (label_class != H5T_INTEGER) {
    throw Error(labels_location + ": has type " + type_class_name(label_class) + ", expected int32");
  }
  if (label_shape[0] != layout.rows) {
    throw Error(labels_location + ": has " + std::to_string(label_shape[0]) + " rows, but features has " +
                std::to_string(layout.rows));
  }
  check_dataset_storage(handles.labels.get(), labels_location);
  const std::string paths_location = where(path, prefix + "/paths");
  const std::vector<int64_t> path_shape = dataset_shape(handles.paths.get(), 1, paths_location);
  if (path_shape[0] != layout.rows) {
    throw Error(paths_location + ": has " + std::to_string(path_shape[0]) + " rows, but features has " +
                std::to_string(layout.rows));
  }
  const H5T_class_t path_class = dataset_type_class(handles.paths.get(), paths_location);
  if (path_class != H5T_STRING) {
    throw Error(paths_location + ": has type " + type_class_name(path_class) + ", expected strings");
  }
  if (handles.views.valid()) {
    const std::string views_location = where(path, prefix + "/views");
    const std::vector<int64_t> views_shape = dataset_shape(handles.views.get(), 3, views_location);
    if (views_shape[0] < 1 || views_shape[1] != layout.rows || views_shape[2] != root.embed_dim) {
      throw Error(views_location + " has shape " + format_shape(views_shape) + ", expected [V, " +
                  std::to_string(layout.rows) + ", " + std::to_string(root.embed_dim) +
                  "] (V >= 1 views of every training row)");
    }
    if (stored_dtype(handles.views.get(), views_location) != layout.dtype) {
      throw Error(views_location + ": has a different dtype from " + prefix + "/features");
    }
    check_dataset_storage(handles.views.get(), views_location);
    layout.num_views = views_shape[0];
  }
  if (handles.skipped_rows.valid()) {
    const std::string rows_location = where(path, prefix + "/skipped_rows");
    layout.skipped = dataset_shape(handles.skipped_rows.get(), 1, rows_location)[0];
    if (dataset_type_class(handles.skipped_rows.get(), rows_location) != H5T_INTEGER) {
      throw Error(rows_location + ": expected integers (the skipped images' rows in the split file)");
    }
    check_dataset_storage(handles.skipped_rows.get(), rows_location);
    for (const auto& [name, handle] : {std::pair{"skipped_paths", &handles.skipped_paths},
                                       std::pair{"skipped_reasons", &handles.skipped_reasons}}) {
      const std::string location = where(path, prefix + "/" + name);
      const int64_t count = dataset_shape(handle->get(), 1, location)[0];
      if (count != layout.skipped) {
        throw Error(location + ": has " + std::to_string(count) + " entries, but skipped_rows has " +
                    std::to_string(layout.skipped));
      }
      if (dataset_type_class(handle->get(), location) != H5T_STRING) throw Error(location + ": expected strings");
    }
  }
  return layout;
}

// The images a split left out, checked: rows in the split file are distinct and increasing.
std::vector<SkippedImage> read_skipped(const SplitHandles& handles, const SplitLayout& layout,
                                       const std::string& path, const std::string& prefix) {
  std::vector<SkippedImage> skipped;
  if (layout.skipped == 0) return skipped;
  const std::string rows_location = where(path, prefix + "/skipped_rows");
  std::vector<int64_t> rows(static_cast<size_t>(layout.skipped));
  check_hdf5(H5Dread(handles.skipped_rows.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()),
             rows_location, "reading the rows");
  const std::vector<std::string> paths =
      read_string_dataset(handles.skipped_paths.get(), where(path, prefix + "/skipped_paths"));
  const std::vector<std::string> reasons =
      read_string_dataset(handles.skipped_reasons.get(), where(path, prefix + "/skipped_reasons"));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || (i > 0 && rows[i] <= rows[i - 1])) {
      throw Error(rows_location + ": entry " + std::to_string(i) + " is row " + std::to_string(rows[i]) +
                  "; rows must be increasing split-file indices");
    }
    skipped.push_back({rows[i], paths[i], reasons[i]});
  }
  return skipped;
}

SplitHandles open_split(hid_t dataset_group, const std::string& path, const std::string& dataset,
                        const std::string& split) {
  const std::string prefix = "/" + dataset + "/" + split;
  SplitHandles handles;
  handles.group = open_group(dataset_group, split, where(path, prefix));
  handles.features = open_dataset(handles.group.get(), "features", where(path, prefix + "/features"));
  handles.labels = open_dataset(handles.group.get(), "labels", where(path, prefix + "/labels"));
  handles.paths = open_dataset(handles.group.get(), "paths", where(path, prefix + "/paths"));
  if (link_exists(handles.group.get(), "views")) {
    if (split != "train") {
      throw Error(where(path, prefix + "/views") + ": augmented views are only stored for the train split");
    }
    handles.views = open_dataset(handles.group.get(), "views", where(path, prefix + "/views"));
  }
  bool any_skipped = false;
  for (const char* name : kSkippedNames) any_skipped = any_skipped || link_exists(handles.group.get(), name);
  if (any_skipped) {
    handles.skipped_rows = open_dataset(handles.group.get(), "skipped_rows", where(path, prefix + "/skipped_rows"));
    handles.skipped_paths = open_dataset(handles.group.get(), "skipped_paths", where(path, prefix + "/skipped_paths"));
    handles.skipped_reasons =
        open_dataset(handles.group.get(), "skipped_reasons", where(path, prefix + "/skipped_reasons"));
  }
  return handles;
}

// Reads `rows` rows from `first_row` of a float16 or float32 dataset of rank 2 ([N, D]) or 3 ([V, N, D],
// every view) into float32, row-major.
std::vector<float> read_floats(hid_t dataset, FeatureDtype dtype, int64_t first_row, int64_t rows,
                               const std::string& location) {
  Hdf5Handle file_space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr);
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[dims.size() - 2] = static_cast<hsize_t>(first_row);
  count[dims.size() - 2] = static_cast<hsize_t>(rows);
  check_hdf5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
             location, "selecting rows");
  size_t total = 1;
  for (const hsize_t n : count) total *= static_cast<size_t>(n);
  Hdf5Handle memory_space(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  std::vector<float> values(total);
  if (total == 0) return values;
  if (dtype == FeatureDtype::float32) {
    check_hdf5(H5Dread(dataset, H5T_NATIVE_FLOAT, memory_space.get(), file_space.get(), H5P_DEFAULT, values.data()),
               location, "reading the values");
    return values;
  }
  std::vector<uint16_t> halves(total);
  Hdf5Handle memory_type = float16_type(true);
  check_hdf5(H5Dread(dataset, memory_type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, halves.data()),
             location, "reading the values");
  float16_to_float32(halves.data(), values.data(), total);
  return values;
}

std::vector<int32_t> read_labels_range(hid_t dataset, int64_t first_row, int64_t rows, int64_t num_classes,
                                       const std::string& location) {
  Hdf5Handle file_space(H5Dget_space(dataset), H5Sclose);
  const hsize_t start = static_cast<hsize_t>(first_row), count = static_cast<hsize_t>(rows);
  check_hdf5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), location,
             "selecting rows");
  Hdf5Handle memory_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  if (rows > 0) {
    check_hdf5(H5Dread(dataset, H5T_NATIVE_INT64, memory_space.get(), file_space.get(), H5P_DEFAULT, labels.data()),
               location, "reading the labels");
  }
  std::vector<int32_t> result;
  result.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw Error(location + ": row " + std::to_string(first_row + static_cast<int64_t>(i)) + " has label " +
                  std::to_string(labels[i]) + ", outside [0, " + std::to_string(num_classes) +
                  ") given num_classes = " + std::to_string(num_classes));
    }
    result.push_back(static_cast<int32_t>(labels[i]));
  }
  return result;
}

}  // namespace

std::string dtype_name(FeatureDtype dtype) { return dtype == FeatureDtype::float16 ? "float16" : "float32"; }

// ---------------------------------------------------------------------------------------------------
// Writer

struct FeatureStoreWriter::Impl {
  std::string path;        // where the store ends up
  std::string write_path;  // the temporary file written, published to `path` by close()
  WriteMode mode = WriteMode::create;
  RootInfo root;
  FeatureDtype dtype = FeatureDtype::float32;
  std::unique_ptr<FileLock> lock;  // one writer of `path` at a time
  // Append: datasets of the store that do not read completely (left half-written by an older
  // promptgrid or another writer) and why. They do not count as present: importing them again
  // replaces them.
  std::map<std::string, std::string> incomplete;
  Hdf5Handle file;
  bool closed = false;

  void write(const DatasetFeatures& dataset);
  void validate(const DatasetFeatures& dataset) const;
  void write_split(hid_t dataset_group, const std::string& prefix, const SplitFeatures& split) const;
  void write_skipped(hid_t split_group, const std::string& prefix, const std::vector<SkippedImage>& skipped) const;
  void write_floats(hid_t parent, const std::string& name, const std::vector<hsize_t>& dims,
                    const std::vector<float>& values, const std::string& location) const;
  // Drops the temporary file without publishing it; the store at `path` stays as it was.
  void discard() {
    closed = true;
    file.abandon();  // never closed: see prepare_hdf5
    remove_file_quietly(write_path);
    lock.reset();
  }
};

FeatureStoreWriter::FeatureStoreWriter(const std::string& path, const std::string& backbone,
                                       int64_t embed_dim, FeatureDtype dtype, WriteMode mode)
    : impl_(std::make_unique<Impl>()) {
  prepare_hdf5();
  if (backbone.empty()) throw Error(path + ": the backbone name is empty; name it (e.g. ViT-B/16)");
  require_utf8(backbone, path + ": the backbone name", "name it in UTF-8 (e.g. ViT-B/16)");
  if (embed_dim <= 0) {
    throw Error(path + ": embed_dim " + std::to_string(embed_dim) + " is not a positive dimension");
  }
  impl_->path = path;
  impl_->mode = mode;
  impl_->dtype = dtype;
  impl_->root = {backbone, embed_dim};
  impl_->lock = std::make_unique<FileLock>(path, "writing");
  // Holding the lock, every temporary file of `path` from this host belongs to a process that died.
  remove_stale_temporaries(path);
  impl_->write_path = temporary_path_for(path);
  if (mode == WriteMode::append) {
    // The new dataset goes into a copy, published in place of the store only when complete: a failure
    // (disk full, a crash) leaves the store exactly as it was.
    {
      const FeatureStoreReader reader(path);  // probes the existing store before HDF5 parses it here
      const RootInfo existing{reader.backbone(), reader.embed_dim()};
      if (existing.backbone != backbone || existing.embed_dim != embed_dim) {
        throw Error(path + ": the store holds backbone " + existing.backbone + " with embed_dim " +
                    std::to_string(existing.embed_dim) + "; features of backbone " + backbone +
                    " with D = " + std::to_string(embed_dim) + " belong in another store");
      }
      for (const auto& name : reader.datasets()) {
        try {
          reader.validate(name);
          // `features import` writes all three splits: a missing one was cut short, not left out.
          const DatasetSummary summary = reader.summary(name);
          for (const auto& split : kSplitNames) {
            if (summary.split_rows.count(split) == 0) throw Error(where(path, "/" + name) + ": has no " + split + " split");
          }
        } catch (const Error& e) {
          impl_->incomplete[name] = e.what();
        }
      }
    }
    try {
      copy_file(path, impl_->write_path);
    } catch (const Error& e) {
      throw Error(path + ": appending works on a copy of the store beside it, which could not be made (" + e.what() +
                  "); the store is unchanged");
    }
    impl_->file = Hdf5Handle(H5Fopen(impl_->write_path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    if (!impl_->file.valid()) {
      remove_file_quietly(impl_->write_path);
      throw Error(path + ": cannot open a copy of the store for writing" + hdf5_detail_suffix());
    }
    return;
  }
  if (mode == WriteMode::create && file_exists(path)) {
    throw Error(path + ": already exists; add datasets to it with --append, or remove it first to start a new store");
  }
  impl_->file = Hdf5Handle(H5Fcreate(impl_->write_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                           H5Fclose);
  if (!impl_->file.valid()) {
    throw Error(path + ": cannot create the feature store" + hdf5_detail_suffix() +
                "; check that the folder exists and is writable");
  }
  const std::string location = root_where(path);
  try {
    write_string_attribute(impl_->file.get(), "format", kFormat, location);
    write_int_attribute(impl_->file.get(), "format_version", kFormatVersion, location);
    write_string_attribute(impl_->file.get(), "backbone", backbone, location);
    write_int_attribute(impl_->file.get(), "embed_dim", embed_dim, location);
  } catch (...) {
    impl_->discard();
    throw;
  }
}

FeatureStoreWriter::~FeatureStoreWriter() {
  if (!impl_->closed) impl_->discard();
}

void FeatureStoreWriter::Impl::validate(const DatasetFeatures& dataset) const {
  check_dataset_name(path, dataset.name);
  const std::string location = where(path, "/" + dataset.name);
  if (dataset.classnames.empty()) throw Error(location + ": no class names given");
  for (size_t i = 0; i < dataset.classnames.size(); ++i) {
    require_utf8(dataset.classnames[i], location + "/classnames: class " + std::to_string(i),
                 "class names must be UTF-8 text");
  }
  require_utf8(dataset.prompt_template, location + ": the template", "templates must be UTF-8 text");
  check_template(dataset.prompt_template, location);
  if (dataset.splits.empty()) throw Error(location + ": no splits given (train, val, test)");
  const int64_t num_classes = static_cast<int64_t>(dataset.classnames.size());
  for (const auto& [split_name, split] : dataset.splits) {
    check_split_name(path, dataset.name, split_name);
    const std::string prefix = "/" + dataset.name + "/" + split_name;
    if (split.rows <= 0) throw Error(where(path, prefix) + ": has no rows; leave the split out instead");
    if (split.dim != root.embed_dim) {
      throw Error(where(path, prefix + "/features") + " has shape " + format_shape({split.rows, split.dim}) +
                  ", expected D = " + std::to_string(root.embed_dim) + " from backbone " + root.backbone);
    }
    if (static_cast<int64_t>(split.features.size()) != split.rows * split.dim) {
      throw Error(where(path, prefix + "/features") + ": " + std::to_string(split.features.size()) +
                  " values given for shape " + format_shape({split.rows, split.dim}));
    }
    check_feature_rows(split.features, split.dim, where(path, prefix + "/features"));
    if (dtype == FeatureDtype::float16) check_float16_range(split.features, split.dim, where(path, prefix + "/features"));
    if (static_cast<int64_t>(split.labels.size()) != split.rows) {
      throw Error(where(path, prefix + "/labels") + ": has " + std::to_string(split.labels.size()) +
                  " rows, but features has " + std::to_string(split.rows));
    }
    for (size_t i = 0; i < split.labels.size(); ++i) {
      if (split.labels[i] < 0 || split.labels[i] >= num_classes) {
        throw Error(where(path, prefix + "/labels") + ": row " + std::to_string(i) + " has label " +
                    std::to_string(split.labels[i]) + ", outside [0, " + std::to_string(num_classes) +
                    ") for " + std::to_string(num_classes) + " classes");
      }
    }
    if (static_cast<int64_t>(split.paths.size()) != split.rows) {
      throw Error(where(path, prefix + "/paths") + ": has " + std::to_string(split.paths.size()) +
                  " rows, but features has " + std::to_string(split.rows));
    }
    if (split.num_views < 0) throw Error(where(path, prefix + "/views") + ": negative number of views");
    if (split.num_views > 0 && split_name != "train") {
      throw Error(where(path, prefix + "/views") + ": augmented views are only stored for the train split");
    }
    if (static_cast<int64_t>(split.views.size()) != split.num_views * split.rows * split.dim) {
      throw Error(where(path, prefix + "/views") + ": " + std::to_string(split.views.size()) +
                  " values given for shape " + format_shape({split.num_views, split.rows, split.dim}));
    }
    check_feature_rows(split.views, split.dim, where(path, prefix + "/views"));
    if (dtype == FeatureDtype::float16) check_float16_range(split.views, split.dim, where(path, prefix + "/views"));
    for (size_t i = 0; i < split.paths.size(); ++i) {
      require_utf8(split.paths[i], where(path, prefix + "/paths") + ": row " + std::to_string(i),
                   "image paths must be UTF-8 text");
    }
    for (size_t i = 0; i < split.skipped.size(); ++i) {
      const SkippedImage& image = split.skipped[i];
      if (image.split_row < 0 || (i > 0 && image.split_row <= split.skipped[i - 1].split_row)) {
        throw Error(where(path, prefix + "/skipped_rows") + ": entry " + std::to_string(i) + " is row " +
                    std::to_string(image.split_row) + "; rows must be increasing split-file indices",
                    ErrorKind::internal);
      }
      require_utf8(image.path, where(path, prefix + "/skipped_paths") + ": entry " + std::to_string(i),
                   "image paths must be UTF-8 text");
      require_utf8(image.reason, where(path, prefix + "/skipped_reasons") + ": entry " + std::to_string(i),
                   "reasons must be UTF-8 text");
    }
  }
}

void FeatureStoreWriter::Impl::write_floats(hid_t parent, const std::string& name,
                                            const std::vector<hsize_t>& dims, const std::vector<float>& values,
                                            const std::string& location) const {
  const int rank = static_cast<int>(dims.size());
  Hdf5Handle space(H5Screate_simple(rank, dims.data(), nullptr), H5Sclose);
  // Chunks of whole rows: [min(N, 1024), D], or [1, min(N, 1024), D] for views.
  std::vector<hsize_t> chunk = dims;
  for (int i = 0; i + 2 < rank; ++i) chunk[static_cast<size_t>(i)] = 1;
  chunk[static_cast<size_t>(rank - 2)] = std::min<hsize_t>(dims[static_cast<size_t>(rank - 2)], kChunkRows);
  Hdf5Handle properties = untimed_creation_properties(H5P_DATASET_CREATE);
  check_hdf5(H5Pset_chunk(properties.get(), rank, chunk.data()), location, "setting the chunk shape");
  Hdf5Handle file_type = dtype == FeatureDtype::float16 ? float16_type(false)
                                                        : Hdf5Handle(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  Hdf5Handle dataset(H5Dcreate2(parent, name.c_str(), file_type.get(), space.get(), H5P_DEFAULT,
                                properties.get(), H5P_DEFAULT),
                     H5Dclose);
  if (!dataset.valid()) throw Error(location + ": cannot create the dataset (" + hdf5_error_detail() + ")");
  if (dtype == FeatureDtype::float32) {
    check_hdf5(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
               location, "writing the values");
    return;
  }
  std::vector<uint16_t> halves(values.size());
  float32_to_float16(values.data(), halves.data(), values.size());
  Hdf5Handle memory_type = float16_type(true);
  check_hdf5(H5Dwrite(dataset.get(), memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, halves.data()),
             location, "writing the values");
}

void FeatureStoreWriter::Impl::write_split(hid_t dataset_group, const std::string& prefix,
                                           const SplitFeatures& split) const {
  const std::string split_name = prefix.substr(prefix.rfind('/') + 1);
  Hdf5Handle group = create_group(dataset_group, split_name, where(path, prefix));
  const hsize_t rows = static_cast<hsize_t>(split.rows), dim = static_cast<hsize_t>(split.dim);
  write_floats(group.get(), "features", {rows, dim}, split.features, where(path, prefix + "/features"));

  const std::string labels_location = where(path, prefix + "/labels");
  Hdf5Handle space(H5Screate_simple(1, &rows, nullptr), H5Sclose);
  Hdf5Handle untimed = untimed_creation_properties(H5P_DATASET_CREATE);
  Hdf5Handle labels(H5Dcreate2(group.get(), "labels", H5T_STD_I32LE, space.get(), H5P_DEFAULT, untimed.get(),
                               H5P_DEFAULT),
                    H5Dclose);
  if (!labels.valid()) throw Error(labels_location + ": cannot create the dataset (" + hdf5_error_detail() + ")");
  check_hdf5(H5Dwrite(labels.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, split.labels.data()),
             labels_location, "writing the labels");

  write_string_dataset(group.get(), "paths", split.paths, where(path, prefix + "/paths"));
  if (split.num_views > 0) {
    write_floats(group.get(), "views", {static_cast<hsize_t>(split.num_views), rows, dim}, split.views,
                 where(path, prefix + "/views"));
  }
  if (!split.skipped.empty()) write_skipped(group.get(), prefix, split.skipped);
}

void FeatureStoreWriter::Impl::write_skipped(hid_t split_group, const std::string& prefix,
                                             const std::vector<SkippedImage>& skipped) const {
  const std::string rows_location = where(path, prefix + "/skipped_rows");
  std::vector<int64_t> rows;
  std::vector<std::string> paths, reasons;
  for (const SkippedImage& image : skipped) {
    rows.push_back(image.split_row);
    paths.push_back(image.path);
    reasons.push_back(image.reason);
  }
  const hsize_t count = rows.size();
  Hdf5Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  Hdf5Handle untimed = untimed_creation_properties(H5P_DATASET_CREATE);
  Hdf5Handle dataset(H5Dcreate2(split_group, "skipped_rows", H5T_STD_I64LE, space.get(), H5P_DEFAULT, untimed.get(),
                                H5P_DEFAULT),
                     H5Dclose);
  if (!dataset.valid()) throw Error(rows_location + ": cannot create the dataset (" + hdf5_error_detail() + ")");
  check_hdf5(H5Dwrite(dataset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), rows_location,
             "writing the rows");
  write_string_dataset(split_group, "skipped_paths", paths, where(path, prefix + "/skipped_paths"));
  write_string_dataset(split_group, "skipped_reasons", reasons, where(path, prefix + "/skipped_reasons"));
}

void FeatureStoreWriter::write_dataset(const DatasetFeatures& dataset) {
  Impl& impl = *impl_;
  if (impl.closed) throw Error(impl.path + ": the feature store writer is already closed");
  impl.validate(dataset);  // before anything is written: a mistake leaves the temporary file intact
  try {
    impl.write(dataset);
  } catch (...) {
    impl.discard();  // a half-written dataset never reaches the store
    throw;
  }
}

void FeatureStoreWriter::Impl::write(const DatasetFeatures& dataset) {
  const std::string location = where(path, "/" + dataset.name);
  if (link_exists(file.get(), dataset.name)) {
    const auto broken = incomplete.find(dataset.name);
    if (broken == incomplete.end()) {
      throw Error(location + ": already in the store; a dataset is written once (use another store or name)");
    }
    log_warning(location + ": replacing the incomplete dataset there (" + broken->second + ")");
    check_hdf5(H5Ldelete(file.get(), dataset.name.c_str(), H5P_DEFAULT), location, "removing the incomplete dataset");
    incomplete.erase(broken);  // what is written now is complete: a second write of it is refused
  }
  Hdf5Handle group = create_group(file.get(), dataset.name, location);
  write_string_dataset(group.get(), "classnames", dataset.classnames, location + "/classnames");
  write_string_attribute(group.get(), "template", dataset.prompt_template, location);
  write_int_attribute(group.get(), "num_classes", static_cast<int64_t>(dataset.classnames.size()), location);
  if (!dataset.source.empty()) write_string_attribute(group.get(), "source", dataset.source, location);
  for (const auto& [split_name, split] : dataset.splits) {
    write_split(group.get(), "/" + dataset.name + "/" + split_name, split);
  }
}

void FeatureStoreWriter::close() {
  Impl& impl = *impl_;
  if (impl.closed) throw Error(impl.path + ": the feature store writer is already closed");
  if (H5Fflush(impl.file.get(), H5F_SCOPE_GLOBAL) < 0) {
    const std::string detail = hdf5_detail_suffix();
    impl.discard();
    throw Error(impl.path + ": could not finish writing the feature store" + detail + "; the store is unchanged");
  }
  impl.closed = true;
  if (!impl.file.reset()) {
    const std::string detail = hdf5_detail_suffix();
    remove_file_quietly(impl.write_path);
    throw Error(impl.path + ": could not finish writing the feature store" + detail + "; the store is unchanged");
  }
  publish_file(impl.write_path, impl.path, /*replace=*/impl.mode != WriteMode::create);
  impl.lock.reset();  // the store is complete: the next writer may start
}

// ---------------------------------------------------------------------------------------------------
// Reader

struct FeatureStoreReader::Impl {
  std::string path;
  Hdf5Handle file;
  RootInfo root;
  // What the probe child found validating each dataset: "" (valid) or the error. Empty without a probe.
  std::map<std::string, std::string> probed;

  Hdf5Handle open_dataset_group(const std::string& dataset) const {
    check_dataset_name(path, dataset);
    if (!link_exists(file.get(), dataset)) {
      throw Error(where(path, "/" + dataset) + ": dataset not in the store (it has: " +
                  join(datasets(), ", ") + "); import it with `promptgrid features import`");
    }
    return open_group(file.get(), dataset, where(path, "/" + dataset));
  }

  std::vector<std::string> datasets() const {
    std::vector<std::string> names;
    for (const auto& name : child_names(file.get(), root_where(path))) {
      if (object_type(file.get(), name) == H5O_TYPE_GROUP) names.push_back(name);
    }
    return names;
  }
};

FeatureStoreReader::FeatureStoreReader(const std::string& path, Probe probe) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (probe == Probe::in_child) {
    // Everything this reader can be asked for, read once in a child process (storage/hdf5_probe.h).
    // A dataset that is merely malformed is reported when it is used, as without the probe: the other
    // datasets of the store stay usable (and a broken one can be replaced).
    // Each dataset's verdict comes back ({"dtd": "", "eurosat": "<error>"}), so validate() need not
    // read the file a second time.
    const std::string report = probe_in_child_with_report(path, [&] {
      const FeatureStoreReader reader(path, Probe::none);
      nlohmann::json verdicts = nlohmann::json::object();
      for (const auto& dataset : reader.datasets()) {
        try {
          reader.validate(dataset);
          verdicts[dataset] = "";
        } catch (const Error& e) {
          verdicts[dataset] = e.what();
        }
      }
      return verdicts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    });
    const nlohmann::json verdicts = nlohmann::json::parse(report, nullptr, false);
    if (verdicts.is_object()) {
      for (const auto& [dataset, verdict] : verdicts.items()) {
        if (verdict.is_string()) impl_->probed[dataset] = verdict.get<std::string>();
      }
    }
  }
  impl_->file = open_hdf5_file(path, false, kWhatItIs);
  impl_->root = read_root(impl_->file.get(), path);
}

FeatureStoreReader::~FeatureStoreReader() = default;

const std::string& FeatureStoreReader::path() const { return impl_->path; }
const std::string& FeatureStoreReader::backbone() const { return impl_->root.backbone; }
int64_t FeatureStoreReader::embed_dim() const { return impl_->root.embed_dim; }
std::vector<std::string> FeatureStoreReader::datasets() const { return impl_->datasets(); }

DatasetSummary FeatureStoreReader::summary(const std::string& dataset) const {
  Hdf5Handle group = impl_->open_dataset_group(dataset);
  const DatasetHeader header = read_dataset_header(group.get(), impl_->path, dataset);
  DatasetSummary summary;
  summary.name = dataset;
  summary.num_classes = header.num_classes;
  summary.prompt_template = header.prompt_template;
  summary.source = header.source;
  std::set<std::string> dtypes;
  for (const auto& split : kSplitNames) {
    if (!link_exists(group.get(), split)) continue;
    const SplitHandles handles = open_split(group.get(), impl_->path, dataset, split);
    const SplitLayout layout = inspect_split(handles, impl_->path, impl_->root, "/" + dataset + "/" + split);
    summary.split_rows[split] = layout.rows;
    if (split == "train") summary.train_views = layout.num_views;
    if (layout.skipped > 0) summary.split_skipped[split] = layout.skipped;
    dtypes.insert(dtype_name(layout.dtype));
  }
  if (summary.split_rows.empty()) {
    throw Error(where(impl_->path, "/" + dataset) + ": has none of the splits train, val, test");
  }
  summary.dtype = join(dtypes, "+");
  return summary;
}

std::vector<std::string> FeatureStoreReader::classnames(const std::string& dataset) const {
  Hdf5Handle group = impl_->open_dataset_group(dataset);
  return read_dataset_header(group.get(), impl_->path, dataset).classnames;
}

std::string FeatureStoreReader::prompt_template(const std::string& dataset) const {
  Hdf5Handle group = impl_->open_dataset_group(dataset);
  return read_dataset_header(group.get(), impl_->path, dataset).prompt_template;
}

// One split opened and checked: what every read of it starts from.
struct FeatureStoreReader::OpenSplit {
  Hdf5Handle group;
  DatasetHeader header;
  SplitHandles handles;
  SplitLayout layout;
  std::string prefix;
};

FeatureStoreReader::OpenSplit FeatureStoreReader::open(const std::string& dataset, const std::string& split) const {
  check_split_name(impl_->path, dataset, split);
  OpenSplit open;
  open.group = impl_->open_dataset_group(dataset);
  open.header = read_dataset_header(open.group.get(), impl_->path, dataset);
  open.prefix = "/" + dataset + "/" + split;
  open.handles = open_split(open.group.get(), impl_->path, dataset, split);
  open.layout = inspect_split(open.handles, impl_->path, impl_->root, open.prefix);
  return open;
}

SplitFeatures FeatureStoreReader::read_split(const std::string& dataset, const std::string& split) const {
  const std::string& path = impl_->path;
  const OpenSplit opened = open(dataset, split);
  const std::string& prefix = opened.prefix;
  SplitFeatures result;
  result.rows = opened.layout.rows;
  result.dim = impl_->root.embed_dim;
  result.features = read_floats(opened.handles.features.get(), opened.layout.dtype, 0, result.rows,
                                where(path, prefix + "/features"));
  check_feature_rows(result.features, result.dim, where(path, prefix + "/features"));
  result.labels = read_labels_range(opened.handles.labels.get(), 0, result.rows, opened.header.num_classes,
                                    where(path, prefix + "/labels"));
  result.paths = read_string_dataset(opened.handles.paths.get(), where(path, prefix + "/paths"));
  if (opened.layout.num_views > 0) {
    result.num_views = opened.layout.num_views;
    result.views = read_floats(opened.handles.views.get(), opened.layout.dtype, 0, result.rows,
                               where(path, prefix + "/views"));
    check_feature_rows(result.views, result.dim, where(path, prefix + "/views"));
  }
  result.skipped = read_skipped(opened.handles, opened.layout, path, prefix);
  return result;
}

std::vector<int32_t> FeatureStoreReader::read_labels(const std::string& dataset, const std::string& split) const {
  const OpenSplit opened = open(dataset, split);
  return read_labels_range(opened.handles.labels.get(), 0, opened.layout.rows, opened.header.num_classes,
                           where(impl_->path, opened.prefix + "/labels"));
}

void FeatureStoreReader::for_each_chunk(const std::string& dataset, const std::string& split, int64_t chunk_rows,
                                        const std::function<void(const SplitChunk&)>& visit) const {
  if (chunk_rows < 1) throw Error(impl_->path + ": chunks of " + std::to_string(chunk_rows) + " rows");
  const std::string& path = impl_->path;
  const OpenSplit opened = open(dataset, split);
  const std::string features_location = where(path, opened.prefix + "/features");
  const std::string labels_location = where(path, opened.prefix + "/labels");
  SplitChunk chunk;
  chunk.dim = impl_->root.embed_dim;
  for (int64_t first = 0; first < opened.layout.rows; first += chunk_rows) {
    chunk.first_row = first;
    chunk.rows = std::min(chunk_rows, opened.layout.rows - first);
    chunk.features = read_floats(opened.handles.features.get(), opened.layout.dtype, first, chunk.rows, features_location);
    check_feature_rows(chunk.features.data(), chunk.rows, chunk.dim, features_location, first);
    chunk.labels = read_labels_range(opened.handles.labels.get(), first, chunk.rows, opened.header.num_classes,
                                     labels_location);
    visit(chunk);
  }
}

void FeatureStoreReader::validate(const std::string& dataset) const {
  const auto probed = impl_->probed.find(dataset);
  if (probed != impl_->probed.end()) {
    if (!probed->second.empty()) throw Error(probed->second);
    return;  // the probe child read and checked all of it a moment ago
  }
  const std::string& path = impl_->path;
  constexpr int64_t kRowsPerRead = 8192;
  for (const auto& split : kSplitNames) {
    {
      Hdf5Handle group = impl_->open_dataset_group(dataset);
      if (!link_exists(group.get(), split)) continue;
    }
    for_each_chunk(dataset, split, kRowsPerRead, [](const SplitChunk&) {});
    const OpenSplit opened = open(dataset, split);
    read_string_dataset(opened.handles.paths.get(), where(path, opened.prefix + "/paths"));
    read_skipped(opened.handles, opened.layout, path, opened.prefix);
    if (opened.layout.num_views == 0) continue;
    const std::string views_location = where(path, opened.prefix + "/views");
    for (int64_t first = 0; first < opened.layout.rows; first += kRowsPerRead) {
      const int64_t rows = std::min(kRowsPerRead, opened.layout.rows - first);
      const std::vector<float> views = read_floats(opened.handles.views.get(), opened.layout.dtype, first, rows, views_location);
      for (int64_t view = 0; view < opened.layout.num_views; ++view) {
        check_feature_rows(views.data() + view * rows * impl_->root.embed_dim, rows, impl_->root.embed_dim,
                           views_location + " (view " + std::to_string(view) + ")", first);
      }
    }
  }
}

}  // namespace pg::storage
