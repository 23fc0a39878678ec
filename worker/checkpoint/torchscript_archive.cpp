#include "worker/checkpoint/torchscript_archive.h"

#include <map>
#include <memory>

#include "common/error.h"
#include "common/strings.h"
#include "worker/checkpoint/pickle_reader.h"
#include "worker/checkpoint/zip_archive.h"

namespace pg::checkpoint {
namespace {

using Kind = PickleValue::Kind;

// Storage classes as torch.save and TorchScript name them ("torch.HalfStorage").
DType storage_dtype(const std::string& global, const std::string& where) {
  static const std::map<std::string, DType> types = {
      {"torch.FloatStorage", DType::float32},   {"torch.HalfStorage", DType::float16},
      {"torch.BFloat16Storage", DType::bfloat16}, {"torch.DoubleStorage", DType::float64},
      {"torch.LongStorage", DType::int64},      {"torch.IntStorage", DType::int32},
      {"torch.ShortStorage", DType::int16},     {"torch.CharStorage", DType::int8},
      {"torch.ByteStorage", DType::uint8},      {"torch.BoolStorage", DType::boolean},
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
    if (depth > kMaxModuleDepth) {
      throw Error(archive_.path() + ": module tree deeper than " + std::to_string(kMaxModuleDepth) + " levels at " +
                  name + " (the pickle is corrupt or crafted)");
    }
    if (++steps_ > kMaxWalkSteps) {
      throw Error(archive_.path() + ": " + prefix_ + "data.pkl takes more than " + std::to_string(kMaxWalkSteps) +
                  " steps to walk (shared objects repeated over and over); the pickle is corrupt or crafted");
    }
    if (value.is_object_of("torch._utils._rebuild_tensor_v2")) {
      add(rebuild_tensor(value, name));
    } else if (value.is_object_of("torch._utils._rebuild_parameter")) {
      const auto& arguments = value.arguments->items;
      if (arguments.empty() || !arguments[0]->is_object_of("torch._utils._rebuild_tensor_v2")) {
        malformed(name, "a parameter without its tensor");
      }
      add(rebuild_tensor(*arguments[0], name));
    } else if (value.is(Kind::object) && value.state != nullptr && value.state->is(Kind::dict)) {
      walk_dict(*value.state, name, depth);  // a TorchScript module: its attributes
    } else if (value.is(Kind::dict)) {
      walk_dict(value, name, depth);  // a torch.save'd state dict
    }
    // Anything else (bools, ints, None, strings) is not a weight.
  }

  std::vector<TensorRecord> take() {
    std::vector<TensorRecord> records;
    records.reserve(tensors_.size());
    for (auto& [name, record] : tensors_) records.push_back(std::move(record));
    return records;
  }

 private:
  void add(TensorRecord record) {
    if (tensors_.size() >= kMaxTensors) {
      throw Error(archive_.path() + ": more than " + std::to_string(kMaxTensors) +
                  " tensors; the checkpoint is corrupt or crafted");
    }
    std::string name = record.name;
    tensors_[name] = std::move(record);
  }

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

  std::vector<int64_t> int_tuple(const PickleValue& value, const std::string& name, const char* field) const {
    if (!value.is(Kind::tuple)) malformed(name, std::string(field) + " is not a tuple");
    if (value.items.size() > kMaxTensorRank) malformed(name, std::string(field) + " has too many dimensions");
    std::vector<int64_t> out;
    for (const PickleValue* item : value.items) {
      if (!item->is(Kind::integer) || item->integer < 0) malformed(name, std::string(field) + " has a bad entry");
      out.push_back(item->integer);
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]),
  // storage = persistent id ('storage', torch.XStorage, key, location, numel).
  TensorRecord rebuild_tensor(const PickleValue& value, const std::string& name) {
    const auto& arguments = value.arguments->items;
    if (arguments.size() < 4 || !arguments[0]->is(Kind::persistent_id) || arguments[0]->items.empty() ||
        !arguments[1]->is(Kind::integer)) {
      malformed(name, "unexpected _rebuild_tensor_v2 arguments");
    }
    const PickleValue& id = *arguments[0]->items[0];
    if (!id.is(Kind::tuple) || id.items.size() < 3 || !id.items[1]->is(Kind::global) ||
        !id.items[2]->is(Kind::string)) {
      malformed(name, "unexpected storage id");
    }
    const std::string where = archive_.path() + ": tensor " + name;
    TensorRecord record;
    record.name = name;
    record.dtype = storage_dtype(id.items[1]->text, where);
    record.storage = read_storage(id.items[2]->text, record.dtype, name);
    record.offset = arguments[1]->integer;
    record.shape = int_tuple(*arguments[2], name, "size");
    record.strides = int_tuple(*arguments[3], name, "stride");
    check_tensor_record(record, where);
    return record;
  }

  std::shared_ptr<const std::string> read_storage(const std::string& key, DType dtype, const std::string& name) {
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second.dtype != dtype) {
        throw Error(archive_.path() + ": storage " + prefix_ + "data/" + key + " is read as both " +
                    dtype_name(cached->second.dtype) + " and " + dtype_name(dtype) + " (tensor " + name +
                    "); the checkpoint is corrupt");
      }
      return cached->second.bytes;
    }
    const std::string entry = prefix_ + "data/" + key;
    if (!archive_.contains(entry)) {
      throw Error(archive_.path() + ": tensor " + name + " refers to storage " + entry +
                  ", which the archive does not contain (the checkpoint is truncated or corrupt)");
    }
    const uint64_t bytes = archive_.entry_size(entry);
    if (bytes % static_cast<uint64_t>(element_size(dtype)) != 0) {
      throw Error(archive_.path() + ": storage " + entry + " has " + std::to_string(bytes) +
                  " bytes, not a multiple of its element size " + std::to_string(element_size(dtype)));
    }
    auto storage = std::make_shared<const std::string>(archive_.read(entry));
    storages_.emplace(key, Storage{dtype, storage});
    return storage;
  }

  struct Storage {
    DType dtype;
    std::shared_ptr<const std::string> bytes;
  };

  const ZipArchive& archive_;
  std::string prefix_;
  int64_t steps_ = 0;
  std::map<std::string, Storage> storages_;
  std::map<std::string, TensorRecord> tensors_;
};

}  // namespace

std::vector<TensorRecord> read_torch_archive(const std::string& path) {
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
  const Pickle pickle = read_pickle(archive.read(prefix + "data.pkl"), path + ": " + prefix + "data.pkl");
  ArchiveWalker walker(archive, prefix);
  walker.walk(pickle.root(), "", 0);
  std::vector<TensorRecord> tensors = walker.take();
  if (tensors.empty()) throw Error(path + ": " + prefix + "data.pkl holds no tensors; not a CLIP checkpoint");
  return tensors;
}

}  // namespace pg::checkpoint
