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
      {"zeroshot", run_zeroshot},
      {"coop", run_coop},
      {"kgcoop", run_kgcoop},
      {"cocoop", run_cocoop},
      {"linear_probe", run_linear_probe},
  };
  return table;
}

const MethodRunner& find_method_runner(const std::string& name) {
  for (const auto& entry : method_implementations()) {
    if (name == entry.name) return entry.run;
  }
  throw Error("no implementation of method '" + name + "' in worker/methods/registry.cpp", ErrorKind::internal);
}

}  // namespace pg::worker
