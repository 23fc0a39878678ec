// Learned prompts per task (DESIGN §3): context vectors, Meta-Net weights and any other float32
// tensors a prompt learner needs to be re-evaluated later, in one HDF5 file per task:
//
//   /   attrs format="promptgrid-prompts", format_version=1, task (the task's JSON spec)
//   /<name>  float32 datasets of any rank ("ctx" [n_ctx, D] or [n_cls, n_ctx, D],
//            "meta_net.linear1.weight" [D/16, D], ...)
//
// No torch here: the worker converts tensors to NamedTensor. Files are written under a temporary name
// and renamed, so a crash never leaves half a file; the reader validates every tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::storage {

struct NamedTensor {
  std::string name;             // any name without '/' (dots are fine)
  std::vector<int64_t> shape;   // [] for a scalar
  std::vector<float> values;    // C order, product(shape) values, all finite
};

struct PromptFile {
  std::string path;
  std::string task_json;
  std::vector<NamedTensor> tensors;  // sorted by name

  // The tensor called `name`; a pg::Error naming the file and the tensors present otherwise.
  const NamedTensor& tensor(const std::string& name) const;
};

// Validates (task_json parses as JSON; names unique and valid; values match shapes and are finite)
// before writing anything.
void write_prompt_file(const std::string& path, const std::string& task_json,
                       const std::vector<NamedTensor>& tensors);
// Read first in a child process (storage/hdf5_probe.h), as feature stores are.
PromptFile read_prompt_file(const std::string& path);

}  // namespace pg::storage
