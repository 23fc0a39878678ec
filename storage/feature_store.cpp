#include "storage/feature_store.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "storage/float16.h"
#include "storage/hdf5_io.h"

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

void check_finite(const std::vector<float>& values, int64_t row_size, const std::string& location) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw Error(location + ": row " + std::to_string(static_cast<int64_t>(i) / row_size) +
                  " holds a non-finite value (" + std::to_string(values[i]) +
                  "); the features are broken, extract them again");
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
};

struct SplitHandles {
  Hdf5Handle group, features, labels, paths, views;
};

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
    layout.num_views = views_shape[0];
  }
  return layout;
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
  return handles;
}

// Reads a float16 or float32 dataset of `count` values into float32.
std::vector<float> read_floats(hid_t dataset, FeatureDtype dtype, size_t count, const std::string& location) {
  std::vector<float> values(count);
  if (dtype == FeatureDtype::float32) {
    check_hdf5(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), location,
               "reading the values");
    return values;
  }
  std::vector<uint16_t> halves(count);
  Hdf5Handle memory_type = float16_type(true);
  check_hdf5(H5Dread(dataset, memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, halves.data()), location,
             "reading the values");
  float16_to_float32(halves.data(), values.data(), count);
  return values;
}

}  // namespace

std::string dtype_name(FeatureDtype dtype) { return dtype == FeatureDtype::float16 ? "float16" : "float32"; }

// ---------------------------------------------------------------------------------------------------
// Writer

struct FeatureStoreWriter::Impl {
  std::string path;        // where the store ends up
  std::string write_path;  // the temporary name while creating; `path` when appending
  WriteMode mode = WriteMode::create;
  RootInfo root;
  FeatureDtype dtype = FeatureDtype::float32;
  Hdf5Handle file;
  bool closed = false;
  bool write_failed = false;  // a write_dataset call threw: the destructor then discards a new store

  void write(const DatasetFeatures& dataset);
  void validate(const DatasetFeatures& dataset) const;
  void write_split(hid_t dataset_group, const std::string& prefix, const SplitFeatures& split) const;
  void write_floats(hid_t parent, const std::string& name, const std::vector<hsize_t>& dims,
                    const std::vector<float>& values, const std::string& location) const;
};

