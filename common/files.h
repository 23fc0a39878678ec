// The file layer: bounded whole-file reads, and writes that never leave a half-written or lost file.
//
// A file is written under a temporary name beside its final path, flushed (fsync), renamed into place
// and the folder flushed too, so a process dying mid-write leaves the old file or the new one, never
// half of one; every failure (disk full included) is a pg::Error naming the path, after the temporary
// file is removed. Temporary names carry the host and process id, so a later run can tell and remove
// the leftovers of a process that was killed (remove_stale_temporaries). FileLock keeps two processes
// from writing one file at once. Every reader of user files caps how much it reads: a wrong path such
// as /dev/zero is an error, not an unbounded allocation.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace pg {

// Opens `path` for reading, in blocking mode, without ever hanging in the open: a named pipe is given
// kPipeWriterWaitSeconds for a writer to appear (`mkfifo p; producer > p &`); one with a writer is read
// however slowly it is written (a shell's `<(command)`). A folder, or a pipe nothing writes to, is an
// error naming `path`; `what` says what the file should be. The caller closes the descriptor.
constexpr int kPipeWriterWaitSeconds = 5;
int open_for_reading(const std::string& path, const std::string& what);

// Reads at most `max_bytes`; a larger file (or an endless one such as /dev/zero) is an error naming
// the path and the limit. `what` says what the file should be, for messages ("a split file").
std::string read_file(const std::string& path, uint64_t max_bytes, const std::string& what);
// JSON files users hand promptgrid (split files, records) are at most this large.
constexpr uint64_t kMaxJsonFileBytes = uint64_t{256} << 20;
nlohmann::json read_json_file(const std::string& path, const std::string& what);

void write_file_atomic(const std::string& path, const std::string& contents);
void write_json_file_atomic(const std::string& path, const nlohmann::json& value);

// "<path>.tmp.<host>.<pid>": where a write of `path` by this process goes before it is published.
std::string temporary_path_for(const std::string& path);
// Makes a finished temporary file durable and moves it to `path` (fsync file, rename, fsync folder).
// With `replace` false an existing `path` is never replaced: that is an error naming it. On failure
// the temporary file is removed.
void publish_file(const std::string& temporary, const std::string& path, bool replace = true);
// Removes the temporary files of `path` left by processes of this host that no longer run (killed
// mid-write); returns how many. Files of live processes and of other hosts are left alone.
int remove_stale_temporaries(const std::string& path);
// The same for every file of a folder (a results folder written by several tasks).
int remove_stale_temporaries_in(const std::string& folder);
// Copies a file (for writing a modified copy that is then published in place of the original).
void copy_file(const std::string& from, const std::string& to);
// Makes a new file's entry in its folder durable (fsync of the folder), as publish_file does after a
// rename: for files created in place, such as an append-only journal.
void sync_folder_of(const std::string& path);
// Removes a file if it exists; never throws (for cleaning up after a failure).
void remove_file_quietly(const std::string& path);

// Creates the folder and its parents; an error names the path when that is impossible.
void make_directories(const std::string& path);
bool file_exists(const std::string& path);

// An exclusive lock on "<path>.lock", taken without waiting: a second writer of the same path gets a
// pg::Error naming the process that holds it. The lock is released (and its file removed) when the
// object is destroyed, and by the kernel when the process dies, so a crash never leaves it held.
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& action);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace pg
