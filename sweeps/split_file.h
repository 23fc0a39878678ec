// Reading CoOp's standard split files (`split_zhou_<Name>.json`):
//   {"train" | "val" | "test": [[relpath, label, classname], ...]}
// Every malformed entry is a pg::Error naming the file, the split, the index and the field.
#pragma once

#include <string>
#include <vector>

namespace pg::sweeps {

struct SplitItem {
  std::string relpath;
  int label = 0;
  std::string classname;  // as in the file; '_' is replaced by ' ' only when prompting
};

struct SplitFile {
  std::string path;
  std::vector<SplitItem> train, val, test;

  const std::vector<SplitItem>& split(const std::string& name) const;  // "train" | "val" | "test"
};

SplitFile read_split_file(const std::string& path);

// Class names indexed by label, from all three splits. Labels must be 0..n-1 with one name each;
// otherwise a pg::Error names the label and the clashing names.
std::vector<std::string> classnames_by_label(const SplitFile& split_file);

}  // namespace pg::sweeps
