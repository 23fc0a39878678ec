// safetensors headers and data layouts.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "worker/checkpoint/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pg::checkpoint::read_safetensors(pg::fuzz::as_file(data, size));
  } catch (const pg::Error&) {
  }
  return 0;
}
