// pg::Error: the one exception type for everything a user can get wrong.
//
// Its message says what failed, where (file, object, field) and what to do about it, e.g.
//   "features.h5: /dtd/train/features has shape [10, 768], expected D = 512 from backbone ViT-B/16".
// The CLI prints it and exits with code 2; a task turns it into a failed record. Any other exception
// escaping to the CLI is a bug in promptgrid (exit code 1).
#pragma once

#include <stdexcept>
#include <string>

namespace pg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace pg
