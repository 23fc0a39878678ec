#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/file_calls.h"
#include "common/strings.h"
#include "common/system_info.h"

namespace pg {
namespace {

std::string reason() { return std::strerror(errno); }

// The host as part of a file name.
std::string host_for_file_names() {
  std::string host = host_name();
  for (char& c : host) {
    if (c == '.' || c == '/') c = '_';  // keeps "<path>.tmp.<host>.<pid>" parseable
  }
  return host;
}

std::string parent_folder(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Makes a rename durable: the folder's entry is flushed too.
void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // a folder we cannot open for reading: the rename itself stands
  file_calls().fsync(fd);
  ::close(fd);
}

void write_all(int fd, const char* data, size_t size, const std::string& path, const std::string& temporary) {
  size_t written = 0;
  while (written < size) {
    const ssize_t n = file_calls().write(fd, data + written, size - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = reason();
      ::close(fd);
      ::unlink(temporary.c_str());
      throw Error(path + ": write failed (" + why + ")" +
                      (why == std::strerror(ENOSPC) ? "; free some disk space and run again" : ""),
                  ErrorKind::retryable);
    }
    written += static_cast<size_t>(n);
  }
}

bool process_is_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

namespace {

// Whether a named pipe, opened without blocking, has a writer. Linux reports no event on it until a
// writer appears; tee(2) then looks into the pipe without consuming: EAGAIN means a writer with
// nothing written yet, 0 means no writer at all.
bool pipe_has_writer(int fd) {
  pollfd event{fd, POLLIN, 0};
  if (::poll(&event, 1, kPipeWriterWaitSeconds * 1000) > 0) return true;  // data, or a writer came and went
  int probe[2];
  if (::pipe2(probe, O_CLOEXEC | O_NONBLOCK) != 0) return true;  // cannot tell: read it as it comes
  const ssize_t seen = ::tee(fd, probe[1], 1, SPLICE_F_NONBLOCK);
  const bool waiting_writer = seen < 0 && errno == EAGAIN;
  ::close(probe[0]);
  ::close(probe[1]);
  return seen > 0 || waiting_writer;
}

}  // namespace

int open_for_reading(const std::string& path, const std::string& what) {
  // Opened without blocking: the open of a named pipe would otherwise wait for a writer forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(path + ": cannot open file (" + reason() + "); expected " + what);
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw Error(path + ": is a folder; expected " + what);
  }
  if (S_ISFIFO(info.st_mode) && !pipe_has_writer(fd)) {
    ::close(fd);
    throw Error(path + ": a named pipe that nothing writes to (waited " + std::to_string(kPipeWriterWaitSeconds) +
                " s); expected " + what);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string read_file(const std::string& path, uint64_t max_bytes, const std::string& what) {
  const int fd = open_for_reading(path, what);
  std::string contents;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = reason();
      ::close(fd);
      throw Error(path + ": read failed (" + why + ")");
    }
    if (n == 0) break;
    if (contents.size() + static_cast<uint64_t>(n) > max_bytes) {
      ::close(fd);
      throw Error(path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB, far larger than " + what +
                  " can be; is this the right file?");
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return contents;
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  const std::string text = read_file(path, kMaxJsonFileBytes, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + "); expected " + what);
  }
}

std::string temporary_path_for(const std::string& path) {
  return path + ".tmp." + host_for_file_names() + "." + std::to_string(::getpid());
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string temporary = temporary_path_for(path);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot create file (" + reason() + ")");
  write_all(fd, contents.data(), contents.size(), path, temporary);
  if (::close(fd) != 0) {
    const std::string why = reason();
    ::unlink(temporary.c_str());
    throw Error(path + ": could not finish writing (" + why + ")");
  }
  publish_file(temporary, path);
}

void write_json_file_atomic(const std::string& path, const nlohmann::json& value) {
  // Text from outside is checked for UTF-8 where it enters; an error message quoting a damaged file
  // may still carry stray bytes, which must not make the record unwritable (U+FFFD replaces them).
  write_file_atomic(path, value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void publish_file(const std::string& temporary, const std::string& path, bool replace) {
  const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || file_calls().fsync(fd) != 0) {
    const std::string why = reason();
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw Error(path + ": could not flush to disk (" + why + ")", ErrorKind::retryable);
  }
  ::close(fd);
  const int renamed = file_calls().rename(temporary.c_str(), path.c_str(), replace);
  if (renamed != 0) {
    const bool exists = errno == EEXIST;
    const std::string why = reason();
    ::unlink(temporary.c_str());
    if (exists) {
      throw Error(path + ": was created by another process while this one was writing it; nothing was "
                  "replaced (remove it first, or write elsewhere)");
    }
    throw Error(path + ": could not rename " + temporary + " into place (" + why + ")", ErrorKind::retryable);
  }
  sync_folder(parent_folder(path));
}

namespace {

// Removes "<folder>/<file>.tmp.<this host>.<pid>" for dead pids, where <file> starts with `file_prefix`
// (every file when it is empty).
int remove_dead_temporaries(const std::string& folder, const std::string& file_prefix) {
  const std::string marker = ".tmp." + host_for_file_names() + ".";
  DIR* directory = ::opendir(folder.c_str());
  if (directory == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(directory)) {
    const std::string name = entry->d_name;
    const size_t at = name.rfind(marker);
    if (at == std::string::npos || name.compare(0, file_prefix.size(), file_prefix) != 0 ||
        (!file_prefix.empty() && at != file_prefix.size())) {
      continue;
    }
    const std::string pid_text = name.substr(at + marker.size());
    if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid() || !process_is_gone(pid)) continue;
    if (::unlink((folder + "/" + name).c_str()) == 0) ++removed;
  }
  ::closedir(directory);
  return removed;
}

}  // namespace

int remove_stale_temporaries(const std::string& path) {
  return remove_dead_temporaries(parent_folder(path), std::filesystem::path(path).filename().string());
}

int remove_stale_temporaries_in(const std::string& folder) { return remove_dead_temporaries(folder, ""); }

void copy_file(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error(from + ": cannot open file (" + reason() + ")");
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    const std::string why = reason();
    ::close(in);
    throw Error(to + ": cannot create file (" + why + ")");
  }
  auto fail = [&](const std::string& why) {
    ::close(in);
    ::close(out);
    ::unlink(to.c_str());
    throw Error(to + ": copying " + from + " failed (" + why + ")" +
                (why == std::strerror(ENOSPC) ? "; free some disk space and run again" : ""));
  };
  // In the kernel where the file systems allow it; through a buffer otherwise.
  struct stat info {};
  if (::fstat(in, &info) != 0) fail(reason());
  uint64_t remaining = static_cast<uint64_t>(info.st_size);
  bool in_kernel = true;
  for (bool first = true; remaining > 0; first = false) {
    // Never ask for more than is left: a request past a file-size limit fails whole.
    const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr,
                                        static_cast<size_t>(std::min<uint64_t>(remaining, uint64_t{1} << 30)), 0);
    if (n > 0) {
      remaining -= static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (first && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      in_kernel = false;
      break;
    }
    fail(reason());
  }
  if (!in_kernel) {
    char buffer[1 << 16];
    while (true) {
      const ssize_t got = ::read(in, buffer, sizeof buffer);
      if (got == 0) break;
      if (got < 0) {
        if (errno == EINTR) continue;
        fail(reason());
      }
      for (ssize_t done = 0; done < got;) {
        const ssize_t n = ::write(out, buffer + done, static_cast<size_t>(got - done));
        if (n < 0 && errno != EINTR) fail(reason());
        if (n > 0) done += n;
      }
    }
  }
  ::close(in);
  if (::close(out) != 0) {
    const std::string why = reason();
    ::unlink(to.c_str());
    throw Error(to + ": could not finish writing (" + why + ")");
  }
}

void sync_folder_of(const std::string& path) { sync_folder(parent_folder(path)); }

void remove_file_quietly(const std::string& path) { ::unlink(path.c_str()); }

void make_directories(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) throw Error(path + ": cannot create folder (" + error.message() + ")");
}

