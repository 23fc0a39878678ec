// Run journals: framing, checksums, torn tails, JSON of every line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "storage/journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const pg::storage::JournalContents contents = pg::storage::parse_journal(text, "fuzz.jsonl");
  if (contents.valid_bytes > size) __builtin_trap();  // recovery never claims bytes that are not there
  return 0;
}
