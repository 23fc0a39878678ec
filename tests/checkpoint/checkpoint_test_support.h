// Helpers of the checkpoint tests: the byte-level builders of support/zip_writer.h, and a temporary file
// to read them back from.
#pragma once

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "support/test_data.h"
#include "support/zip_writer.h"

namespace pg::testing {

inline std::string write_temp(const std::string& name, const std::string& contents) {
  const std::string path = make_temp_dir("checkpoint") + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

}  // namespace pg::testing
