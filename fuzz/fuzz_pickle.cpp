// The restricted unpickler on arbitrary bytes: a pg::Error or a value tree, never a crash, a hang or
// unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "worker/checkpoint/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pg::checkpoint::read_pickle(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const pg::Error&) {
  }
  return 0;
}
