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
  // Forgets the id without closing it: for a file whose writing failed, which HDF5 1.10 cannot close
  // cleanly (see prepare_hdf5); its temporary file is removed by the caller.
  void abandon() { id_ = -1; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Prepares HDF5 for promptgrid; every entry point of storage/ calls it first. It turns off HDF5's
// automatic printing of its error stack (failures become pg::Error messages instead), and keeps HDF5
// from installing its exit handler: after a write fails (disk full), HDF5 1.10 can leave a file id
// that its exit handler then closes a second time, crashing the process after the error was reported.
// Files that failed to write are abandoned instead (their temporary file is removed).
void prepare_hdf5();
// The innermost message on HDF5's current error stack, on one line ("truncated file: eof = ...",
// "file write failed: No space left on device"), or "".
std::string hdf5_error_detail();
// " (<detail>)", or "" when HDF5 reported nothing.
std::string hdf5_detail_suffix();

// Opens an existing file read-only or read-write; a missing, non-HDF5, truncated or unreadable file is
// a pg::Error naming `path`. `what` says what the file should be ("a promptgrid feature store").
Hdf5Handle open_hdf5_file(const std::string& path, bool writable, const std::string& what);

// Links and objects. `where` prefixes errors; `name` is relative to `parent`.
bool link_exists(hid_t parent, const std::string& name);
// What `name` is (H5O_TYPE_GROUP, H5O_TYPE_DATASET, ...), or H5O_TYPE_UNKNOWN when it cannot be read.
// The same call on HDF5 1.10 through 1.14, whose H5Oget_info_by_name changed its arguments in 1.12.
H5O_type_t object_type(hid_t parent, const std::string& name);
Hdf5Handle open_group(hid_t parent, const std::string& name, const std::string& where);
Hdf5Handle open_dataset(hid_t parent, const std::string& name, const std::string& where);
Hdf5Handle create_group(hid_t parent, const std::string& name, const std::string& where);
// Creation properties (H5P_GROUP_CREATE or H5P_DATASET_CREATE) without object modification times:
// the same content then always gives the same bytes, so a store written by one process or by N ranks
// is byte-identical, and a rewrite of unchanged data changes nothing.
Hdf5Handle untimed_creation_properties(hid_t property_class);
std::vector<std::string> child_names(hid_t group, const std::string& where);

// Scalar attributes. Strings may be variable- or fixed-length (h5py writes either) and are read as
// storage/hdf5_strings.h does; integers any integer type. A missing attribute or a wrong type or
// shape names the attribute.
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& where);
int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& where);
void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::string& where);
void write_int_attribute(hid_t object, const std::string& name, int64_t value, const std::string& where);

// The extent of a dataset, checked to be of `rank` (rank < 0: any); an error gives the actual shape.
std::vector<int64_t> dataset_shape(hid_t dataset, int rank, const std::string& where);
H5T_class_t dataset_type_class(hid_t dataset, const std::string& where);
std::string type_class_name(H5T_class_t type_class);

// 1-D string datasets (variable-length UTF-8 when written; fixed-length accepted when read, and read
// as storage/hdf5_strings.h does). Checks first that the file holds the data the dataset declares.
std::vector<std::string> read_string_dataset(hid_t dataset, const std::string& where);
void write_string_dataset(hid_t parent, const std::string& name, const std::vector<std::string>& values,
                          const std::string& where);

// Throws a pg::Error "<where>: <action> failed (<HDF5 detail>)" when `status` is negative.
void check_hdf5(herr_t status, const std::string& where, const std::string& action);

// Checks that the file really holds the data a dataset declares, before anything of that size is
// allocated: a contiguous dataset's bytes lie inside the file, every chunk of a chunked one was
// written. A header that declares 2^30 rows over a few kilobytes is an error naming the dataset,
// not an allocation of gigabytes filled with the fill value.
void check_dataset_storage(hid_t dataset, const std::string& where);

}  // namespace pg::storage
