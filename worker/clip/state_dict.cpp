#include "worker/clip/state_dict.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "worker/checkpoint/checkpoint.h"
#include "worker/checkpoint/safetensors.h"

namespace pg::worker {
namespace {

const std::string kHuggingFaceLayers = "encoder.layers.";

// Per-layer renames of Hugging Face's CLIPEncoderLayer to OpenAI's ResidualAttentionBlock (prefixes),
// the same in both towers.
const std::array<std::pair<const char*, const char*>, 5> kLayerRenames = {{
    {"self_attn.out_proj.", "attn.out_proj."},
    {"layer_norm1.", "ln_1."},
    {"layer_norm2.", "ln_2."},
    {"mlp.fc1.", "mlp.c_fc."},
    {"mlp.fc2.", "mlp.c_proj."},
}};
const std::array<const char*, 3> kProjections = {"q", "k", "v"};  // in_proj's row order

// One tower of Hugging Face's CLIPModel and where its keys go in OpenAI's state dict.
struct HuggingFaceTower {
  std::string prefix;      // the tower's keys: "text_model." / "vision_model."
  std::string marker;      // a key whose presence says the file uses these names
  std::string blocks;      // OpenAI's prefix of the transformer blocks
  // Renames of the tower's own keys (after `prefix`): a name ending in '.' renames every key it
  // starts, any other name one key.
  std::vector<std::pair<std::string, std::string>> renames;
  std::string dropped;     // the position_ids buffer (0..n-1, not a weight)
  std::string projection;  // a Linear [E, W] outside the tower, transposed to OpenAI's [W, E] matrix
  std::string projection_to;
};

const HuggingFaceTower kTextTower = {
    "text_model.",
    "text_model.embeddings.token_embedding.weight",
    "transformer.resblocks.",
    {{"embeddings.token_embedding.weight", "token_embedding.weight"},
     {"embeddings.position_embedding.weight", "positional_embedding"},
     {"final_layer_norm.", "ln_final."}},
    "embeddings.position_ids",
    "text_projection.weight",
    "text_projection",
};

const HuggingFaceTower kVisionTower = {
    "vision_model.",
    "vision_model.embeddings.patch_embedding.weight",
    "visual.transformer.resblocks.",
    {{"embeddings.patch_embedding.weight", "visual.conv1.weight"},
     {"embeddings.class_embedding", "visual.class_embedding"},
     {"embeddings.position_embedding.weight", "visual.positional_embedding"},
     {"pre_layrnorm.", "visual.ln_pre."},  // sic: transformers spells it so
     {"post_layernorm.", "visual.ln_post."}},
    "embeddings.position_ids",
    "visual_projection.weight",
    "visual.proj",
};

// Hugging Face CLIPModel keys of one tower -> OpenAI names: q/k/v projections are concatenated into
// in_proj, the projection (a Linear, [E, W]) is transposed to OpenAI's [W, E] matrix, and the
// position_ids buffer is dropped. Keys outside the tower pass through unchanged; tower keys it does not
// know pass through too, for the encoder's strict check to report.
StateDict map_hugging_face_keys(StateDict input, const HuggingFaceTower& tower) {
  StateDict out;
  // (layer, "weight"/"bias") -> q, k, v pieces; concatenated at the end when all three are present.
  std::map<std::pair<std::string, std::string>, std::array<std::string, 3>> attention;
  for (auto& [key, tensor] : input) {
    if (key == tower.projection) {
      out[tower.projection_to] = tensor.t().contiguous();
      continue;
    }
    if (!starts_with(key, tower.prefix)) {
      out[key] = tensor;
      continue;
    }
    const std::string name = key.substr(tower.prefix.size());
    if (name == tower.dropped) continue;
    bool renamed = false;
    for (const auto& [from, to] : tower.renames) {
      if (from.back() == '.' ? starts_with(name, from) : name == from) {
        out[to + name.substr(from.size())] = tensor;
        renamed = true;
        break;
      }
    }
    if (renamed) continue;
    if (!starts_with(name, kHuggingFaceLayers)) {
      out[key] = tensor;
      continue;
    }
    const std::string rest = name.substr(kHuggingFaceLayers.size());
    const size_t dot = rest.find('.');
    const std::string layer = rest.substr(0, dot);
    const std::string field = dot == std::string::npos ? std::string() : rest.substr(dot + 1);
    const std::string block = tower.blocks + layer + ".";
    for (const auto& [from, to] : kLayerRenames) {
      if (starts_with(field, from)) {
        out[block + to + field.substr(std::string(from).size())] = tensor;
        renamed = true;
      }
    }
    for (size_t i = 0; i < kProjections.size() && !renamed; ++i) {
      const std::string projection = std::string("self_attn.") + kProjections[i] + "_proj.";
      if (starts_with(field, projection)) {
        attention[{layer, field.substr(projection.size())}][i] = key;
        renamed = true;
      }
    }
    if (!renamed) out[key] = tensor;
  }
  for (const auto& [slot, keys] : attention) {
    const auto& [layer, kind] = slot;
    if (keys[0].empty() || keys[1].empty() || keys[2].empty()) {
      for (const std::string& key : keys) {
        if (!key.empty()) out[key] = input.at(key);  // incomplete: left for the strict check to report
      }
      continue;
    }
    out[tower.blocks + layer + ".attn.in_proj_" + kind] =
        torch::cat({input.at(keys[0]), input.at(keys[1]), input.at(keys[2])}, 0);
  }
  return out;
}

torch::ScalarType scalar_type(checkpoint::DType dtype) {
  using checkpoint::DType;
  switch (dtype) {
    case DType::float64: return torch::kFloat64;
    case DType::float32: return torch::kFloat32;
    case DType::float16: return torch::kFloat16;
    case DType::bfloat16: return torch::kBFloat16;
    case DType::int64: return torch::kInt64;
    case DType::int32: return torch::kInt32;
    case DType::int16: return torch::kInt16;
    case DType::int8: return torch::kInt8;
    case DType::uint8: return torch::kUInt8;
    case DType::boolean: return torch::kBool;
  }
  return torch::kFloat32;  // unreachable: every enumerator is handled above
}

// A record (already checked against its storage by worker/checkpoint) as a float32 tensor of its own.
torch::Tensor to_tensor(const checkpoint::TensorRecord& record) {
  torch::Tensor out = torch::empty(record.shape, torch::kFloat32);
  if (record.numel() == 0) return out;
  const torch::Tensor storage =
      torch::from_blob(const_cast<char*>(record.storage->data()), {record.storage_elements()},
                       torch::TensorOptions().dtype(scalar_type(record.dtype)));
  out.copy_(storage.as_strided(record.shape, record.strides, record.offset));
  return out;
}

StateDict to_state_dict(const std::vector<checkpoint::TensorRecord>& records) {
  StateDict tensors;
  for (const auto& record : records) tensors[record.name] = to_tensor(record);
  return tensors;
}

}  // namespace

StateDict read_safetensors(const std::string& path) { return to_state_dict(checkpoint::read_safetensors(path)); }

void write_safetensors(const std::string& path, const StateDict& tensors) {
  std::vector<checkpoint::TensorRecord> records;
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor values = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    checkpoint::TensorRecord record;
    record.name = name;
    record.dtype = checkpoint::DType::float32;
    record.shape = values.sizes().vec();
    record.strides = checkpoint::contiguous_strides(record.shape);
    record.storage = std::make_shared<const std::string>(static_cast<const char*>(values.data_ptr()),
                                                         static_cast<size_t>(values.numel()) * sizeof(float));
    records.push_back(std::move(record));
  }
  checkpoint::write_safetensors(path, records);
}

StateDict load_state_dict(const std::string& path) {
  StateDict tensors = to_state_dict(checkpoint::read_checkpoint(path));
  // Each tower is mapped when its own marker is there, so a text-only file (or one with a partial
  // vision tower) keeps the keys it cannot map for the encoders to report.
  for (const HuggingFaceTower* tower : {&kTextTower, &kVisionTower}) {
    if (tensors.count(tower->marker) != 0) tensors = map_hugging_face_keys(std::move(tensors), *tower);
  }
  return tensors;
}

const torch::Tensor* find_tensor_of_rank(const StateDict& state_dict, const std::string& key, int64_t dims,
                                         std::vector<std::string>& problems) {
  const auto found = state_dict.find(key);
  if (found == state_dict.end()) {
    problems.push_back("missing " + key);
    return nullptr;
  }
  if (found->second.dim() != dims) {
    problems.push_back(key + " has shape " + format_shape(found->second.sizes().vec()) + ", expected " +
                       std::to_string(dims) + " dimensions");
    return nullptr;
  }
  return &found->second;
}

}  // namespace pg::worker
