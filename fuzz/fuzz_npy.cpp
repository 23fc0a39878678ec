// .npy files: the header parser and the data layout (both the in-memory and the streaming reader).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "fuzz_input.h"
#include "storage/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pg::storage::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const pg::Error&) {
  }
  try {
    pg::storage::read_npy(pg::fuzz::as_file(data, size), 2);
  } catch (const pg::Error&) {
  }
  return 0;
}
