#include "storage/npy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>

#include "common/error.h"
#include "common/files.h"
#include "common/strings.h"
#include "storage/float16.h"

namespace pg::storage {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Values we need are strings, booleans and tuples of integers; anything else is rejected.
struct HeaderValue {
  enum class Kind { string, boolean, tuple } kind = Kind::string;
  std::string text;
  bool flag = false;
  std::vector<int64_t> numbers;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> entries;
    expect('{');
    skip_space();
    while (peek() != '}') {
      const std::string key = parse_string();
      expect(':');
      entries[key] = parse_value(key);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ": malformed .npy header (" + what + " at character " + std::to_string(pos_) +
                " of \"" + trim(text_) + "\")");
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }
  HeaderValue parse_value(const std::string& key) {
    skip_space();
    HeaderValue value;
    const char c = peek();
    if (c == '\'' || c == '"') {
      value.kind = HeaderValue::Kind::string;
      value.text = parse_string();
    } else if (text_.compare(pos_, 4, "True") == 0 || text_.compare(pos_, 5, "False") == 0) {
      value.kind = HeaderValue::Kind::boolean;
      value.flag = text_[pos_] == 'T';
      pos_ += value.flag ? 4 : 5;
    } else if (c == '(') {
      value.kind = HeaderValue::Kind::tuple;
      ++pos_;
      skip_space();
      while (peek() != ')') {
        value.numbers.push_back(parse_integer());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          skip_space();
        } else if (peek() != ')') {
          fail("expected ',' or ')' in the tuple of '" + key + "'");
        }
      }
      ++pos_;
    } else if (key == "descr") {
      throw Error(name_ + ": structured dtype (descr " + text_.substr(pos_, 40) +
                  "...) is not supported; save a plain float32 array");
    } else {
      fail("unsupported value for '" + key + "'");
    }
    return value;
  }
  int64_t parse_integer() {
    const size_t start = pos_;
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail("expected a non-negative integer");
    if (peek() == 'L') ++pos_;  // Python 2 long literal, as old numpy versions wrote it
    return value;
  }

  const std::string& text_;
  const std::string& name_;
  size_t pos_ = 0;
};

