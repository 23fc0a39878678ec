// pg::Error: the one exception type promptgrid throws on purpose, with a kind a scheduler can act on.
//
// Its message says what failed, where (file, object, field) and what to do about it, e.g.
//   "features.h5: /dtd/train/features has shape [10, 768], expected D = 512 from backbone ViT-B/16".
// The kind says whether running the same thing again can help:
//   user       the input is wrong (a bad spec, a damaged file): the same run fails the same way;
//   retryable  the machine failed it (out of memory, a full disk, an I/O error): it may pass again;
//   internal   promptgrid broke an invariant of its own: a bug to report.
// The CLI prints it and exits with code 2 (user, retryable) or 1 (internal); a task turns it into a
// failed record carrying the kind, and `run --retries` re-runs only retryable failures. Any exception
// that is not a pg::Error is treated as internal.
#pragma once

#include <stdexcept>
#include <string>

namespace pg {

enum class ErrorKind { user, retryable, internal };

// "user" | "retryable" | "internal": how a failed record names the kind.
const char* to_string(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::user)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace pg
