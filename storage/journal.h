// The run journal: DIR/journal.jsonl, the append-only record of a sweep's finished tasks (DESIGN §3).
// It is the only source of truth for resume and for every table; its only writer is the coordinator.
//
// One line per record, framed as LevelDB frames its log records, but readable by any JSON-lines tool:
//   {"xxh64":"<16 hex digits>","record":<the record's JSON>}\n
// where the checksum is the XXH64 of the exact bytes of <the record's JSON>. Each append is one
// write(2) followed by fsync, so a record is either in the journal whole or not at all — except when
// the process or machine dies mid-write, which leaves a torn last line (no newline). Recovery drops a
// torn tail with a warning (the writer also cuts it off before appending) and skips, with a warning,
// any complete line whose checksum or framing is wrong (a damaged disk block, a hand edit); it never
// stops on them. A failed append (full disk) is undone by truncating to the previous end.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg {
class FileLock;
}

namespace pg::storage {

struct JournalContents {
  std::vector<nlohmann::json> records;  // the good records, in the order they were appended
  std::vector<std::string> warnings;    // one per dropped line ("journal.jsonl:17: ...")
  uint64_t valid_bytes = 0;             // the file's length without a torn tail
  bool torn_tail = false;
};

// One framed line (with its newline) for `record`.
std::string frame_journal_record(const nlohmann::json& record);
// Parses a journal's text; `path` only names it in warnings.
JournalContents parse_journal(const std::string& text, const std::string& path);
// Reads a journal; a missing file is an empty journal.
JournalContents read_journal(const std::string& path);

class JournalWriter {
 public:
  // Locks the journal against a second writer (a pg::Error naming the holder), reads it, and cuts off a
  // torn tail so the next record starts on a line of its own.
  explicit JournalWriter(const std::string& path);
  ~JournalWriter();
  // What the journal held when it was opened (warnings included).
  const JournalContents& recovered() const { return recovered_; }
  // Appends one record durably (write + fsync). A failure is a retryable pg::Error, and the journal is
  // left as it was before the call.
  void append(const nlohmann::json& record);

 private:
  std::string path_;
  std::unique_ptr<FileLock> lock_;
  int fd_ = -1;
  uint64_t size_ = 0;
  JournalContents recovered_;
};

}  // namespace pg::storage
