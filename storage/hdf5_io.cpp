#include "storage/hdf5_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/error.h"
#include "common/strings.h"
#include "storage/hdf5_strings.h"

namespace pg::storage {

Hdf5Handle& Hdf5Handle::operator=(Hdf5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

bool Hdf5Handle::reset() {
  bool ok = true;
  if (id_ >= 0 && closer_ != nullptr) ok = closer_(id_) >= 0;
  id_ = -1;
  return ok;
}

void prepare_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5dont_atexit();  // must precede every other HDF5 call; harmless (ignored) if one came first
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

namespace {

herr_t keep_innermost(unsigned n, const H5E_error2_t* error, void* data) {
  // Walking upward, entry 0 is where HDF5 first detected the problem: the most telling message.
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(data) = error->desc;
  return 0;
}

// HDF5's messages for failed system calls span lines and list buffers, times and offsets
// ("file write failed: time = ...\n, filename = ..., error message = 'No space left on device', ...");
// keep what failed and why.
std::string one_line(const std::string& detail) {
  const std::string marker = "error message = '";
  const size_t at = detail.find(marker);
  if (at != std::string::npos) {
    const size_t end = detail.find('\'', at + marker.size());
    const size_t colon = detail.find(':');
    const std::string what = colon != std::string::npos && colon < at ? detail.substr(0, colon) : "I/O failed";
    return what + ": " + detail.substr(at + marker.size(), end == std::string::npos ? std::string::npos : end - at - marker.size());
  }
  std::string line = detail;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

Hdf5Handle variable_string_type() {
  Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &detail);
  return one_line(detail);
}

std::string hdf5_detail_suffix() {
  const std::string detail = hdf5_error_detail();
  return detail.empty() ? "" : " (" + detail + ")";
}

void check_hdf5(herr_t status, const std::string& where, const std::string& action) {
  if (status < 0) throw Error(where + ": " + action + " failed" + hdf5_detail_suffix());
}

Hdf5Handle open_hdf5_file(const std::string& path, bool writable, const std::string& what) {
  prepare_hdf5();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw Error(path + ": no such file (expected " + what + ")");
  if (!std::filesystem::is_regular_file(path, error)) {
    throw Error(path + ": not a regular file (expected " + what + ")");
  }
  if (std::filesystem::file_size(path, error) == 0) {
    throw Error(path + ": empty file (0 bytes), not " + what + "; was it written completely?");
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) throw Error(path + ": not an HDF5 file (expected " + what + ")");
  if (is_hdf5 < 0) {
    throw Error(path + ": cannot be read as HDF5, truncated or unreadable" + hdf5_detail_suffix() +
                "; expected " + what);
  }
  const hid_t file = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    throw Error(path + ": cannot open the HDF5 file, it is truncated or damaged" + hdf5_detail_suffix() +
                "; expected " + what + ", write it again");
  }
  return Hdf5Handle(file, H5Fclose);
}

bool link_exists(hid_t parent, const std::string& name) {
  return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0;
}

H5O_type_t object_type(hid_t parent, const std::string& name) {
  // Only the basic fields: the type needs no walk of the object's attributes or header.
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  if (H5Oget_info_by_name3(parent, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
#else
  H5O_info_t info;
  if (H5Oget_info_by_name2(parent, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return H5O_TYPE_UNKNOWN;
#endif
  return info.type;
}

namespace {

H5O_type_t existing_object_type(hid_t parent, const std::string& name, const std::string& where) {
  const H5O_type_t type = object_type(parent, name);
  if (type == H5O_TYPE_UNKNOWN) throw Error(where + ": cannot read the object" + hdf5_detail_suffix());
  return type;
}

}  // namespace

Hdf5Handle open_group(hid_t parent, const std::string& name, const std::string& where) {
  if (!link_exists(parent, name)) throw Error(where + ": group is missing");
  if (existing_object_type(parent, name, where) != H5O_TYPE_GROUP) throw Error(where + ": is not a group");
  const hid_t group = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
  if (group < 0) throw Error(where + ": cannot open the group" + hdf5_detail_suffix());
  return Hdf5Handle(group, H5Gclose);
}

Hdf5Handle open_dataset(hid_t parent, const std::string& name, const std::string& where) {
  if (!link_exists(parent, name)) throw Error(where + ": dataset is missing");
  if (existing_object_type(parent, name, where) != H5O_TYPE_DATASET) throw Error(where + ": is not a dataset");
  const hid_t dataset = H5Dopen2(parent, name.c_str(), H5P_DEFAULT);
  if (dataset < 0) throw Error(where + ": cannot open the dataset" + hdf5_detail_suffix());
  return Hdf5Handle(dataset, H5Dclose);
}

Hdf5Handle untimed_creation_properties(hid_t property_class) {
  Hdf5Handle properties(H5Pcreate(property_class), H5Pclose);
  if (!properties.valid() || H5Pset_obj_track_times(properties.get(), false) < 0) {
    throw Error("cannot make HDF5 creation properties" + hdf5_detail_suffix(), ErrorKind::internal);
  }
  return properties;
}

Hdf5Handle create_group(hid_t parent, const std::string& name, const std::string& where) {
  Hdf5Handle properties = untimed_creation_properties(H5P_GROUP_CREATE);
  const hid_t group = H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, properties.get(), H5P_DEFAULT);
  if (group < 0) throw Error(where + ": cannot create the group" + hdf5_detail_suffix());
  return Hdf5Handle(group, H5Gclose);
}

std::vector<std::string> child_names(hid_t group, const std::string& where) {
  std::vector<std::string> names;
  check_hdf5(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names), where,
             "listing the members");
  return names;
}

namespace {

Hdf5Handle open_attribute(hid_t object, const std::string& name, const std::string& where) {
  const htri_t exists = H5Aexists(object, name.c_str());
  if (exists < 0) throw Error(where + ": cannot read attribute '" + name + "'" + hdf5_detail_suffix());
  if (exists == 0) throw Error(where + ": attribute '" + name + "' is missing");
  const hid_t attribute = H5Aopen(object, name.c_str(), H5P_DEFAULT);
  if (attribute < 0) throw Error(where + ": cannot open attribute '" + name + "'" + hdf5_detail_suffix());
  return Hdf5Handle(attribute, H5Aclose);
}

// Attributes must hold exactly one value: a scalar, or a 1-element array as some writers produce.
void check_single_value(hid_t attribute, const std::string& name, const std::string& where) {
  Hdf5Handle space(H5Aget_space(attribute), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count != 1) {
    throw Error(where + ": attribute '" + name + "' holds " + std::to_string(count) +
                " values, expected a single value");
  }
}

}  // namespace

std::string type_class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    case H5T_TIME: return "time";
    default: return "unknown";
  }
}

std::string read_string_attribute(hid_t object, const std::string& name, const std::string& where) {
  Hdf5Handle attribute = open_attribute(object, name, where);
  return read_string_attribute_value(attribute.get(), name, where);
}

int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& where) {
  Hdf5Handle attribute = open_attribute(object, name, where);
  Hdf5Handle file_type(H5Aget_type(attribute.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(file_type.get());
  if (type_class != H5T_INTEGER) {
    throw Error(where + ": attribute '" + name + "' is of type " + type_class_name(type_class) +
                ", expected an integer");
  }
  check_single_value(attribute.get(), name, where);
  int64_t value = 0;
  check_hdf5(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), where, "reading attribute '" + name + "'");
  return value;
}

void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::string& where) {
  Hdf5Handle type = variable_string_type();
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attribute(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       H5Aclose);
  if (!attribute.valid()) throw Error(where + ": cannot create attribute '" + name + "'" + hdf5_detail_suffix());
  const char* text = value.c_str();
  check_hdf5(H5Awrite(attribute.get(), type.get(), &text), where, "writing attribute '" + name + "'");
}

void write_int_attribute(hid_t object, const std::string& name, int64_t value, const std::string& where) {
  Hdf5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Hdf5Handle attribute(
      H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attribute.valid()) throw Error(where + ": cannot create attribute '" + name + "'" + hdf5_detail_suffix());
  check_hdf5(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), where, "writing attribute '" + name + "'");
}

