// BPE vocabularies (plain or gzip) and tokenizing with whatever merges they hold.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "fuzz_input.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const pg::text::Tokenizer tokenizer = pg::text::Tokenizer::from_vocab_file(pg::fuzz::as_file(data, size));
    tokenizer.tokenize("a photo of a dog.");
    tokenizer.tokenize("Ünïcödé &amp; emoji \xF0\x9F\x90\xB6 don't 123");
  } catch (const pg::Error&) {
  }
  return 0;
}
