#include "worker/checkpoint/pickle_reader.h"

#include <cstring>
#include <iomanip>
#include <sstream>
#include <unordered_map>

#include "common/error.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace pg::checkpoint {
namespace {

using Kind = PickleValue::Kind;

// Opcodes (CPython Lib/pickle.py) that PyTorch's pickles use.
enum Opcode : unsigned char {
  kMark = '(',
  kStop = '.',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kMemoize = 0x94,
  kStackGlobal = 0x93,
  kFrame = 0x95,
};

// The globals a weights-only reader needs; everything else (os.system, builtins.eval, ...) is refused.
bool is_allowed_global(const std::string& module, const std::string& name) {
  if (module == "torch._utils") return name == "_rebuild_tensor_v2" || name == "_rebuild_parameter";
  if (module == "torch") return ends_with(name, "Storage") && name.find('.') == std::string::npos;
  if (module == "collections") return name == "OrderedDict";
  // TorchScript's typed-container helpers (int lists and the like among module attributes); they stay
  // inert names like every global here, and the archive walker skips non-tensor attributes.
  if (module == "torch.jit._pickle") return starts_with(name, "build_") || name == "restore_type_tag";
  return starts_with(module, "__torch__.") || module == "__torch__";  // TorchScript module classes
}

}  // namespace