std::vector<int64_t> dataset_shape(hid_t dataset, int rank, const std::string& where) {
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  if (!space.valid()) throw Error(where + ": cannot read the dataspace" + hdf5_detail_suffix());
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  std::vector<int64_t> shape;
  if (space_class == H5S_SIMPLE) {
    const int ndims = H5Sget_simple_extent_ndims(space.get());
    if (ndims < 0) throw Error(where + ": cannot read the dataspace" + hdf5_detail_suffix());
    std::vector<hsize_t> dims(static_cast<size_t>(ndims));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    shape.assign(dims.begin(), dims.end());
  } else if (space_class != H5S_SCALAR) {
    throw Error(where + ": has an empty (null) dataspace, expected an array");
  }
  if (rank >= 0 && static_cast<int>(shape.size()) != rank) {
    throw Error(where + ": has rank " + std::to_string(shape.size()) + " (shape " + format_shape(shape) +
                "), expected rank " + std::to_string(rank));
  }
  return shape;
}

H5T_class_t dataset_type_class(hid_t dataset, const std::string& where) {
  Hdf5Handle type(H5Dget_type(dataset), H5Tclose);
  if (!type.valid()) throw Error(where + ": cannot read the datatype" + hdf5_detail_suffix());
  return H5Tget_class(type.get());
}

