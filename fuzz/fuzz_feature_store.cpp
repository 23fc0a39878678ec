// Feature stores as HDF5 bytes: opening, every dataset's summary and full validation, and a split read
// as training reads it. HDF5 itself is not instrumented; a crash inside it still stops the fuzzer.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "fuzz_input.h"
#include "storage/feature_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pg::storage::FeatureStoreReader reader(pg::fuzz::as_file(data, size));
    for (const std::string& dataset : reader.datasets()) {
      try {
        reader.summary(dataset);
        reader.validate(dataset);
        reader.read_split(dataset, "train");
      } catch (const pg::Error&) {
      }
    }
  } catch (const pg::Error&) {
  }
  return 0;
}
