// A restricted unpickler for the pickles inside PyTorch checkpoints (TorchScript archives' data.pkl,
// torch.save files). It builds a plain value tree and never executes anything: a "global" is just a
// name, and objects built by NEWOBJ/REDUCE/BUILD are records of (callable name, arguments, state).
// Only the opcodes those pickles use (protocols 2-5) and an allow-list of globals (tensor rebuilding,
// storage types, OrderedDict, TorchScript module classes) are accepted; anything else is a pg::Error
// naming the source and the opcode or global, so a crafted checkpoint cannot smuggle code in.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace pg::checkpoint {

// A value of the tree. Values point at each other with plain pointers; every value is owned by the
// Pickle that read it, so freeing a tree is one flat loop whatever its shape (a deeply nested or
// cyclic pickle cannot overflow the stack or leak), and shared objects (memo gets) stay shared.
struct PickleValue {
  enum class Kind { none, boolean, integer, floating, string, bytes, tuple, list, dict, global, object, persistent_id };

  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  // string and bytes: the contents; global: "module.name" (e.g. "torch._utils._rebuild_tensor_v2").
  std::string text;
  // tuple and list: the elements; persistent_id: one element, the id (a tuple for PyTorch).
  std::vector<const PickleValue*> items;
  // dict (and OrderedDict): the entries in insertion order.
  std::vector<std::pair<const PickleValue*, const PickleValue*>> entries;
  // object: `callable` is the global it was built from, `arguments` its argument tuple.
  const PickleValue* callable = nullptr;
  const PickleValue* arguments = nullptr;
  // object or dict: what BUILD set (a TorchScript module's attribute dict); null when none.
  const PickleValue* state = nullptr;

  bool is(Kind k) const { return kind == k; }
  // True for an object built by calling the global `name`.
  bool is_object_of(const std::string& name) const;
};

// The values of one pickle and its root. Movable, not copyable (values point into it).
class Pickle {
 public:
  const PickleValue& root() const { return *root_; }

 private:
  friend class Unpickler;
  std::deque<PickleValue> values_;  // a deque: growing it never moves a value
  const PickleValue* root_ = nullptr;
};

// At most this many values (one per opcode that makes one); a checkpoint's data.pkl has a few
// thousand. Bounds the memory a crafted pickle can make the reader allocate.
constexpr size_t kMaxPickleValues = 4'000'000;

// Parses `bytes`; `source` names where they came from (e.g. "ViT-B-16.pt: ViT-B-16/data.pkl") in errors.
Pickle read_pickle(const std::string& bytes, const std::string& source);

}  // namespace pg::checkpoint
