// TorchScript / torch.save zip archives: the zip reader, the unpickler and the module walker together.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "worker/checkpoint/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pg::checkpoint::read_checkpoint(pg::fuzz::as_file(data, size));
  } catch (const pg::Error&) {
  }
  return 0;
}