FeatureStoreWriter::FeatureStoreWriter(const std::string& path, const std::string& backbone,
                                       int64_t embed_dim, FeatureDtype dtype, WriteMode mode)
    : impl_(std::make_unique<Impl>()) {
  silence_hdf5_errors();
  if (backbone.empty()) throw Error(path + ": the backbone name is empty; name it (e.g. ViT-B/16)");
  if (embed_dim <= 0) {
    throw Error(path + ": embed_dim " + std::to_string(embed_dim) + " is not a positive dimension");
  }
  impl_->path = path;
  impl_->mode = mode;
  impl_->dtype = dtype;
  impl_->root = {backbone, embed_dim};
  if (mode == WriteMode::append) {
    impl_->write_path = path;
    impl_->file = open_hdf5_file(path, true, kWhatItIs);
    const RootInfo existing = read_root(impl_->file.get(), path);
    if (existing.backbone != backbone || existing.embed_dim != embed_dim) {
      throw Error(path + ": the store holds backbone " + existing.backbone + " with embed_dim " +
                  std::to_string(existing.embed_dim) + "; features of backbone " + backbone +
                  " with D = " + std::to_string(embed_dim) + " belong in another store");
    }
    return;
  }
  impl_->write_path = temporary_path_for(path);
  impl_->file = Hdf5Handle(H5Fcreate(impl_->write_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                           H5Fclose);
  if (!impl_->file.valid()) {
    throw Error(path + ": cannot create the feature store (" + hdf5_error_detail() +
                "); check that the folder exists and is writable");
  }
  const std::string location = root_where(path);
  try {
    write_string_attribute(impl_->file.get(), "format", kFormat, location);
    write_int_attribute(impl_->file.get(), "format_version", kFormatVersion, location);
    write_string_attribute(impl_->file.get(), "backbone", backbone, location);
    write_int_attribute(impl_->file.get(), "embed_dim", embed_dim, location);
  } catch (...) {
    impl_->file.reset();
    std::remove(impl_->write_path.c_str());
    throw;
  }
}

FeatureStoreWriter::~FeatureStoreWriter() {
  try {
    if (impl_->mode == WriteMode::create && impl_->write_failed && !impl_->closed) {
      impl_->closed = true;
      impl_->file.reset();
      std::remove(impl_->write_path.c_str());
      return;
    }
    close();
  } catch (const std::exception& e) {
    log_warning(e.what());
  }
}

void FeatureStoreWriter::Impl::validate(const DatasetFeatures& dataset) const {
  check_dataset_name(path, dataset.name);
  const std::string location = where(path, "/" + dataset.name);
  if (dataset.classnames.empty()) throw Error(location + ": no class names given");
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
    check_finite(split.features, split.dim, where(path, prefix + "/features"));
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
    check_finite(split.views, split.dim, where(path, prefix + "/views"));
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
  Hdf5Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
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
  Hdf5Handle labels(H5Dcreate2(group.get(), "labels", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
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
}

void FeatureStoreWriter::write_dataset(const DatasetFeatures& dataset) {
  Impl& impl = *impl_;
  if (impl.closed) throw Error(impl.path + ": the feature store writer is already closed");
  try {
    impl.write(dataset);
  } catch (...) {
    impl.write_failed = true;
    throw;
  }
}

void FeatureStoreWriter::Impl::write(const DatasetFeatures& dataset) {
  validate(dataset);
  const std::string location = where(path, "/" + dataset.name);
  if (link_exists(file.get(), dataset.name)) {
    throw Error(location + ": already in the store; a dataset is written once (use another store or name)");
  }
  Hdf5Handle group = create_group(file.get(), dataset.name, location);
  try {
    write_string_dataset(group.get(), "classnames", dataset.classnames, location + "/classnames");
    write_string_attribute(group.get(), "template", dataset.prompt_template, location);
    write_int_attribute(group.get(), "num_classes", static_cast<int64_t>(dataset.classnames.size()), location);
    for (const auto& [split_name, split] : dataset.splits) {
      write_split(group.get(), "/" + dataset.name + "/" + split_name, split);
    }
  } catch (...) {
    // Leave no half-written dataset behind: readers would otherwise find it incomplete.
    group.reset();
    H5Ldelete(file.get(), dataset.name.c_str(), H5P_DEFAULT);
    throw;
  }
}

void FeatureStoreWriter::close() {
  Impl& impl = *impl_;
  if (impl.closed) return;
  impl.closed = true;
  if (!impl.file.reset()) {
    if (impl.mode == WriteMode::create) std::remove(impl.write_path.c_str());
    throw Error(impl.path + ": could not finish writing the feature store (" + hdf5_error_detail() + ")");
  }
  if (impl.mode == WriteMode::create) publish_file(impl.write_path, impl.path);
}

// ---------------------------------------------------------------------------------------------------
// Reader

struct FeatureStoreReader::Impl {
  std::string path;
  Hdf5Handle file;
  RootInfo root;

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
      H5O_info_t info;
      if (H5Oget_info_by_name(file.get(), name.c_str(), &info, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP) {
        names.push_back(name);
      }
    }
    return names;
  }
};

FeatureStoreReader::FeatureStoreReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
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
  std::set<std::string> dtypes;
  for (const auto& split : kSplitNames) {
    if (!link_exists(group.get(), split)) continue;
    const SplitHandles handles = open_split(group.get(), impl_->path, dataset, split);
    const SplitLayout layout = inspect_split(handles, impl_->path, impl_->root, "/" + dataset + "/" + split);
    summary.split_rows[split] = layout.rows;
    if (split == "train") summary.train_views = layout.num_views;
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

SplitFeatures FeatureStoreReader::read_split(const std::string& dataset, const std::string& split) const {
  const std::string& path = impl_->path;
  check_split_name(path, dataset, split);
  Hdf5Handle group = impl_->open_dataset_group(dataset);
  const DatasetHeader header = read_dataset_header(group.get(), path, dataset);
  const std::string prefix = "/" + dataset + "/" + split;
  const SplitHandles handles = open_split(group.get(), path, dataset, split);
  const SplitLayout layout = inspect_split(handles, path, impl_->root, prefix);

  SplitFeatures result;
  result.rows = layout.rows;
  result.dim = impl_->root.embed_dim;
  const size_t count = static_cast<size_t>(result.rows * result.dim);
  result.features = read_floats(handles.features.get(), layout.dtype, count, where(path, prefix + "/features"));
  check_finite(result.features, result.dim, where(path, prefix + "/features"));

  const std::string labels_location = where(path, prefix + "/labels");
  std::vector<int64_t> labels(static_cast<size_t>(result.rows));
  check_hdf5(H5Dread(handles.labels.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data()),
             labels_location, "reading the labels");
  result.labels.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= header.num_classes) {
      throw Error(labels_location + ": row " + std::to_string(i) + " has label " + std::to_string(labels[i]) +
                  ", outside [0, " + std::to_string(header.num_classes) + ") given num_classes = " +
                  std::to_string(header.num_classes));
    }
    result.labels.push_back(static_cast<int32_t>(labels[i]));
  }
  result.paths = read_string_dataset(handles.paths.get(), where(path, prefix + "/paths"));
  if (layout.num_views > 0) {
    result.num_views = layout.num_views;
    result.views = read_floats(handles.views.get(), layout.dtype, count * static_cast<size_t>(layout.num_views),
                               where(path, prefix + "/views"));
    check_finite(result.views, result.dim, where(path, prefix + "/views"));
  }
  return result;
}

}  // namespace pg::storage
