// CoOp split files: JSON parsing, every entry's fields, and the class names by label.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "sweeps/fewshot.h"
#include "sweeps/split_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pg::sweeps::SplitFile split = pg::sweeps::read_split_file(pg::fuzz::as_file(data, size));
    pg::sweeps::classnames_by_label(split);
    pg::sweeps::sample_few_shot(split.train, split.val, 2, 1);
  } catch (const pg::Error&) {
  }
  return 0;
}