class Unpickler {
 public:
  Unpickler(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  Pickle run() {
    while (true) {
      const size_t opcode_position = position_;
      const auto opcode = static_cast<unsigned char>(take(1)[0]);
      opcode_position_ = opcode_position;
      switch (opcode) {
        case kProto: {
          const auto protocol = static_cast<unsigned char>(take(1)[0]);
          if (protocol < 2 || protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " (2-5 supported)");
          break;
        }
        case kFrame:
          take(8);  // frame length: a hint for buffering, the opcodes follow inline
          break;
        case kGlobal: {
          const std::string module = take_line();
          const std::string name = take_line();
          push(global(module, name));
          break;
        }
        case kStackGlobal: {
          const PickleValue* name = pop();
          const PickleValue* module = pop();
          if (!module->is(Kind::string) || !name->is(Kind::string)) fail("STACK_GLOBAL without two strings");
          push(global(module->text, name->text));
          break;
        }
        case kMemoize:
          memo_[static_cast<uint32_t>(memo_.size())] = top();
          break;
        case kBinPut:
          memo_[static_cast<uint32_t>(take_uint(1))] = top();
          break;
        case kLongBinPut:
          memo_[static_cast<uint32_t>(take_uint(4))] = top();
          break;
        case kBinGet:
          push(memo_get(take_uint(1)));
          break;
        case kLongBinGet:
          push(memo_get(take_uint(4)));
          break;
        case kMark:
          marks_.push_back(stack_.size());
          break;
        case kEmptyTuple:
          push(make(Kind::tuple));
          break;
        case kTuple: {
          auto tuple = make(Kind::tuple);
          const std::vector<PickleValue*> items = pop_to_mark();
          tuple->items.assign(items.begin(), items.end());
          push(tuple);
          break;
        }
        case kTuple1:
        case kTuple2:
        case kTuple3: {
          const size_t count = opcode - kTuple1 + 1;
          if (stack_.size() < count + floor()) fail("stack underflow");
          auto tuple = make(Kind::tuple);
          tuple->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(count), stack_.end());
          stack_.resize(stack_.size() - count);
          push(tuple);
          break;
        }
        case kEmptyList:
          push(make(Kind::list));
          break;
        case kAppend: {
          const PickleValue* item = pop();
          list_top()->items.push_back(item);
          break;
        }
        case kAppends: {
          const std::vector<PickleValue*> items = pop_to_mark();
          auto& list = list_top()->items;
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case kEmptyDict:
          push(make(Kind::dict));
          break;
        case kSetItem: {
          const PickleValue* value = pop();
          const PickleValue* key = pop();
          dict_top()->entries.emplace_back(key, value);
          break;
        }
        case kSetItems: {
          std::vector<PickleValue*> items = pop_to_mark();
          if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
          auto& entries = dict_top()->entries;
          for (size_t i = 0; i < items.size(); i += 2) entries.emplace_back(items[i], items[i + 1]);
          break;
        }
        case kBinInt:
          push_int(static_cast<int32_t>(take_uint(4)));
          break;
        case kBinInt1:
          push_int(static_cast<int64_t>(take_uint(1)));
          break;
        case kBinInt2:
          push_int(static_cast<int64_t>(take_uint(2)));
          break;
        case kLong1: {
          const size_t length = take_uint(1);
          if (length > 8) fail("LONG1 integer of " + std::to_string(length) + " bytes (at most 8 supported)");
          uint64_t value = take_uint(length);
          if (length > 0 && length < 8 && (value >> (8 * length - 1)) != 0) value |= ~uint64_t{0} << (8 * length);
          push_int(static_cast<int64_t>(value));
          break;
        }
        case kBinFloat: {
          const std::string raw = take(8);
          uint64_t bits = 0;
          for (unsigned char c : raw) bits = (bits << 8) | c;  // big-endian
          auto value = make(Kind::floating);
          std::memcpy(&value->floating, &bits, sizeof bits);
          push(value);
          break;
        }
        case kBinUnicode:
          push_text(Kind::string, take_uint(4));
          break;
        case kShortBinUnicode:
          push_text(Kind::string, take_uint(1));
          break;
        case kBinUnicode8:
          push_text(Kind::string, take_uint(8));
          break;
        case kShortBinBytes:
          push_text(Kind::bytes, take_uint(1));
          break;
        case kBinBytes:
          push_text(Kind::bytes, take_uint(4));
          break;
        case kNone:
          push(make(Kind::none));
          break;
        case kNewTrue:
        case kNewFalse: {
          auto value = make(Kind::boolean);
          value->boolean = opcode == kNewTrue;
          push(value);
          break;
        }
        case kNewObj:
        case kReduce: {
          const PickleValue* arguments = pop();
          const PickleValue* callable = pop();
          if (!callable->is(Kind::global)) fail("NEWOBJ/REDUCE on something that is not a global");
          if (!arguments->is(Kind::tuple)) fail("NEWOBJ/REDUCE arguments are not a tuple");
          // OrderedDict() is the one call whose result later opcodes (SETITEMS) treat as a container.
          if (callable->text == "collections.OrderedDict" && arguments->items.empty()) {
            push(make(Kind::dict));
            break;
          }
          auto object = make(Kind::object);
          object->callable = callable;
          object->arguments = arguments;
          push(object);
          break;
        }
        case kBuild: {
          const PickleValue* state = pop();
          PickleValue* target = top();
          if (!target->is(Kind::object) && !target->is(Kind::dict)) fail("BUILD on something that is not an object");
          target->state = state;
          break;
        }
        case kBinPersId: {
          auto id = make(Kind::persistent_id);
          id->items.push_back(pop());
          push(id);
          break;
        }
        case kStop: {
          pickle_.root_ = pop();
          if (!stack_.empty() || !marks_.empty()) fail("STOP with values left on the stack");
          return std::move(pickle_);
        }
        default: {
          std::ostringstream description;
          description << "opcode 0x" << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(opcode);
          if (opcode >= 0x20 && opcode < 0x7f) description << " ('" << static_cast<char>(opcode) << "')";
          throw Error(source_ + ": unsupported pickle " + description.str() + " at byte " +
                      std::to_string(opcode_position) +
                      "; only the opcodes of PyTorch checkpoints are read (is this a CLIP checkpoint?)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ": malformed pickle at byte " + std::to_string(opcode_position_) + ": " + what +
                " (the checkpoint is corrupt or not a PyTorch file)");
  }

  std::string take(size_t count) {
    if (count > bytes_.size() - position_) {
      throw Error(source_ + ": pickle ends early at byte " + std::to_string(bytes_.size()) +
                  " (the checkpoint is truncated or corrupt)");
    }
    std::string out = bytes_.substr(position_, count);
    position_ += count;
    return out;
  }

  uint64_t take_uint(size_t width) {
    const std::string raw = take(width);
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(raw[i]);
    return value;
  }

  std::string take_line() {
    const size_t end = bytes_.find('\n', position_);
    if (end == std::string::npos) take(bytes_.size() - position_ + 1);  // throws "ends early"
    std::string line = bytes_.substr(position_, end - position_);
    position_ = end + 1;
    return line;
  }

  PickleValue* make(Kind kind) {
    if (pickle_.values_.size() >= kMaxPickleValues) {
      fail("more than " + std::to_string(kMaxPickleValues) + " values, far more than any checkpoint holds");
    }
    PickleValue& value = pickle_.values_.emplace_back();
    value.kind = kind;
    return &value;
  }

  PickleValue* global(const std::string& module, const std::string& name) {
    if (!is_allowed_global(module, name)) {
      throw Error(source_ + ": pickle refers to global " + printable(module + "." + name) +
                  ", which a weights-only reader does not allow (only tensors, storages, OrderedDict and "
                  "TorchScript modules); the file may be malicious or not a CLIP checkpoint");
    }
    auto value = make(Kind::global);
    value->text = module + "." + name;
    return value;
  }

  void push(PickleValue* value) { stack_.push_back(value); }

  void push_int(int64_t integer) {
    auto value = make(Kind::integer);
    value->integer = integer;
    push(value);
  }

  void push_text(Kind kind, uint64_t length) {
    auto value = make(kind);
    value->text = take(length);
    push(value);
  }

  // Values above the innermost MARK are not visible to pops that are not MARK-delimited.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    PickleValue* value = stack_.back();
    stack_.pop_back();
    return value;
  }

  PickleValue* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }

  std::vector<PickleValue*> pop_to_mark() {
    if (marks_.empty()) fail("no MARK before a MARK-delimited opcode");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  PickleValue* list_top() {
    PickleValue* list = top();
    if (!list->is(Kind::list)) fail("APPEND to something that is not a list");
    return list;
  }

  PickleValue* dict_top() {
    PickleValue* dict = top();
    if (!dict->is(Kind::dict)) fail("SETITEM on something that is not a dict");
    return dict;
  }

  PickleValue* memo_get(uint64_t index) {
    const auto found = memo_.find(static_cast<uint32_t>(index));
    if (found == memo_.end()) fail("memo entry " + std::to_string(index) + " read before it was written");
    return found->second;
  }

  const std::string& bytes_;
  const std::string& source_;
  size_t position_ = 0;
  size_t opcode_position_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, PickleValue*> memo_;
  Pickle pickle_;
};

bool PickleValue::is_object_of(const std::string& name) const {
  return kind == Kind::object && callable && callable->text == name;
}

Pickle read_pickle(const std::string& bytes, const std::string& source) {
  return Unpickler(bytes, source).run();
}

}  // namespace pg::checkpoint
