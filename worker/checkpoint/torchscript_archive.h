// Parameter tensors of a PyTorch zip checkpoint: a TorchScript archive (OpenAI's ViT-B-16.pt / RN50.pt,
// torch.jit.save) or a torch.save'd state dict. The archive's `<top folder>/data.pkl` is read by the
// restricted unpickler (pickle_reader.h); the module tree is walked and every tensor attribute becomes
// a record with a dotted name (transformer.resblocks.0.attn.in_proj_weight), its bytes read from
// `<top folder>/data/<storage key>` with dtype, offset, size and stride checked against the storage.
// Non-tensor attributes (training flags, OpenAI's input_resolution) are skipped. Nothing in the
// archive's code/ folder is ever looked at.
#pragma once

#include <string>
#include <vector>

#include "worker/checkpoint/tensor_record.h"

namespace pg::checkpoint {

// Module trees are a few levels deep and hold a few hundred tensors; a pickle whose walk is deeper,
// visits more values (a DAG of shared dicts has exponentially many paths) or names more tensors than
// these bounds is refused as crafted or corrupt.
constexpr int kMaxModuleDepth = 64;
constexpr int64_t kMaxWalkSteps = 1'000'000;
constexpr size_t kMaxTensors = 100'000;

// Errors name the file and the entry or tensor.
std::vector<TensorRecord> read_torch_archive(const std::string& path);

}  // namespace pg::checkpoint
