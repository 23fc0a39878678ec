#include "orchestrator/error_text.h"

#include <c10/util/Exception.h>

#include <new>

namespace pg::orchestrator {

std::string error_text(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return "out of memory (std::bad_alloc)";
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) {
    std::string message = torch_error->what_without_backtrace();
    // LibTorch appends "Exception raised from ... (most recent call first):" on some paths.
    const size_t frames = message.find("Exception raised from");
    if (frames != std::string::npos) message.erase(frames);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return message;
  }
  return e.what();
}

ErrorKind error_kind(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return error->kind();
  if (is_out_of_memory(error_text(e))) return ErrorKind::retryable;
  return ErrorKind::internal;
}

bool is_out_of_memory(const std::string& message) {
  return message.find("not enough memory") != std::string::npos ||
         message.find("out of memory") != std::string::npos || message.find("bad_alloc") != std::string::npos;
}

}  // namespace pg::orchestrator
