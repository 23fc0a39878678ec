// The methods' implementations, by name (the names of sweeps/method_settings.h): an explicit table in
// registry.cpp, not self-registering statics (which a static library drops).
#pragma once

#include <string>
#include <vector>

#include "worker/methods/method.h"

namespace pg::worker {

struct MethodEntry {
  const char* name;
  MethodRunner run;
  PackedMethodRunner run_packed;    // empty: its tasks always train alone
  ShardedMethodRunner run_sharded;  // empty: its tasks always train on one rank
};

const std::vector<MethodEntry>& method_implementations();
// A pg::Error (kind internal) when no implementation has this name.
const MethodEntry& find_method(const std::string& name);

}  // namespace pg::worker
