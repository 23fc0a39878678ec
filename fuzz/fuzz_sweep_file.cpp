// Sweep files: YAML parsing, overrides, keys and types, random search, grid expansion against a store.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "sweeps/sweep_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Inputs name /dev/null (relative to "/": dev/null) for the files a sweep needs, so parsing gets past
  // the path checks.
  static const std::vector<pg::sweeps::DatasetFacts> store = {{"dtd", 47, 2820, 60, 1692, 3},
                                                              {"eurosat", 10, 13500, 1000, 8100, 4}};
  try {
    const pg::sweeps::Sweep sweep = pg::sweeps::parse_sweep(text, "fuzz.yaml", "/", {"seeds=[1, 2]"});
    pg::sweeps::expand_sweep(sweep, store);
  } catch (const pg::Error&) {
  }
  return 0;
}
