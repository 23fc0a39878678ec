#include "storage/prompt_store.h"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "storage/hdf5_io.h"
#include "storage/hdf5_probe.h"

namespace pg::storage {

namespace {

const char* const kFormat = "promptgrid-prompts";
constexpr int64_t kFormatVersion = 1;
const char* const kWhatItIs = "a promptgrid prompt file (learned prompts of one task)";

std::string root_where(const std::string& path) { return path + ": / (root)"; }
std::string tensor_where(const std::string& path, const std::string& name) { return path + ": /" + name; }

void check_task_json(const std::string& task_json, const std::string& location) {
  if (!nlohmann::json::accept(task_json)) {
    throw Error(location + ": attribute 'task' is not valid JSON: \"" + task_json.substr(0, 80) + "\"");
  }
}

void check_tensor_values(const NamedTensor& tensor, const std::string& location) {
  int64_t count = 1;
  for (const int64_t dim : tensor.shape) {
    if (dim < 0) throw Error(location + ": shape " + format_shape(tensor.shape) + " has a negative dimension");
    count *= dim;
  }
  if (static_cast<int64_t>(tensor.values.size()) != count) {
    throw Error(location + ": " + std::to_string(tensor.values.size()) + " values for shape " +
                format_shape(tensor.shape) + " (" + std::to_string(count) + " expected)");
  }
  for (size_t i = 0; i < tensor.values.size(); ++i) {
    if (!std::isfinite(tensor.values[i])) {
      throw Error(location + ": value " + std::to_string(i) + " is not finite (" +
                  std::to_string(tensor.values[i]) + "); a diverged prompt is a failed task, not a result");
    }
  }
}

void write_tensor(hid_t file, const NamedTensor& tensor, const std::string& location) {
  std::vector<hsize_t> dims(tensor.shape.begin(), tensor.shape.end());
  Hdf5Handle space(tensor.shape.empty() ? H5Screate(H5S_SCALAR)
                                        : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                   H5Sclose);
  Hdf5Handle dataset(H5Dcreate2(file, tensor.name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                                H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
  if (!dataset.valid()) throw Error(location + ": cannot create the dataset (" + hdf5_error_detail() + ")");
  if (tensor.values.empty()) return;
  check_hdf5(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.values.data()),
             location, "writing the values");
}

NamedTensor read_tensor(hid_t file, const std::string& name, const std::string& path) {
  const std::string location = tensor_where(path, name);
  Hdf5Handle dataset = open_dataset(file, name, location);
  NamedTensor tensor;
  tensor.name = name;
  tensor.shape = dataset_shape(dataset.get(), -1, location);
  check_dataset_storage(dataset.get(), location);
  Hdf5Handle type(H5Dget_type(dataset.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_FLOAT || H5Tget_size(type.get()) != 4) {
    throw Error(location + ": has type " + type_class_name(type_class) + " of " +
                std::to_string(H5Tget_size(type.get()) * 8) + " bits, expected float32");
  }
  int64_t count = 1;
  for (const int64_t dim : tensor.shape) count *= dim;
  tensor.values.resize(static_cast<size_t>(count));
  if (count > 0) {
    check_hdf5(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.values.data()),
               location, "reading the values");
  }
  check_tensor_values(tensor, location);
  return tensor;
}

}  // namespace

const NamedTensor& PromptFile::tensor(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& tensor : tensors) {
    if (tensor.name == name) return tensor;
    names.push_back(tensor.name);
  }
  throw Error(path + ": no tensor '" + name + "' (it has: " + join(names, ", ") + ")");
}

void write_prompt_file(const std::string& path, const std::string& task_json,
                       const std::vector<NamedTensor>& tensors) {
  prepare_hdf5();
  check_task_json(task_json, root_where(path));
  std::set<std::string> names;
  for (const auto& tensor : tensors) {
    const std::string location = tensor_where(path, tensor.name);
    if (tensor.name.empty() || tensor.name == "." || tensor.name.find('/') != std::string::npos) {
      throw Error(location + ": invalid tensor name '" + tensor.name + "' (non-empty, without '/')");
    }
    if (!names.insert(tensor.name).second) throw Error(location + ": tensor name given twice");
    check_tensor_values(tensor, location);
  }

  // Built in memory (HDF5's core driver, no backing file), then written by the file layer: HDF5 never
  // writes to disk here, so a full disk is one clean error and never a half-written file.
  Hdf5Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  check_hdf5(H5Pset_fapl_core(access.get(), size_t{1} << 20, /*backing_store=*/0), path, "preparing an in-memory file");
  Hdf5Handle file(H5Fcreate((path + " (in memory)").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
  if (!file.valid()) throw Error(path + ": cannot create the prompt file" + hdf5_detail_suffix());
  const std::string location = root_where(path);
  write_string_attribute(file.get(), "format", kFormat, location);
  write_int_attribute(file.get(), "format_version", kFormatVersion, location);
  write_string_attribute(file.get(), "task", task_json, location);
  for (const auto& tensor : tensors) write_tensor(file.get(), tensor, tensor_where(path, tensor.name));
  check_hdf5(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path, "finishing the prompt file");
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size <= 0) throw Error(path + ": cannot take the in-memory prompt file" + hdf5_detail_suffix());
  std::string image(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(file.get(), image.data(), image.size()) != size) {
    throw Error(path + ": cannot take the in-memory prompt file" + hdf5_detail_suffix());
  }
  file.reset();
  write_file_atomic(path, image);
}

namespace {

PromptFile read_unprobed(const std::string& path) {
  Hdf5Handle file = open_hdf5_file(path, false, kWhatItIs);
  const std::string location = root_where(path);
  const std::string format = read_string_attribute(file.get(), "format", location);
  if (format != kFormat) {
    throw Error(location + ": attribute 'format' is '" + format + "', expected '" + kFormat + "': not " +
                kWhatItIs);
  }
  const int64_t version = read_int_attribute(file.get(), "format_version", location);
  if (version != kFormatVersion) {
    throw Error(location + ": format_version " + std::to_string(version) +
                " is not supported (this promptgrid reads version " + std::to_string(kFormatVersion) +
                "); use a matching promptgrid or train the task again");
  }
  PromptFile result;
  result.path = path;
  result.task_json = read_string_attribute(file.get(), "task", location);
  check_task_json(result.task_json, location);
  for (const auto& name : child_names(file.get(), location)) {
    result.tensors.push_back(read_tensor(file.get(), name, path));
  }
  return result;
}

}  // namespace

PromptFile read_prompt_file(const std::string& path) {
  probe_in_child(path, [&] { read_unprobed(path); });  // a file that crashes libhdf5 is an error
  return read_unprobed(path);
}

}  // namespace pg::storage