uint32_t read_le(const std::string& bytes, size_t offset, size_t size) {
  uint32_t value = 0;
  for (size_t i = 0; i < size; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

// One little-endian value of 2, 4 or 8 bytes as float32 (float64 rounds to nearest).
float decode_value(const unsigned char* p, size_t item_size) {
  if (item_size == 2) return float16_to_float32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
  if (item_size == 4) {
    const uint32_t bits = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                          (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(p[i]) << (8 * i);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return static_cast<float>(value);
}

// The parsed preamble and header of a .npy file: where the data starts and how it is laid out.
struct NpyLayout {
  std::string descr;
  size_t item_size = 0;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t count = 0;        // number of values
  size_t data_offset = 0;    // bytes before the data
  uint64_t data_bytes = 0;   // count * item_size
};

constexpr size_t kPreambleSize = kMagicSize + 2;  // magic, major, minor
// numpy writes headers of a few hundred bytes; a much larger one is a corrupt length field.
constexpr size_t kMaxHeaderBytes = size_t{1} << 20;

// Bytes of the header-length field after the preamble; checks magic and version.
size_t header_length_size(const std::string& preamble, const std::string& name) {
  if (preamble.size() < kPreambleSize || preamble.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    throw Error(name + ": not a .npy file (bad magic: it must start with \\x93NUMPY); save it with numpy.save");
  }
  const int major = static_cast<unsigned char>(preamble[6]);
  const int minor = static_cast<unsigned char>(preamble[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw Error(name + ": .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                " is not supported (1.0, 2.0 and 3.0 are)");
  }
  return major == 1 ? 2 : 4;
}

size_t header_length(const std::string& bytes, size_t length_size, const std::string& name) {
  const size_t length = read_le(bytes, kPreambleSize, length_size);
  if (length > kMaxHeaderBytes) {
    throw Error(name + ": .npy header length " + std::to_string(length) + " is implausible (numpy writes a few "
                "hundred bytes); the file is corrupt");
  }
  return length;
}

NpyLayout parse_layout(const std::string& header, size_t data_offset, const std::string& name, int expected_rank) {
  const auto entries = HeaderParser(header, name).parse_dict();
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (entries.count(key) == 0) throw Error(name + ": .npy header has no '" + key + "' entry");
  }
  const HeaderValue& descr = entries.at("descr");
  const HeaderValue& fortran = entries.at("fortran_order");
  const HeaderValue& shape_value = entries.at("shape");
  if (descr.kind != HeaderValue::Kind::string) throw Error(name + ": .npy header 'descr' is not a string");
  if (fortran.kind != HeaderValue::Kind::boolean) {
    throw Error(name + ": .npy header 'fortran_order' is not True or False");
  }
  if (shape_value.kind != HeaderValue::Kind::tuple) throw Error(name + ": .npy header 'shape' is not a tuple");

  NpyLayout layout;
  layout.descr = descr.text;
  layout.fortran_order = fortran.flag;
  layout.data_offset = data_offset;
  if (descr.text == "<f4") layout.item_size = 4;
  else if (descr.text == "<f2") layout.item_size = 2;
  else if (descr.text == "<f8") layout.item_size = 8;
  else if (descr.text == ">f4" || descr.text == ">f2" || descr.text == ">f8") {
    throw Error(name + ": dtype '" + descr.text + "' is big-endian, which is not supported; save "
                "array.astype('<f4') instead");
  } else {
    throw Error(name + ": unsupported dtype '" + descr.text + "': expected float32, float16 or float64 "
                "('<f4', '<f2', '<f8'); save array.astype('<f4') instead");
  }
  layout.shape = shape_value.numbers;
  if (expected_rank >= 0 && static_cast<int>(layout.shape.size()) != expected_rank) {
    throw Error(name + ": has shape " + format_shape(layout.shape) + " (rank " +
                std::to_string(layout.shape.size()) + "), expected a " + std::to_string(expected_rank) +
                "-D array");
  }
  uint64_t count = 1;
  for (const int64_t dim : layout.shape) {
    if (dim != 0 && count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 8 / static_cast<uint64_t>(dim)) {
      throw Error(name + ": shape " + format_shape(layout.shape) + " is too large");
    }
    count *= static_cast<uint64_t>(dim);
  }
  layout.count = count;
  layout.data_bytes = count * layout.item_size;
  return layout;
}

void check_data_size(const NpyLayout& layout, uint64_t data_bytes, const std::string& name) {
  if (data_bytes < layout.data_bytes) {
    throw Error(name + ": truncated: " + std::to_string(data_bytes) + " bytes of data, expected " +
                std::to_string(layout.data_bytes) + " for shape " + format_shape(layout.shape) + " of '" +
                layout.descr + "'");
  }
  if (data_bytes > layout.data_bytes) {
    throw Error(name + ": " + std::to_string(data_bytes - layout.data_bytes) + " unexpected bytes after the " +
                std::to_string(layout.data_bytes) + " bytes of data for shape " + format_shape(layout.shape) +
                "; not a valid .npy file");
  }
}

NpyArray decode(const NpyLayout& layout, const unsigned char* data) {
  NpyArray array;
  array.shape = layout.shape;
  array.values.resize(layout.count);
  const uint64_t count = layout.count;
  const size_t item_size = layout.item_size;
  if (!layout.fortran_order || array.shape.size() < 2) {
    for (uint64_t i = 0; i < count; ++i) array.values[i] = decode_value(data + i * item_size, item_size);
    return array;
  }
  // Fortran order: the first index varies fastest in the file. Walk the C-order index like an odometer
  // and fetch each value from its Fortran-order offset.
  const size_t rank = array.shape.size();
  std::vector<uint64_t> fortran_stride(rank, 1);
  for (size_t d = 1; d < rank; ++d) fortran_stride[d] = fortran_stride[d - 1] * static_cast<uint64_t>(array.shape[d - 1]);
  std::vector<int64_t> index(rank, 0);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t offset = 0;
    for (size_t d = 0; d < rank; ++d) offset += static_cast<uint64_t>(index[d]) * fortran_stride[d];
    array.values[i] = decode_value(data + offset * item_size, item_size);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < array.shape[d]) break;
      index[d] = 0;
    }
  }
  return array;
}

// Reads exactly `size` bytes from `fd` into `out` (appending), or fewer at the end of the file.
void read_up_to(int fd, uint64_t size, std::string& out, const std::string& name) {
  char buffer[1 << 16];
  while (size > 0) {
    const ssize_t n = ::read(fd, buffer, static_cast<size_t>(std::min<uint64_t>(size, sizeof buffer)));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(name + ": read failed (" + std::strerror(errno) + ")");
    }
    if (n == 0) return;
    out.append(buffer, static_cast<size_t>(n));
    size -= static_cast<uint64_t>(n);
  }
}

}  // namespace

