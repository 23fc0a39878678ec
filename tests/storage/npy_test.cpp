// The .npy reader and writer against the NPY format specification (headers built by hand here) and
// against bytes numpy itself produced.
#include "storage/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/error.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

// Bytes of little-endian values, written by hand so the test does not rely on the code under test.
template <typename T>
std::string le_bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());  // x86 and ARM Linux are little-endian
  return bytes;
}

// A .npy file per the NPY spec: magic, version, header length (2 bytes for 1.0, 4 for 2.0/3.0), the
// dict padded with spaces and ending in '\n' so the data starts at a multiple of 64, then the data.
std::string npy_file(int major, const std::string& dict, const std::string& data) {
  const size_t length_size = major == 1 ? 2 : 4;
  const size_t preamble = 6 + 2 + length_size;
  std::string header = dict;
  while ((preamble + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back('\0');
  for (size_t i = 0; i < length_size; ++i) bytes.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  return bytes + header + data;
}

std::string error_of(const std::string& bytes, const std::string& name = "x.npy", int rank = -1) {
  try {
    parse_npy(bytes, name, rank);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// np.save(f, np.array([[1.5, -2.0, 0.25], [3.0, 4.5, -0.125]], dtype='<f4')) with numpy 1.24.2,
// captured at development time.
const char* const kNumpyF4 =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73"
    "652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c00000803e00004040"
    "00009040000000be";
// np.save of np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype='<f4')): data stored column-major.
const char* const kNumpyFortran =
    "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2054727565"
    "2c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020200a0000803f00008040000000400000a040"
    "000040400000c040";
// np.save of np.array([1.0, -0.5, 65504.0], dtype='<f2').
const char* const kNumpyF2 =
    "934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73"
    "652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020"
    "202020202020202020202020202020202020202020202020202020202020200a003c00b8ff7b";

TEST(Npy, ReadsBytesWrittenByNumpy) {
  const NpyArray array = parse_npy(from_hex(kNumpyF4), "numpy.npy", 2);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.rows(), 2);
  EXPECT_EQ(array.cols(), 3);
  EXPECT_EQ(array.values, (std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f, 4.5f, -0.125f}));
}

TEST(Npy, WritesExactlyWhatNumpyWrites) {
  EXPECT_EQ(encode_npy({2, 3}, {1.5f, -2.0f, 0.25f, 3.0f, 4.5f, -0.125f}), from_hex(kNumpyF4));
}

TEST(Npy, TransposesFortranOrderFromNumpy) {
  const NpyArray array = parse_npy(from_hex(kNumpyFortran), "fortran.npy", 2);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, ReadsFloat16FromNumpy) {
  const NpyArray array = parse_npy(from_hex(kNumpyF2), "half.npy", 1);
  EXPECT_EQ(array.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(array.values, (std::vector<float>{1.0f, -0.5f, 65504.0f}));
}

TEST(Npy, ReadsVersions2And3AndFloat64) {
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string data = le_bytes<double>({0.1, -1e30, 3.0, 1e-3});
  for (const int major : {2, 3}) {
    const NpyArray array = parse_npy(npy_file(major, dict, data), "v.npy", 2);
    EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(array.values, (std::vector<float>{0.1f, -1e30f, 3.0f, 1e-3f})) << "version " << major;
  }
}

TEST(Npy, TransposesFortranOrder3D) {
  // shape (2, 3, 2) in Fortran order: element (i, j, k) sits at offset i + 2*j + 6*k; store 100i+10j+k.
  std::vector<float> fortran(12);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) fortran[static_cast<size_t>(i + 2 * j + 6 * k)] = 100.0f * i + 10.0f * j + k;
  const std::string bytes =
      npy_file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }", le_bytes(fortran));
  const NpyArray array = parse_npy(bytes, "f3.npy", 3);
  std::vector<float> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) expected.push_back(100.0f * i + 10.0f * j + k);
  EXPECT_EQ(array.values, expected);
}

TEST(Npy, AcceptsDoubleQuotesAndPython2Longs) {
  const std::string bytes = npy_file(1, "{\"descr\": \"<f4\", \"shape\": (1L, 2L), \"fortran_order\": False}",
                                     le_bytes<float>({7.0f, 8.0f}));
  const NpyArray array = parse_npy(bytes, "py2.npy", 2);
  EXPECT_EQ(array.values, (std::vector<float>{7.0f, 8.0f}));
}

