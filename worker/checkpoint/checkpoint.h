// Reading the tensors of a CLIP checkpoint without running any code from it: OpenAI's TorchScript
// archives and torch.save zips (torchscript_archive.h), or safetensors (safetensors.h). The format is
// told from the file's first bytes. Records come back sorted by name, each checked against its storage.
#pragma once

#include <string>
#include <vector>

#include "worker/checkpoint/tensor_record.h"

namespace pg::checkpoint {

std::vector<TensorRecord> read_checkpoint(const std::string& path);

}  // namespace pg::checkpoint
