#include "sweeps/split_file.h"

#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace pg::sweeps {
namespace {

const char* const kSplitNames[] = {"train", "val", "test"};
const char* const kEntryShape = "each entry must be [relpath (string), label (integer), classname (string)]";

std::string json_type(const nlohmann::json& value) { return value.type_name(); }

SplitItem read_entry(const std::string& path, const std::string& split, size_t index, const nlohmann::json& entry) {
  const std::string where = path + ": " + split + "[" + std::to_string(index) + "]";
  if (!entry.is_array() || entry.size() != 3) {
    const std::string found = entry.is_array() ? "an array of " + std::to_string(entry.size()) + " items" : json_type(entry);
    throw Error(where + " is " + found + "; " + kEntryShape);
  }
  if (!entry[0].is_string()) {
    throw Error(where + " field 0 (relpath) is " + json_type(entry[0]) + ", expected a string; " + kEntryShape);
  }
  if (!entry[1].is_number_integer()) {
    throw Error(where + " field 1 (label) is " + json_type(entry[1]) + ", expected an integer; " + kEntryShape);
  }
  const int64_t label = entry[1].get<int64_t>();
  if (label < 0 || label > std::numeric_limits<int>::max()) {
    throw Error(where + " field 1 (label) is " + std::to_string(label) + "; labels must be 0..n-1");
  }
  if (!entry[2].is_string()) {
    throw Error(where + " field 2 (classname) is " + json_type(entry[2]) + ", expected a string; " + kEntryShape);
  }
  return SplitItem{entry[0].get<std::string>(), static_cast<int>(label), entry[2].get<std::string>()};
}

}  // namespace

const std::vector<SplitItem>& SplitFile::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw Error(path + ": no split named '" + name + "'; use train, val or test");
}

SplitFile read_split_file(const std::string& path) {
  const nlohmann::json root = read_json_file(path, "a CoOp split file (split_zhou_<Name>.json)");
  if (!root.is_object()) {
    throw Error(path + ": the top level is " + json_type(root) +
                ", expected an object {\"train\": [...], \"val\": [...], \"test\": [...]} (a CoOp split file)");
  }
  SplitFile result;
  result.path = path;
  for (const char* name : kSplitNames) {
    const auto found = root.find(name);
    if (found == root.end()) {
      throw Error(path + ": split '" + name + "' is missing; a split file has train, val and test lists");
    }
    if (!found->is_array()) {
      throw Error(path + ": split '" + name + "' is " + json_type(*found) + ", expected a list of entries");
    }
    std::vector<SplitItem>& items = name == std::string("train") ? result.train
                                    : name == std::string("val") ? result.val
                                                                 : result.test;
    items.reserve(found->size());
    for (size_t i = 0; i < found->size(); ++i) items.push_back(read_entry(path, name, i, (*found)[i]));
  }
  return result;
}

std::vector<std::string> classnames_by_label(const SplitFile& split_file) {
  std::map<int, std::string> names;
  for (const char* split : kSplitNames) {
    const std::vector<SplitItem>& items = split_file.split(split);
    for (size_t i = 0; i < items.size(); ++i) {
      const auto [it, inserted] = names.emplace(items[i].label, items[i].classname);
      if (!inserted && it->second != items[i].classname) {
        throw Error(split_file.path + ": label " + std::to_string(items[i].label) + " is named both '" + it->second +
                    "' and '" + items[i].classname + "' (" + split + "[" + std::to_string(i) +
                    "]); each label needs exactly one class name");
      }
    }
  }
  std::vector<std::string> result;
  result.reserve(names.size());
  for (const auto& [label, name] : names) {
    if (label != static_cast<int>(result.size())) {
      throw Error(split_file.path + ": label " + std::to_string(result.size()) + " never occurs but label " +
                  std::to_string(label) + " does; labels must be 0..n-1 with no gaps");
    }
    result.push_back(name);
  }
  return result;
}

}  // namespace pg::sweeps
