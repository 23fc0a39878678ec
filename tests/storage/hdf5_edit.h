// Test helper: edits HDF5 files directly with the C API, so the storage tests can turn a good file
// into each kind of malformed one the readers must reject (independently of promptgrid's writers).
#pragma once

#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace pg::testing {

class Hdf5Edit {
 public:
  explicit Hdf5Edit(const std::string& path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("Hdf5Edit: cannot open " + path);
  }
  ~Hdf5Edit() { H5Fclose(file_); }
  Hdf5Edit(const Hdf5Edit&) = delete;
  Hdf5Edit& operator=(const Hdf5Edit&) = delete;

  // Removes a group or dataset ("/dtd/train/labels").
  void remove(const std::string& object) { check(H5Ldelete(file_, object.c_str(), H5P_DEFAULT), object); }

  void remove_attribute(const std::string& object, const std::string& name) {
    check(H5Adelete_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT), object + "@" + name);
  }

  void set_string_attribute(const std::string& object, const std::string& name, const std::string& value) {
    delete_attribute_if_present(object, name);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate_by_name(file_, object.c_str(), name.c_str(), type, space, H5P_DEFAULT,
                                              H5P_DEFAULT, H5P_DEFAULT);
    const char* text = value.c_str();
    check(H5Awrite(attribute, type, &text), object + "@" + name);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
  }

  void set_int_attribute(const std::string& object, const std::string& name, int64_t value) {
    delete_attribute_if_present(object, name);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate_by_name(file_, object.c_str(), name.c_str(), H5T_STD_I64LE, space,
                                              H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(H5Awrite(attribute, H5T_NATIVE_INT64, &value), object + "@" + name);
    H5Aclose(attribute);
    H5Sclose(space);
  }

  // Replaces `object` by a float32 dataset of the given shape filled with `fill`.
  void put_floats(const std::string& object, const std::vector<hsize_t>& dims, float fill = 0.5f) {
    std::vector<float> values(count(dims), fill);
    put(object, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data());
  }

  // Replaces `object` by an int32 dataset holding `values` with the given shape.
  void put_ints(const std::string& object, const std::vector<hsize_t>& dims, const std::vector<int32_t>& values) {
    if (values.size() != count(dims)) throw std::runtime_error("put_ints: size mismatch for " + object);
    put(object, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, values.data());
  }

  // Replaces `object` by a 1-D variable-length string dataset.
  void put_strings(const std::string& object, const std::vector<std::string>& values) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    std::vector<const char*> pointers;
    for (const auto& value : values) pointers.push_back(value.c_str());
    put(object, {values.size()}, type, type, pointers.data());
    H5Tclose(type);
  }

 private:
  static size_t count(const std::vector<hsize_t>& dims) {
    size_t n = 1;
    for (const hsize_t d : dims) n *= d;
    return n;
  }

  void put(const std::string& object, const std::vector<hsize_t>& dims, hid_t file_type, hid_t memory_type,
           const void* data) {
    if (H5Lexists(file_, object.c_str(), H5P_DEFAULT) > 0) remove(object);
    const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    const hid_t dataset =
        H5Dcreate2(file_, object.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    check(dataset, object);
    if (count(dims) > 0) check(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), object);
    H5Dclose(dataset);
    H5Sclose(space);
  }

  void delete_attribute_if_present(const std::string& object, const std::string& name) {
    if (H5Aexists_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0) remove_attribute(object, name);
  }

  static void check(int64_t status, const std::string& what) {
    if (status < 0) throw std::runtime_error("Hdf5Edit: failed on " + what);
  }

  hid_t file_ = -1;
};

}  // namespace pg::testing