NpyArray parse_npy(const std::string& bytes, const std::string& name, int expected_rank) {
  const size_t length_size = header_length_size(bytes, name);
  if (bytes.size() < kPreambleSize + length_size) throw Error(name + ": truncated .npy header");
  const size_t length = header_length(bytes, length_size, name);
  const size_t data_offset = kPreambleSize + length_size + length;
  if (bytes.size() < data_offset) {
    throw Error(name + ": truncated .npy header (" + std::to_string(length) + " bytes announced, " +
                std::to_string(bytes.size() - kPreambleSize - length_size) + " present)");
  }
  const NpyLayout layout =
      parse_layout(bytes.substr(kPreambleSize + length_size, length), data_offset, name, expected_rank);
  check_data_size(layout, bytes.size() - data_offset, name);
  return decode(layout, reinterpret_cast<const unsigned char*>(bytes.data() + data_offset));
}

NpyArray read_npy(const std::string& path, int expected_rank) {
  // Header first, then exactly the bytes it announces: a wrong path (a device, a huge file of another
  // kind) is an error after a few bytes, never an unbounded read.
  const int fd = open_for_reading(path, "a .npy array");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw Error(path + ": cannot read its size (" + std::strerror(errno) + ")");
  std::string bytes;
  read_up_to(fd, kPreambleSize, bytes, path);
  const size_t length_size = header_length_size(bytes, path);
  read_up_to(fd, length_size, bytes, path);
  if (bytes.size() < kPreambleSize + length_size) throw Error(path + ": truncated .npy header");
  const size_t length = header_length(bytes, length_size, path);
  read_up_to(fd, length, bytes, path);
  const size_t data_offset = kPreambleSize + length_size + length;
  if (bytes.size() < data_offset) {
    throw Error(path + ": truncated .npy header (" + std::to_string(length) + " bytes announced, " +
                std::to_string(bytes.size() - kPreambleSize - length_size) + " present)");
  }
  const NpyLayout layout = parse_layout(bytes.substr(kPreambleSize + length_size), data_offset, path, expected_rank);
  if (S_ISREG(info.st_mode)) {
    // A regular file's size tells truncation or trailing bytes before anything is allocated.
    check_data_size(layout, static_cast<uint64_t>(info.st_size) - std::min<uint64_t>(info.st_size, data_offset), path);
  }
  std::string data;
  read_up_to(fd, layout.data_bytes + 1, data, path);  // one byte more reveals trailing data in a pipe
  check_data_size(layout, data.size(), path);
  return decode(layout, reinterpret_cast<const unsigned char*>(data.data()));
}

std::string encode_npy(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  if (std::any_of(shape.begin(), shape.end(), [](int64_t dim) { return dim < 0; }) ||
      static_cast<int64_t>(values.size()) != count) {
    throw Error("encode_npy: " + std::to_string(values.size()) + " values for shape " + format_shape(shape));
  }
  // Python's tuple repr: "(3,)" for one dimension, "(2, 3)" for more, "()" for none.
  std::string shape_text = "(" + join(shape, ", ") + (shape.size() == 1 ? ",)" : ")");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Pad with spaces and end with '\n' so the data starts at a multiple of 64 bytes (NPY spec).
  const size_t preamble = kMagicSize + 2 + 2;
  const size_t total = ((preamble + header.size() + 1 + 63) / 64) * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header.push_back('\n');
  std::string bytes(kMagic, kMagicSize);
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xFF));
  bytes.push_back(static_cast<char>((header.size() >> 8) & 0xFF));
  bytes += header;
  for (const float value : values) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  return bytes;
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& values) {
  write_file_atomic(path, encode_npy(shape, values));
}

void write_npy(const std::string& path, int64_t rows, int64_t cols, const std::vector<float>& values) {
  write_npy(path, std::vector<int64_t>{rows, cols}, values);
}

}  // namespace pg::storage
