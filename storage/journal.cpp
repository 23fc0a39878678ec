#include "storage/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/file_calls.h"
#include "common/files.h"
#include "common/hash.h"

namespace pg::storage {
namespace {

constexpr const char* kPrefix = "{\"xxh64\":\"";
constexpr size_t kPrefixSize = 10;
constexpr const char* kMiddle = "\",\"record\":";
constexpr size_t kMiddleSize = 11;
// A journal of 100,000 tasks is ~300 MB; refuse what is surely not one.
constexpr uint64_t kMaxJournalBytes = uint64_t{4} << 30;

std::string checksum(const std::string& bytes) {
  ContentHasher hasher;
  hasher.update(bytes);
  return to_hex16(hasher.digest());
}

// The record of one complete line, or the reason it is not one.
bool parse_line(const std::string& line, nlohmann::json& record, std::string& problem) {
  if (line.size() < kPrefixSize + 16 + kMiddleSize + 1 || line.compare(0, kPrefixSize, kPrefix) != 0 ||
      line.compare(kPrefixSize + 16, kMiddleSize, kMiddle) != 0 || line.back() != '}') {
    problem = "not a journal line";
    return false;
  }
  const std::string stored = line.substr(kPrefixSize, 16);
  const std::string text = line.substr(kPrefixSize + 16 + kMiddleSize, line.size() - kPrefixSize - 16 - kMiddleSize - 1);
  if (checksum(text) != stored) {
    problem = "checksum mismatch (the line was damaged)";
    return false;
  }
  record = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) {
    problem = "its record is not a JSON object";
    return false;
  }
  return true;
}

}  // namespace

std::string frame_journal_record(const nlohmann::json& record) {
  // Invalid UTF-8 in an error message quoting a damaged file becomes U+FFFD rather than an exception.
  const std::string text = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return kPrefix + checksum(text) + kMiddle + text + "}\n";
}

JournalContents parse_journal(const std::string& text, const std::string& path) {
  JournalContents contents;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    ++line_number;
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      contents.torn_tail = true;
      contents.warnings.push_back(path + ":" + std::to_string(line_number) + ": the last line is torn (" +
                                  std::to_string(text.size() - start) +
                                  " bytes without a newline: a process died while appending it); dropped");
      break;
    }
    nlohmann::json record;
    std::string problem;
    if (parse_line(text.substr(start, end - start), record, problem)) {
      contents.records.push_back(std::move(record));
    } else {
      contents.warnings.push_back(path + ":" + std::to_string(line_number) + ": " + problem +
                                  "; the line is skipped (its task counts as not finished)");
    }
    start = end + 1;
    contents.valid_bytes = start;
  }
  return contents;
}

JournalContents read_journal(const std::string& path) {
  if (!file_exists(path)) return {};
  return parse_journal(read_file(path, kMaxJournalBytes, "a promptgrid run journal (journal.jsonl)"), path);
}

JournalWriter::JournalWriter(const std::string& path)
    : path_(path), lock_(std::make_unique<FileLock>(path, "write the journal")) {
  recovered_ = read_journal(path);
  const bool created = !file_exists(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open the journal for writing (" + std::strerror(errno) + ")");
  if (created) sync_folder_of(path);  // or a power loss could take the whole new journal with it
  if (recovered_.torn_tail && ::ftruncate(fd_, static_cast<off_t>(recovered_.valid_bytes)) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw Error(path + ": cannot cut off the torn last line (" + why + ")", ErrorKind::retryable);
  }
  size_ = recovered_.valid_bytes;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(const nlohmann::json& record) {
  const std::string line = frame_journal_record(record);
  size_t written = 0;
  std::string failure;
  while (written < line.size() && failure.empty()) {
    const ssize_t n = file_calls().write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno != EINTR) failure = std::strerror(errno);
    if (n > 0) written += static_cast<size_t>(n);
  }
  if (failure.empty() && file_calls().fsync(fd_) != 0) failure = std::strerror(errno);
  if (!failure.empty()) {
    // Undo a partial line, so the journal ends where it did.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) { /* the torn line is dropped on the next read */ }
    throw Error(path_ + ": could not append to the journal (" + failure + "); the task's result was not saved",
                ErrorKind::retryable);
  }
  size_ += line.size();
}

}  // namespace pg::storage
