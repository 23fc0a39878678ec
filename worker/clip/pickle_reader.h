// A restricted unpickler for the pickles inside PyTorch checkpoints (TorchScript archives' data.pkl,
// torch.save files). It builds a plain value tree and never executes anything: a "global" is just a
// name, and objects built by NEWOBJ/REDUCE/BUILD are records of (callable name, arguments, state).
// Only the opcodes those pickles use (protocols 2-5) and an allow-list of globals (tensor rebuilding,
// storage types, OrderedDict, TorchScript module classes) are accepted; anything else is a pg::Error
// naming the source and the opcode or global, so a crafted checkpoint cannot smuggle code in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pg::worker {

struct PickleValue;
using PickleValuePtr = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind { none, boolean, integer, floating, string, bytes, tuple, list, dict, global, object, persistent_id };

  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  // string and bytes: the contents; global: "module.name" (e.g. "torch._utils._rebuild_tensor_v2").
  std::string text;
  // tuple and list: the elements; persistent_id: one element, the id (a tuple for PyTorch).
  std::vector<PickleValuePtr> items;
  // dict (and OrderedDict): the entries in insertion order.
  std::vector<std::pair<PickleValuePtr, PickleValuePtr>> entries;
  // object: `callable` is the global it was built from, `arguments` its argument tuple.
  PickleValuePtr callable;
  PickleValuePtr arguments;
  // object or dict: what BUILD set (a TorchScript module's attribute dict); null when none.
  PickleValuePtr state;

  bool is(Kind k) const { return kind == k; }
  // True for an object built by calling the global `name`.
  bool is_object_of(const std::string& name) const;
};

// Parses `bytes`; `source` names where they came from (e.g. "ViT-B-16.pt: ViT-B-16/data.pkl") in errors.
PickleValuePtr read_pickle(const std::string& bytes, const std::string& source);

}  // namespace pg::worker