std::vector<std::string> read_string_dataset(hid_t dataset, const std::string& where) {
  dataset_shape(dataset, 1, where);
  check_dataset_storage(dataset, where);
  return read_strings(dataset, where);
}

void write_string_dataset(hid_t parent, const std::string& name, const std::vector<std::string>& values,
                          const std::string& where) {
  Hdf5Handle type = variable_string_type();
  const hsize_t dims[1] = {values.size()};
  Hdf5Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Hdf5Handle properties = untimed_creation_properties(H5P_DATASET_CREATE);
  Hdf5Handle dataset(
      H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT),
      H5Dclose);
  if (!dataset.valid()) throw Error(where + ": cannot create the dataset" + hdf5_detail_suffix());
  if (values.empty()) return;
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& value : values) pointers.push_back(value.c_str());
  check_hdf5(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), where,
             "writing strings");
}

void check_dataset_storage(hid_t dataset, const std::string& where) {
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  Hdf5Handle type(H5Dget_type(dataset), H5Tclose);
  Hdf5Handle create_list(H5Dget_create_plist(dataset), H5Pclose);
  if (!space.valid() || !type.valid() || !create_list.valid()) {
    throw Error(where + ": cannot read the dataset's layout" + hdf5_detail_suffix());
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
  if (rank < 0 || (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)) {
    throw Error(where + ": cannot read the dataspace" + hdf5_detail_suffix());
  }
  // Overflow-safe byte count of the declared extent.
  long double declared = static_cast<long double>(H5Tget_size(type.get()));
  for (const hsize_t dim : dims) declared *= static_cast<long double>(dim);
  if (declared == 0) return;
  Hdf5Handle file(H5Iget_file_id(dataset), H5Fclose);
  hsize_t file_size = 0;
  if (!file.valid() || H5Fget_filesize(file.get(), &file_size) < 0) {
    throw Error(where + ": cannot read the file size" + hdf5_detail_suffix());
  }
  const std::string declared_text = format_shape(std::vector<int64_t>(dims.begin(), dims.end()));
  switch (H5Pget_layout(create_list.get())) {
    case H5D_COMPACT:
      return;  // stored inside the object header, which HDF5 has read and bounded already
    case H5D_CONTIGUOUS: {
      const haddr_t offset = H5Dget_offset(dataset);
      if (offset == HADDR_UNDEF || static_cast<long double>(offset) + declared > static_cast<long double>(file_size)) {
        throw Error(where + ": declares shape " + declared_text + " but the file (" + std::to_string(file_size) +
                    " bytes) does not hold its data; the file is truncated or damaged: write it again");
      }
      return;
    }
    case H5D_CHUNKED: {
      std::vector<hsize_t> chunk(dims.size());
      if (H5Pget_chunk(create_list.get(), rank, chunk.data()) != rank) {
        throw Error(where + ": cannot read the chunk shape" + hdf5_detail_suffix());
      }
      long double expected = 1;
      for (size_t i = 0; i < dims.size(); ++i) {
        if (chunk[i] == 0) throw Error(where + ": has a chunk dimension of 0; the file is damaged");
        expected *= static_cast<long double>((dims[i] + chunk[i] - 1) / chunk[i]);
      }
      hsize_t written = 0;
      if (H5Dget_num_chunks(dataset, space.get(), &written) < 0) {
        throw Error(where + ": cannot count the written chunks" + hdf5_detail_suffix());
      }
      if (static_cast<long double>(written) < expected) {
        throw Error(where + ": declares shape " + declared_text + " (" + std::to_string(static_cast<uint64_t>(expected)) +
                    " chunks) but only " + std::to_string(written) + " chunks were ever written; the file is "
                    "incomplete or damaged: write it again");
      }
      const hsize_t stored = H5Dget_storage_size(dataset);
      if (stored > file_size) {
        throw Error(where + ": claims " + std::to_string(stored) + " bytes of storage in a file of " +
                    std::to_string(file_size) + "; the file is damaged: write it again");
      }
      // Compressed chunks hold more than their bytes, but not without bound: gzip, the strongest
      // filter h5py users apply, expands at most ~1032 times, and real features far less.
      constexpr long double kMaxExpansion = 1024;
      if (declared > kMaxExpansion * static_cast<long double>(std::max<hsize_t>(stored, 1))) {
        throw Error(where + ": declares shape " + declared_text + " but stores only " + std::to_string(stored) +
                    " bytes, more than any compression of real data explains; the file is damaged: write it again");
      }
      return;
    }
    default:
      throw Error(where + ": uses a storage layout (virtual or external) that promptgrid does not read; store "
                  "the data in the file itself");
  }
}

}  // namespace pg::storage
