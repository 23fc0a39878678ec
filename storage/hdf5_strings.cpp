#include "storage/hdf5_strings.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "common/error.h"
#include "common/utf8.h"
#include "storage/hdf5_io.h"

namespace pg::storage {
namespace {

// ---------------------------------------------------------------------------------------------------
// Raw references through a no-op conversion. HDF5 converts a variable-length string read from the file
// by first copying each element's on-disk form (4-byte length, heap address, 4-byte object index)
// into its conversion buffer; a conversion function registered for (variable-length string ->
// opaque of the same size) leaves those bytes as they are, so the read returns the references
// themselves and HDF5's heap code never runs.

const char* const kRawReferenceTag = "promptgrid: raw variable-length string reference";

herr_t keep_raw_bytes(hid_t source, hid_t destination, H5T_cdata_t* cdata, size_t, size_t, size_t, void*, void*,
                      hid_t) {
  switch (cdata->command) {
    case H5T_CONV_INIT: {
      // Only for a variable-length string into our opaque type of exactly its on-disk size.
      if (H5Tis_variable_str(source) <= 0 || H5Tget_class(destination) != H5T_OPAQUE) return -1;
      char* tag = H5Tget_tag(destination);
      const bool ours = tag != nullptr && std::strcmp(tag, kRawReferenceTag) == 0;
      H5free_memory(tag);
      if (!ours || H5Tget_size(source) != H5Tget_size(destination)) return -1;
      cdata->need_bkg = H5T_BKG_NO;
      return 0;
    }
    case H5T_CONV_CONV:  // same size, in place: the bytes already are the answer
    case H5T_CONV_FREE:
      return 0;
    default:
      return -1;
  }
}

void register_raw_conversion() {
  static std::once_flag once;
  std::call_once(once, [] {
    Hdf5Handle source(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(source.get(), H5T_VARIABLE);
    Hdf5Handle destination(H5Tcreate(H5T_OPAQUE, 16), H5Tclose);
    H5Tset_tag(destination.get(), kRawReferenceTag);
    H5Tregister(H5T_PERS_SOFT, "promptgrid_raw_vlen_string", source.get(), destination.get(), keep_raw_bytes);
  });
}

// What the file says about addresses: their width, the width of lengths, and the base they count from.
struct FileGeometry {
  std::string path;
  size_t address_size = 8;
  size_t length_size = 8;
  uint64_t base = 0;
  uint64_t file_size = 0;
};

FileGeometry file_geometry(hid_t object, const std::string& where) {
  Hdf5Handle file(H5Iget_file_id(object), H5Fclose);
  if (!file.valid()) throw Error(where + ": cannot find the file of the object" + hdf5_detail_suffix());
  FileGeometry geometry;
  const ssize_t name_length = H5Fget_name(file.get(), nullptr, 0);
  if (name_length <= 0) throw Error(where + ": cannot find the file name" + hdf5_detail_suffix());
  geometry.path.resize(static_cast<size_t>(name_length) + 1);
  H5Fget_name(file.get(), geometry.path.data(), geometry.path.size());
  geometry.path.resize(static_cast<size_t>(name_length));
  Hdf5Handle create_list(H5Fget_create_plist(file.get()), H5Pclose);
  hsize_t userblock = 0;
  if (!create_list.valid() || H5Pget_sizes(create_list.get(), &geometry.address_size, &geometry.length_size) < 0 ||
      H5Pget_userblock(create_list.get(), &userblock) < 0) {
    throw Error(where + ": cannot read the file's address sizes" + hdf5_detail_suffix());
  }
  geometry.base = userblock;
  hsize_t size = 0;
  if (H5Fget_filesize(file.get(), &size) < 0) throw Error(where + ": cannot read the file size" + hdf5_detail_suffix());
  geometry.file_size = size;
  if (geometry.address_size > 8 || geometry.length_size > 8 || geometry.address_size == 0 ||
      geometry.length_size == 0) {
    throw Error(where + ": the file uses " + std::to_string(geometry.address_size * 8) + "-bit addresses, which "
                "promptgrid does not read");
  }
  return geometry;
}

uint64_t little_endian(const unsigned char* bytes, size_t width) {
  uint64_t value = 0;
  for (size_t i = width; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

struct RawReference {
  uint32_t length = 0;
  uint64_t collection = 0;  // address of the heap collection, relative to the base; 0 = empty string
  uint32_t index = 0;
};

// ---------------------------------------------------------------------------------------------------
// Global heap collections (HDF5 file format specification, "Global Heap"): "GCOL", version 1, three
// reserved bytes, the collection size (a length), then objects, each an index (2 bytes), a reference
// count (2), 4 reserved bytes, its size (a length) and its data padded to a multiple of 8. Index 0 is
// the free space, whose size counts its own header.

constexpr size_t kMaxCollectionBytes = size_t{256} << 20;

struct HeapObject {
  size_t data = 0;  // offset of the data within the collection
  uint64_t size = 0;
};

struct Collection {
  std::string bytes;
  std::map<uint32_t, HeapObject> objects;  // a later object with the same index replaces an earlier one
};

class HeapReader {
 public:
  HeapReader(FileGeometry geometry, std::string where) : geometry_(std::move(geometry)), where_(std::move(where)) {
    fd_ = ::open(geometry_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(where_ + ": cannot open " + geometry_.path + " to read strings (" + std::strerror(errno) + ")");
  }
  ~HeapReader() { ::close(fd_); }
  HeapReader(const HeapReader&) = delete;
  HeapReader& operator=(const HeapReader&) = delete;

  std::string string_at(const RawReference& reference, size_t element) {
    if (reference.collection == 0) {
      if (reference.length != 0) corrupt(element, "a string of " + std::to_string(reference.length) + " bytes with no heap object");
      return "";
    }
    const Collection& collection = load(reference.collection, element);
    const auto found = collection.objects.find(reference.index);
    if (reference.index == 0 || found == collection.objects.end()) {
      corrupt(element, "heap object " + std::to_string(reference.index) + " does not exist in the collection at " +
                           std::to_string(reference.collection));
    }
    const HeapObject& object = found->second;
    if (object.size != reference.length) {
      corrupt(element, "heap object " + std::to_string(reference.index) + " holds " + std::to_string(object.size) +
                           " bytes for a string of " + std::to_string(reference.length));
    }
    return collection.bytes.substr(object.data, reference.length);
  }

 private:
  [[noreturn]] void corrupt(size_t element, const std::string& what) const {
    throw Error(where_ + ": string " + std::to_string(element) + " is damaged (" + what +
                "); the file is corrupt: write it again");
  }

  std::string read_at(uint64_t address, uint64_t size, size_t element) const {
    if (address > geometry_.file_size || size > geometry_.file_size - address) {
      corrupt(element, "heap bytes " + std::to_string(address) + ".." + std::to_string(address + size) +
                           " lie beyond the end of the file (" + std::to_string(geometry_.file_size) + " bytes)");
    }
    std::string bytes(static_cast<size_t>(size), '\0');
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd_, bytes.data() + done, size - done, static_cast<off_t>(address + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) corrupt(element, "cannot read heap bytes at " + std::to_string(address + done));
      done += static_cast<size_t>(n);
    }
    return bytes;
  }

  const Collection& load(uint64_t relative_address, size_t element) {
    const auto cached = collections_.find(relative_address);
    if (cached != collections_.end()) return cached->second;
    const size_t header = 8 + geometry_.length_size;
    const size_t object_header = 8 + geometry_.length_size;
    if (relative_address > geometry_.file_size - std::min(geometry_.file_size, geometry_.base)) {
      corrupt(element, "heap collection address " + std::to_string(relative_address) + " lies beyond the file");
    }
    const uint64_t address = geometry_.base + relative_address;
    const std::string head = read_at(address, header, element);
    if (head.compare(0, 4, "GCOL") != 0 || head[4] != 1) {
      corrupt(element, "no global heap collection at " + std::to_string(relative_address));
    }
    const uint64_t size = little_endian(reinterpret_cast<const unsigned char*>(head.data()) + 8, geometry_.length_size);
    if (size < header || size > kMaxCollectionBytes) {
      corrupt(element, "the heap collection at " + std::to_string(relative_address) + " declares " +
                           std::to_string(size) + " bytes");
    }
    Collection collection;
    collection.bytes = read_at(address, size, element);
    const auto* bytes = reinterpret_cast<const unsigned char*>(collection.bytes.data());
    size_t at = header;
    while (at < size) {
      if (size - at < object_header) break;  // too small for an object: trailing free space
      const auto index = static_cast<uint32_t>(little_endian(bytes + at, 2));
      const uint64_t object_size = little_endian(bytes + at + 8, geometry_.length_size);
      if (index == 0) {
        // The free space: its size counts its header. It ends the walk (nothing can follow it).
        if (object_size < object_header || object_size > size - at) {
          corrupt(element, "the free space of the heap collection at " + std::to_string(relative_address) +
                               " declares " + std::to_string(object_size) + " bytes");
        }
        at += object_size;
        continue;
      }
      const uint64_t padded = (object_size + 7) / 8 * 8;
      if (object_size > size || padded > size - at - object_header) {
        // An object reaching past the collection: only an error if a string refers to it.
        break;
      }
      collection.objects[index] = HeapObject{at + object_header, object_size};
      at += object_header + padded;
    }
    return collections_.emplace(relative_address, std::move(collection)).first->second;
  }

  FileGeometry geometry_;
  std::string where_;
  int fd_ = -1;
  std::map<uint64_t, Collection> collections_;
};

std::vector<RawReference> parse_references(const std::vector<unsigned char>& raw, size_t count,
                                           const FileGeometry& geometry) {
  const size_t element_size = 8 + geometry.address_size;
  std::vector<RawReference> references(count);
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* element = raw.data() + i * element_size;
    references[i].length = static_cast<uint32_t>(little_endian(element, 4));
    references[i].collection = little_endian(element + 4, geometry.address_size);
    references[i].index = static_cast<uint32_t>(little_endian(element + 4 + geometry.address_size, 4));
  }
  return references;
}

// Variable-length strings of an attribute or dataset, through raw references and HeapReader.
template <typename ReadRaw>
std::vector<std::string> read_variable_strings(hid_t object, size_t count, const std::string& where, ReadRaw read_raw) {
  register_raw_conversion();
  const FileGeometry geometry = file_geometry(object, where);
  const size_t element_size = 8 + geometry.address_size;
  Hdf5Handle raw_type(H5Tcreate(H5T_OPAQUE, element_size), H5Tclose);
  H5Tset_tag(raw_type.get(), kRawReferenceTag);
  std::vector<unsigned char> raw(count * element_size);
  check_hdf5(read_raw(raw_type.get(), raw.data()), where, "reading string references");
  const std::vector<RawReference> references = parse_references(raw, count, geometry);
  HeapReader heap(geometry, where);
  std::vector<std::string> values;
  values.reserve(count);
  for (size_t i = 0; i < count; ++i) values.push_back(heap.string_at(references[i], i));
  return values;
}

// Fixed-length strings: `count` values of `size` bytes, NUL-padded (or space-padded) as stored.
std::vector<std::string> split_fixed(const std::vector<char>& buffer, size_t count, size_t size, H5T_str_t padding) {
  std::vector<std::string> values;
  values.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + i * size;
    std::string value(begin, strnlen(begin, size));
    if (padding == H5T_STR_SPACEPAD) value.erase(value.find_last_not_of(' ') + 1);
    values.push_back(std::move(value));
  }
  return values;
}

// The in-memory type for reading fixed-length strings stored as `file_type`: same size, padding and
// character set (HDF5 1.10 cannot convert between ASCII and UTF-8; h5py writes either).
Hdf5Handle fixed_memory_type(hid_t file_type) {
  Hdf5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5Tget_size(file_type));
  H5Tset_cset(type.get(), H5Tget_cset(file_type));
  H5Tset_strpad(type.get(), H5Tget_strpad(file_type));
  return type;
}

void check_all_utf8(const std::vector<std::string>& values, const std::string& where) {
  for (size_t i = 0; i < values.size(); ++i) {
    require_utf8(values[i], where + ": string " + std::to_string(i), "write the file again with UTF-8 text");
  }
}

constexpr size_t kMaxFixedStringBytes = size_t{1} << 20;

}  // namespace

std::vector<std::string> read_strings(hid_t dataset, const std::string& where) {
  Hdf5Handle file_type(H5Dget_type(dataset), H5Tclose);
  if (!file_type.valid()) throw Error(where + ": cannot read the datatype" + hdf5_detail_suffix());
  const H5T_class_t type_class = H5Tget_class(file_type.get());
  if (type_class != H5T_STRING) {
    throw Error(where + ": has type " + type_class_name(type_class) + ", expected strings");
  }
  Hdf5Handle space(H5Dget_space(dataset), H5Sclose);
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) throw Error(where + ": cannot read the dataspace" + hdf5_detail_suffix());
  const auto count = static_cast<size_t>(points);
  if (count == 0) return {};
  std::vector<std::string> values;
  if (H5Tis_variable_str(file_type.get()) > 0) {
    values = read_variable_strings(dataset, count, where, [&](hid_t type, void* buffer) {
      return H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    });
  } else {
    const size_t size = H5Tget_size(file_type.get());
    if (size == 0 || size > kMaxFixedStringBytes) throw Error(where + ": fixed-length strings of " + std::to_string(size) + " bytes");
    Hdf5Handle memory_type = fixed_memory_type(file_type.get());
    std::vector<char> buffer(count * size);
    check_hdf5(H5Dread(dataset, memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), where,
               "reading strings");
    values = split_fixed(buffer, count, size, H5Tget_strpad(file_type.get()));
  }
  check_all_utf8(values, where);
  return values;
}

