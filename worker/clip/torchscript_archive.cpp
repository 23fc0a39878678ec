#include "worker/clip/torchscript_archive.h"

#include <cstring>
#include <map>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "worker/clip/pickle_reader.h"
#include "worker/clip/zip_archive.h"

namespace pg::worker {
namespace {

using Kind = PickleValue::Kind;

// Module trees are a few levels deep; the bound stops reference cycles a crafted pickle could build.
constexpr int kMaxDepth = 64;

struct StorageType {
  torch::ScalarType dtype;
  int64_t element_size;
};

// Storage classes as torch.save and TorchScript name them ("torch.HalfStorage").
StorageType storage_type(const std::string& global, const std::string& where) {
  static const std::map<std::string, StorageType> types = {
      {"torch.FloatStorage", {torch::kFloat32, 4}},   {"torch.HalfStorage", {torch::kFloat16, 2}},
      {"torch.BFloat16Storage", {torch::kBFloat16, 2}}, {"torch.DoubleStorage", {torch::kFloat64, 8}},
      {"torch.LongStorage", {torch::kInt64, 8}},      {"torch.IntStorage", {torch::kInt32, 4}},
      {"torch.ShortStorage", {torch::kInt16, 2}},     {"torch.CharStorage", {torch::kInt8, 1}},
      {"torch.ByteStorage", {torch::kUInt8, 1}},      {"torch.BoolStorage", {torch::kBool, 1}},
  };
  const auto found = types.find(global);
  if (found == types.end()) {
    throw Error(where + " is stored as " + global + ", which promptgrid cannot read (supported: float, half, "
                "bfloat16, double and integer storages)");
  }
  return found->second;
}

class ArchiveWalker {
 public:
  ArchiveWalker(const ZipArchive& archive, std::string prefix) : archive_(archive), prefix_(std::move(prefix)) {}

  void walk(const PickleValue& value, const std::string& name, int depth) {
    if (depth > kMaxDepth) {
      throw Error(archive_.path() + ": module tree deeper than " + std::to_string(kMaxDepth) + " levels at " +
                  name + " (the pickle is corrupt or crafted)");
    }
    if (value.is_object_of("torch._utils._rebuild_tensor_v2")) {
      tensors_[name] = rebuild_tensor(value, name);
    } else if (value.is_object_of("torch._utils._rebuild_parameter")) {
      const auto& arguments = value.arguments->items;
      if (arguments.empty() || !arguments[0]->is_object_of("torch._utils._rebuild_tensor_v2")) {
        malformed(name, "a parameter without its tensor");
      }
      tensors_[name] = rebuild_tensor(*arguments[0], name);
    } else if (value.is(Kind::object) && value.state && value.state->is(Kind::dict)) {
      walk_dict(*value.state, name, depth);  // a TorchScript module: its attributes
    } else if (value.is(Kind::dict)) {
      walk_dict(value, name, depth);  // a torch.save'd state dict
    }
    // Anything else (bools, ints, None, strings) is not a weight.
  }

  StateDict take() { return std::move(tensors_); }

 private:
  void walk_dict(const PickleValue& dict, const std::string& name, int depth) {
    for (const auto& [key, value] : dict.entries) {
      if (!key->is(Kind::string)) continue;
      walk(*value, name.empty() ? key->text : name + "." + key->text, depth + 1);
    }
  }

  [[noreturn]] void malformed(const std::string& name, const std::string& what) const {
    throw Error(archive_.path() + ": tensor " + name + " is malformed in " + prefix_ + "data.pkl (" + what +
                "); the checkpoint is corrupt");
  }