bool file_exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

FileLock::FileLock(const std::string& path, const std::string& action) : lock_path_(path + ".lock") {
  // Retry when the lock file is replaced between open and flock (a holder removing it on release).
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(lock_path_ + ": cannot create the lock file (" + reason() + ")");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const bool busy = errno == EWOULDBLOCK;
      const std::string why = reason();
      char holder[64] = {};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (!busy) throw Error(lock_path_ + ": cannot lock (" + why + ")");
      throw Error(path + ": another promptgrid process (" + (n > 0 ? trim(holder) : std::string("pid unknown")) +
                  ") is " + action + " it; wait for it to finish, then run again");
    }
    struct stat opened {}, named {};
    if (::fstat(fd_, &opened) == 0 && ::stat(lock_path_.c_str(), &named) == 0 && opened.st_ino == named.st_ino &&
        opened.st_dev == named.st_dev) {
      const std::string me = "pid " + std::to_string(::getpid()) + " on " + host_name() + "\n";
      // Who holds the lock, for the message a second writer gets; informative only.
      if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
      }
      return;
    }
    ::close(fd_);  // the file we locked was removed by its previous holder: lock the new one
    fd_ = -1;
  }
  throw Error(lock_path_ + ": could not take the lock (the lock file keeps changing)");
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while still holding it, so no one locks a file about to vanish
  ::close(fd_);
}

}  // namespace pg