std::string read_string_attribute_value(hid_t attribute, const std::string& name, const std::string& where) {
  const std::string location = where + ": attribute '" + name + "'";
  Hdf5Handle file_type(H5Aget_type(attribute), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(file_type.get());
  if (type_class != H5T_STRING) {
    throw Error(location + " is of type " + type_class_name(type_class) + ", expected a string");
  }
  Hdf5Handle space(H5Aget_space(attribute), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count != 1) {
    throw Error(location + " holds " + std::to_string(count) + " values, expected a single value");
  }
  std::vector<std::string> values;
  if (H5Tis_variable_str(file_type.get()) > 0) {
    values = read_variable_strings(attribute, 1, location, [&](hid_t type, void* buffer) {
      return H5Aread(attribute, type, buffer);
    });
  } else {
    const size_t size = H5Tget_size(file_type.get());
    if (size == 0 || size > kMaxFixedStringBytes) throw Error(location + ": a fixed-length string of " + std::to_string(size) + " bytes");
    Hdf5Handle memory_type = fixed_memory_type(file_type.get());
    std::vector<char> buffer(size);
    check_hdf5(H5Aread(attribute, memory_type.get(), buffer.data()), location, "reading");
    values = split_fixed(buffer, 1, size, H5Tget_strpad(file_type.get()));
  }
  check_all_utf8(values, location);
  return values.front();
}

}  // namespace pg::storage
