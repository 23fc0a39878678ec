// The content digest of a tower's weights as loaded: what a task id or an extraction's settings name as
// "the checkpoint", whichever file format (TorchScript, safetensors, HF names) the weights came from,
// without reading the file again.
#pragma once

#include <torch/torch.h>

#include "common/hash.h"

namespace pg::worker {

// Adds every parameter of `module`, in order: its name, its shape and its values as float32 on the CPU.
void hash_parameters(ContentHasher& hasher, const torch::nn::Module& module);

}  // namespace pg::worker