  std::vector<int64_t> int_tuple(const PickleValuePtr& value, const std::string& name, const char* field) const {
    if (!value->is(Kind::tuple)) malformed(name, std::string(field) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& item : value->items) {
      if (!item->is(Kind::integer) || item->integer < 0) malformed(name, std::string(field) + " has a bad entry");
      out.push_back(item->integer);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]),
  // storage = persistent id ('storage', torch.XStorage, key, location, numel).
  torch::Tensor rebuild_tensor(const PickleValue& value, const std::string& name) {
    const auto& arguments = value.arguments->items;
    if (arguments.size() < 4 || !arguments[0]->is(Kind::persistent_id) || !arguments[1]->is(Kind::integer)) {
      malformed(name, "unexpected _rebuild_tensor_v2 arguments");
    }
    const PickleValuePtr& id = arguments[0]->items.at(0);
    if (!id->is(Kind::tuple) || id->items.size() < 3 || !id->items[1]->is(Kind::global) ||
        !id->items[2]->is(Kind::string)) {
      malformed(name, "unexpected storage id");
    }
    const std::string where = archive_.path() + ": tensor " + name;
    const StorageType type = storage_type(id->items[1]->text, where);
    const torch::Tensor& storage = read_storage(id->items[2]->text, type, name);

    const int64_t offset = arguments[1]->integer;
    const std::vector<int64_t> size = int_tuple(arguments[2], name, "size");
    const std::vector<int64_t> stride = int_tuple(arguments[3], name, "stride");
    if (offset < 0 || size.size() != stride.size()) malformed(name, "size and stride disagree");
    // The furthest element the view touches must lie inside the storage.
    int64_t last = offset;
    bool empty = false;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] == 0) empty = true;
      else last += (size[i] - 1) * stride[i];
    }
    if (!empty && last >= storage.numel()) {
      throw Error(where + " (shape " + format_shape(size) + ", offset " + std::to_string(offset) +
                  ") reaches element " + std::to_string(last) + " of a storage of " +
                  std::to_string(storage.numel()) + " elements; the checkpoint is corrupt");
    }
    torch::Tensor out = torch::empty(size, torch::kFloat32);
    if (!empty) out.copy_(storage.as_strided(size, stride, offset));
    return out;
  }

  const torch::Tensor& read_storage(const std::string& key, const StorageType& type, const std::string& name) {
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const std::string entry = prefix_ + "data/" + key;
    if (!archive_.contains(entry)) {
      throw Error(archive_.path() + ": tensor " + name + " refers to storage " + entry +
                  ", which the archive does not contain (the checkpoint is truncated or corrupt)");
    }
    const uint64_t bytes = archive_.entry_size(entry);
    if (bytes % static_cast<uint64_t>(type.element_size) != 0) {
      throw Error(archive_.path() + ": storage " + entry + " has " + std::to_string(bytes) +
                  " bytes, not a multiple of its element size " + std::to_string(type.element_size));
    }
    torch::Tensor storage =
        torch::empty({static_cast<int64_t>(bytes) / type.element_size}, torch::TensorOptions().dtype(type.dtype));
    const std::string data = archive_.read(entry);
    std::memcpy(storage.data_ptr(), data.data(), data.size());
    return storages_.emplace(key, std::move(storage)).first->second;
  }

  const ZipArchive& archive_;
  std::string prefix_;
  std::map<std::string, torch::Tensor> storages_;
  StateDict tensors_;
};

}  // namespace

StateDict read_torch_archive(const std::string& path) {
  const ZipArchive archive(path);
  const std::vector<std::string> names = archive.names();
  // Every entry sits under one top folder named after the archive ("ViT-B-16/", "archive/").
  const std::string prefix = names.empty() ? std::string() : names.front().substr(0, names.front().find('/') + 1);
  if (prefix.empty() || !archive.contains(prefix + "data.pkl")) {
    throw Error(path + ": zip archive has no <top folder>/data.pkl, so it is not a PyTorch checkpoint "
                "(expected e.g. ViT-B-16/data.pkl)");
  }
  if (archive.contains(prefix + "byteorder") && archive.read(prefix + "byteorder") != "little") {
    throw Error(path + ": tensors were saved big-endian; re-save the checkpoint on a little-endian machine");
  }
  const PickleValuePtr root = read_pickle(archive.read(prefix + "data.pkl"), path + ": " + prefix + "data.pkl");
  ArchiveWalker walker(archive, prefix);
  walker.walk(*root, "", 0);
  StateDict tensors = walker.take();
  if (tensors.empty()) throw Error(path + ": " + prefix + "data.pkl holds no tensors; not a CLIP checkpoint");
  return tensors;
}

}  // namespace pg::worker
