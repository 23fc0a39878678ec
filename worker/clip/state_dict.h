// Reading CLIP weights from the files users have, without running any code from them:
//   - OpenAI's TorchScript archives (ViT-B-16.pt, RN50.pt; a zip holding a pickle of the module tree
//     and raw storages): only the parameter tensors are read, by a restricted unpickler;
//   - safetensors with OpenAI / open_clip key names, or Hugging Face CLIPModel key names (mapped to
//     OpenAI's).
// The format is detected from the file's first bytes and parsed by worker/checkpoint/ (which checks
// every size, offset and stride); here the records become tensors, float32 on the CPU.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace pg::worker {

using StateDict = std::map<std::string, torch::Tensor>;

StateDict load_state_dict(const std::string& path);

// The tensor `key` of `state_dict` with `dims` dimensions, or nullptr with the reason ("missing ...",
// "... has shape ...") appended to `problems`: for options inferred from a checkpoint's shapes, which
// report every problem of the file at once.
const torch::Tensor* find_tensor_of_rank(const StateDict& state_dict, const std::string& key, int64_t dims,
                                         std::vector<std::string>& problems);

// safetensors files, as read and written by promptgrid (written as F32).
StateDict read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const StateDict& tensors);

}  // namespace pg::worker
