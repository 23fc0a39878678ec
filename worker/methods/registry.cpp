#include "worker/methods/registry.h"

#include "common/error.h"
#include "worker/methods/cocoop/cocoop.h"
#include "worker/methods/coop/coop_method.h"
#include "worker/methods/kgcoop/kgcoop.h"
#include "worker/methods/linear_probe/linear_probe.h"
#include "worker/methods/zeroshot/zeroshot_method.h"

namespace pg::worker {

const std::vector<MethodEntry>& method_implementations() {
  static const std::vector<MethodEntry> table = {
      {"zeroshot", run_zeroshot, nullptr, nullptr},
      {"coop", run_coop, run_coop_packed, run_coop_sharded},
      {"kgcoop", run_kgcoop, nullptr, nullptr},
      {"cocoop", run_cocoop, nullptr, nullptr},
      {"linear_probe", run_linear_probe, nullptr, nullptr},
  };
  return table;
}

const MethodEntry& find_method(const std::string& name) {
  for (const auto& entry : method_implementations()) {
    if (name == entry.name) return entry;
  }
  throw Error("no implementation of method '" + name + "' in worker/methods/registry.cpp", ErrorKind::internal);
}

}  // namespace pg::worker
