#include "common/error.h"

namespace pg {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::user: return "user";
    case ErrorKind::retryable: return "retryable";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

}  // namespace pg
