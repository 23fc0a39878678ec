// Small helpers over the HDF5 C API shared by feature_store and prompt_store (storage-internal: only
// storage/ sees hdf5.h). An Hdf5Handle owns one hid_t and closes it with the matching H5?close. Every
// helper takes a `where` prefix ("features.h5: /dtd/train/labels") and throws pg::Error starting with
// it, so each message names the file and the object.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pg::storage {

class Hdf5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Hdf5Handle() = default;
  Hdf5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  Hdf5Handle(Hdf5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Hdf5Handle& operator=(Hdf5Handle&& other) noexcept;
  ~Hdf5Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reported a failure (e.g. a flush that could not be written).
  bool reset();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Turns off HDF5's automatic printing of its error stack: failures become pg::Error messages instead.
void silence_hdf5_errors();
// The innermost message on HDF5's current error stack ("truncated file: eof = ..."), or "".
std::string hdf5_error_detail();

// Opens an existing file read-only or read-write; a missing, non-HDF5, truncated or unreadable file is
// a pg::Error naming `path`. `what` says what the file should be ("a promptgrid feature store").
Hdf5Handle open_hdf5_file(const std::string& path, bool writable, const std::string& what);

// Links and objects. `where` prefixes errors; `name` is relative to `parent`.
bool link_exists(hid_t parent, const std::string& name);
Hdf5Handle open_group(hid_t parent, const std::string& name, const std::string& where);
Hdf5Handle open_dataset(hid_t parent, const std::string& name, const std::string& where);
Hdf5Handle create_group(hid_t parent, const std::string& name, const std::string& where);
std::vector<std::string> child_names(hid_t group, const std::string& where);

// Scalar attributes. Strings may be variable- or fixed-length (h5py writes either); integers any
// integer type. A missing attribute or a wrong type or shape names the attribute.
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& where);
int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& where);
void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::string& where);
void write_int_attribute(hid_t object, const std::string& name, int64_t value, const std::string& where);

// The extent of a dataset, checked to be of `rank` (rank < 0: any); an error gives the actual shape.
std::vector<int64_t> dataset_shape(hid_t dataset, int rank, const std::string& where);
H5T_class_t dataset_type_class(hid_t dataset, const std::string& where);
std::string type_class_name(H5T_class_t type_class);

// 1-D string datasets (variable-length UTF-8 when written; fixed-length accepted when read).
std::vector<std::string> read_string_dataset(hid_t dataset, const std::string& where);
void write_string_dataset(hid_t parent, const std::string& name, const std::vector<std::string>& values,
                          const std::string& where);

// Throws a pg::Error "<where>: <action> failed (<HDF5 detail>)" when `status` is negative.
void check_hdf5(herr_t status, const std::string& where, const std::string& action);

// Makes a finished temporary file durable and moves it to `path` atomically (fsync, then rename).
void publish_file(const std::string& temporary, const std::string& path);
// A temporary name beside `path` for write-then-rename.
std::string temporary_path_for(const std::string& path);

}  // namespace pg::storage
