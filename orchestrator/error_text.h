// What an exception says, fit for a user: LibTorch's errors carry a C++ backtrace of ~25 frames in
// what(), which never reaches a message or a result record. Used by the CLI and the task runner.
#pragma once

#include <exception>
#include <string>

#include "common/error.h"

namespace pg::orchestrator {

// The message of `e` without LibTorch's backtrace; an allocation failure is named as such.
std::string error_text(const std::exception& e);
// True for the messages of failed allocations (std::bad_alloc, LibTorch's "not enough memory").
bool is_out_of_memory(const std::string& message);
// The kind of any exception: a pg::Error's own; running out of memory is retryable; anything else
// (LibTorch's other errors, the standard library's) is internal.
ErrorKind error_kind(const std::exception& e);

}  // namespace pg::orchestrator