TEST(Npy, RejectsBadMagic) {
  const std::string message = error_of("this is not numpy data at all", "text.npy");
  EXPECT_NE(message.find("text.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("bad magic"), std::string::npos) << message;
}

TEST(Npy, RejectsBigEndian) {
  const std::string bytes =
      npy_file(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  const std::string message = error_of(bytes, "big.npy");
  EXPECT_NE(message.find("big.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("'>f4'"), std::string::npos) << message;
  EXPECT_NE(message.find("big-endian"), std::string::npos) << message;
}

TEST(Npy, RejectsIntegerDtype) {
  const std::string bytes =
      npy_file(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'));
  const std::string message = error_of(bytes, "ints.npy");
  EXPECT_NE(message.find("ints.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported dtype '<i8'"), std::string::npos) << message;
}

TEST(Npy, RejectsStructuredDtype) {
  const std::string bytes =
      npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  const std::string message = error_of(bytes, "rec.npy");
  EXPECT_NE(message.find("rec.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("structured dtype"), std::string::npos) << message;
}

TEST(Npy, RejectsTruncatedData) {
  const std::string bytes =
      npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le_bytes<float>({1, 2, 3, 4, 5}));
  const std::string message = error_of(bytes, "short.npy");
  EXPECT_NE(message.find("short.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated: 20 bytes of data, expected 24 for shape [2, 3]"), std::string::npos) << message;
}

TEST(Npy, RejectsTrailingBytes) {
  const std::string bytes =
      npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", le_bytes<float>({1, 2}));
  const std::string message = error_of(bytes, "long.npy");
  EXPECT_NE(message.find("long.npy"), std::string::npos) << message;
  EXPECT_NE(message.find("4 unexpected bytes"), std::string::npos) << message;
}

TEST(Npy, RejectsTruncatedHeader) {
  const std::string full = from_hex(kNumpyF4);
  const std::string message = error_of(full.substr(0, 40), "cut.npy");
  EXPECT_NE(message.find("cut.npy: truncated .npy header"), std::string::npos) << message;
}

TEST(Npy, RejectsWrongRank) {
  const std::string message = error_of(from_hex(kNumpyF4), "matrix.npy", 3);
  EXPECT_NE(message.find("matrix.npy: has shape [2, 3] (rank 2), expected a 3-D array"), std::string::npos)
      << message;
}

TEST(Npy, RejectsUnknownVersionAndMissingKeys) {
  std::string bytes = from_hex(kNumpyF4);
  bytes[6] = 4;
  std::string message = error_of(bytes, "v4.npy");
  EXPECT_NE(message.find("v4.npy: .npy format version 4.0 is not supported"), std::string::npos) << message;

  message = error_of(npy_file(1, "{'descr': '<f4', 'fortran_order': False, }", ""), "noshape.npy");
  EXPECT_NE(message.find("noshape.npy: .npy header has no 'shape' entry"), std::string::npos) << message;

  message = error_of(npy_file(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", ""), "bad.npy");
  EXPECT_NE(message.find("bad.npy: malformed .npy header"), std::string::npos) << message;
}

TEST(Npy, EncodesOneAndThreeDimensionalShapesAsNumpyDoes) {
  // The float16 literal above shows numpy's header for shape (3,); ours differs only in the dtype.
  std::string expected = from_hex(kNumpyF2).substr(0, 128);
  expected.replace(expected.find("<f2"), 3, "<f4");
  const std::string bytes = encode_npy({3}, {1.0f, -0.5f, 65504.0f});
  EXPECT_EQ(bytes.substr(0, 128), expected);
  EXPECT_EQ(parse_npy(bytes, "one.npy", 1).values, (std::vector<float>{1.0f, -0.5f, 65504.0f}));
  const NpyArray cube = parse_npy(encode_npy({2, 1, 3}, {1, 2, 3, 4, 5, 6}), "cube.npy", 3);
  EXPECT_EQ(cube.shape, (std::vector<int64_t>{2, 1, 3}));
  EXPECT_EQ(cube.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, WriteThenReadFile) {
  const std::string path = pg::testing::make_temp_dir("npy") + "/m.npy";
  write_npy(path, 3, 2, {1, 2, 3, 4, 5, 6});
  const NpyArray array = read_npy(path, 2);
  EXPECT_EQ(array.rows(), 3);
  EXPECT_EQ(array.cols(), 2);
  EXPECT_EQ(array.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.size(), 128u + 24u);  // header padded to 64-byte alignment, then 6 float32s
}

TEST(Npy, MissingFileNamesThePath) {
  try {
    read_npy("/nonexistent/features.npy");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/features.npy"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pg::storage
