#include "worker/checkpoint/checkpoint.h"

#include <algorithm>

#include "common/error.h"
#include "common/strings.h"
#include "worker/checkpoint/binary_file.h"
#include "worker/checkpoint/safetensors.h"
#include "worker/checkpoint/torchscript_archive.h"

namespace pg::checkpoint {

std::vector<TensorRecord> read_checkpoint(const std::string& path) {
  std::string magic;
  {
    BinaryFile file(path);
    magic = file.read(0, std::min<uint64_t>(file.size(), 9), "file header");
  }
  if (starts_with(magic, std::string("PK\x03\x04", 4))) return read_torch_archive(path);
  if (magic.size() == 9 && magic[8] == '{') return read_safetensors(path);
  throw Error(path + ": not a CLIP checkpoint; expected a TorchScript archive or torch.save file (a zip, "
              "starting with \"PK\") or a safetensors file (8-byte header length, then JSON)");
}

}  // namespace pg::checkpoint
