#include "storage/journal.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

#include "common/file_calls.h"
#include "support/test_data.h"

namespace pg::storage {
namespace {

using nlohmann::json;

json record(int i) { return {{"task_id", "t" + std::to_string(i)}, {"status", "ok"}, {"metrics", {{"accuracy", i * 1.5}}}}; }

void append_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

TEST(Journal, RecordsComeBackInOrderAcrossWriters) {
  const std::string path = testing::make_temp_dir("journal") + "/journal.jsonl";
  {
    JournalWriter writer(path);
    EXPECT_TRUE(writer.recovered().records.empty());
    writer.append(record(1));
    writer.append(record(2));
  }
  {
    JournalWriter writer(path);
    ASSERT_EQ(writer.recovered().records.size(), 2u);
    writer.append(record(3));
  }
  const JournalContents contents = read_journal(path);
  ASSERT_EQ(contents.records.size(), 3u);
  EXPECT_EQ(contents.records[2], record(3));
  EXPECT_TRUE(contents.warnings.empty());
  // Every line is JSON a jq user can read: {"xxh64": ..., "record": ...}.
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(json::parse(line)["record"], record(1));
}

TEST(Journal, TornLastLineIsDroppedWithAWarningAndCutBeforeTheNextAppend) {
  const std::string path = testing::make_temp_dir("journal_torn") + "/journal.jsonl";
  { JournalWriter(path).append(record(1)); }
  const std::string second = frame_journal_record(record(2));
  append_raw(path, second.substr(0, second.size() / 2));  // killed mid-write
  JournalContents contents = read_journal(path);
  EXPECT_EQ(contents.records.size(), 1u);
  EXPECT_TRUE(contents.torn_tail);
  ASSERT_EQ(contents.warnings.size(), 1u);
  EXPECT_NE(contents.warnings[0].find("journal.jsonl:2: the last line is torn"), std::string::npos);
  {
    JournalWriter writer(path);
    writer.append(record(3));
  }
  contents = read_journal(path);
  ASSERT_EQ(contents.records.size(), 2u);
  EXPECT_EQ(contents.records[1], record(3));
  EXPECT_TRUE(contents.warnings.empty());
}

TEST(Journal, DamagedLineIsSkippedAndTheRestIsKept) {
  const std::string path = testing::make_temp_dir("journal_damaged") + "/journal.jsonl";
  std::string first = frame_journal_record(record(1));
  first[first.find("1.5")] = '7';  // a flipped digit: still JSON, wrong checksum
  append_raw(path, first + "not a journal line\n" + frame_journal_record(record(2)));
  const JournalContents contents = read_journal(path);
  ASSERT_EQ(contents.records.size(), 1u);
  EXPECT_EQ(contents.records[0], record(2));
  ASSERT_EQ(contents.warnings.size(), 2u);
  EXPECT_NE(contents.warnings[0].find(":1: checksum mismatch"), std::string::npos) << contents.warnings[0];
  EXPECT_NE(contents.warnings[1].find(":2: not a journal line"), std::string::npos) << contents.warnings[1];
}

TEST(Journal, FailedAppendLeavesTheJournalAsItWas) {
  const std::string path = testing::make_temp_dir("journal_full") + "/journal.jsonl";
  JournalWriter writer(path);
  writer.append(record(1));
  {
    // A disk that fills up after 10 bytes of the next line.
    FileCalls full = system_file_calls();
    full.write = [](int fd, const void* data, size_t size) -> ssize_t {
      if (size > 10) return ::write(fd, data, 10);
      errno = ENOSPC;
      return -1;
    };
    ScopedFileCalls scoped(full);
    const std::string message = testing::error_message([&] { writer.append(record(2)); });
    EXPECT_NE(message.find("No space left"), std::string::npos) << message;
  }
  {
    FileCalls no_sync = system_file_calls();
    no_sync.fsync = [](int) { errno = EIO; return -1; };
    ScopedFileCalls scoped(no_sync);
    EXPECT_NE(testing::error_message([&] { writer.append(record(3)); }).find("Input/output error"), std::string::npos);
  }
  writer.append(record(4));
  const JournalContents contents = read_journal(path);
  EXPECT_TRUE(contents.warnings.empty());
  ASSERT_EQ(contents.records.size(), 2u);
  EXPECT_EQ(contents.records[1], record(4));
}

TEST(Journal, SecondWriterIsRefused) {
  const std::string path = testing::make_temp_dir("journal_lock") + "/journal.jsonl";
  JournalWriter first(path);
  const std::string message = testing::error_message([&] { JournalWriter second(path); });
  EXPECT_NE(message.find("another promptgrid process"), std::string::npos) << message;
}

}  // namespace
}  // namespace pg::storage
