#include "storage/hdf5_probe.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <csignal>
#include <exception>

#include "common/error.h"

namespace pg::storage {
namespace {

constexpr int kPgErrorExit = 2;
constexpr int kOtherErrorExit = 3;

void write_all(int fd, const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0 && errno != EINTR) return;
    if (n > 0) done += static_cast<size_t>(n);
  }
}

// Set in sanitizer builds (the fuzz targets), where a fuzzer registers it to report a death as its own.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

[[noreturn]] void run_child(int fd, const std::function<std::string()>& read) {
  // A crash must end the child, not run handlers it inherited (a fuzzer's, a debugger's).
  for (const int signal_number : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(signal_number, SIG_DFL);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(nullptr);
  int code = 0;
  try {
    write_all(fd, read());
  } catch (const Error& e) {
    write_all(fd, e.what());
    code = kPgErrorExit;
  } catch (const std::exception& e) {
    write_all(fd, e.what());
    code = kOtherErrorExit;
  }
  ::_exit(code);  // no exit handlers, no stdio flushing: the parent owns those
}

// Seconds a complete read may take: a minute, plus 20 MB/s of file.
int default_time_limit(const std::string& path) {
  struct stat info {};
  const double bytes = ::stat(path.c_str(), &info) == 0 ? static_cast<double>(info.st_size) : 0.0;
  return 60 + static_cast<int>(bytes / 20e6);
}

}  // namespace

void probe_in_child(const std::string& path, const std::function<void()>& read, int time_limit_seconds) {
  probe_in_child_with_report(path, [&] {
    read();
    return std::string();
  }, time_limit_seconds);
}

std::string probe_in_child_with_report(const std::string& path, const std::function<std::string()>& read,
                                       int time_limit_seconds) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw Error(path + ": cannot check the file (pipe: " + std::strerror(errno) + ")");
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    throw Error(path + ": cannot check the file (fork: " + std::strerror(errno) + ")");
  }
  if (child == 0) {
    ::close(pipe_fds[0]);
    run_child(pipe_fds[1], read);
  }
  ::close(pipe_fds[1]);

  const int limit = time_limit_seconds > 0 ? time_limit_seconds : default_time_limit(path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit);
  std::string message;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd waiting{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it has finished
    message.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    throw Error(path + ": reading it took over " + std::to_string(limit) +
                " s, so it was stopped; the file is damaged (or the disk extremely slow)");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return message;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kPgErrorExit) throw Error(message);
  if (WIFEXITED(status) && WEXITSTATUS(status) == kOtherErrorExit) {
    throw Error(path + ": could not be read (" + message + ")");
  }
  const std::string how = WIFSIGNALED(status) ? std::string("signal ") + std::to_string(WTERMSIG(status)) + ", " +
                                                    strsignal(WTERMSIG(status))
                                              : "exit code " + std::to_string(WEXITSTATUS(status));
  throw Error(path + ": reading it crashed the HDF5 library (" + how + "); the file is damaged or crafted: write "
              "it again from its sources");
}

}  // namespace pg::storage
