// Parameter tensors of a PyTorch zip checkpoint: a TorchScript archive (OpenAI's ViT-B-16.pt / RN50.pt,
// torch.jit.save) or a torch.save'd state dict. The archive's `<top folder>/data.pkl` is read by the
// restricted unpickler (worker/clip/pickle_reader.h); the module tree is walked and every tensor
// attribute becomes an entry with a dotted name (transformer.resblocks.0.attn.in_proj_weight), its
// data read from `<top folder>/data/<storage key>` honouring dtype, offset, size and stride.
// Non-tensor attributes (training flags, OpenAI's input_resolution) are skipped. Nothing in the
// archive's code/ folder is ever looked at.
#pragma once

#include "worker/clip/state_dict.h"

namespace pg::worker {

// Tensors come back float32, contiguous, on the CPU. Errors name the file and the entry or tensor.
StateDict read_torch_archive(const std::string& path);

}  // namespace pg::worker
