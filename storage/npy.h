// NumPy .npy files (format versions 1.0, 2.0 and 3.0): how users hand promptgrid the image features
// they extracted elsewhere (`promptgrid features import`). Reads little-endian float32, float16 and
// float64 arrays ('<f4', '<f2', '<f8'), C or Fortran order, into float32 in C (row-major) order; every
// other dtype, a bad header or a short file is a pg::Error naming the file and what is wrong.
// write_npy writes float32 arrays (for tests and synthetic data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::storage {

struct NpyArray {
  std::vector<int64_t> shape;  // [] for a 0-d array
  std::vector<float> values;   // C order, product(shape) values

  // For 2-D arrays: shape[0] and shape[1].
  int64_t rows() const { return shape.at(0); }
  int64_t cols() const { return shape.at(1); }
};

// Reads any rank; `expected_rank` >= 0 makes another rank an error giving the actual shape.
NpyArray read_npy(const std::string& path, int expected_rank = -1);
// Parses the bytes of a .npy file; `name` is used in error messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name, int expected_rank = -1);

// The bytes of a version 1.0 '<f4' C-order .npy of the given shape (values row-major).
std::string encode_npy(const std::vector<int64_t>& shape, const std::vector<float>& values);
// Writes encode_npy(...) atomically to `path`; the second form is for matrices [rows, cols].
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& values);
void write_npy(const std::string& path, int64_t rows, int64_t cols, const std::vector<float>& values);

}  // namespace pg::storage
