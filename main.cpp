#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <string>

#include "common/system_info.h"
#include "orchestrator/cli.h"

int main(int argc, char** argv) {
  // `run` puts several ranks on one machine's cores. OpenMP's default spin-waiting then burns the cores
  // the other ranks need (a 2-thread CoOp step was 10x slower on 2 loaded cores). The OpenMP runtime
  // reads OMP_WAIT_POLICY when it loads, before main: so set it and start this program again, once.
  if (argc > 1 && std::strcmp(argv[1], "run") == 0 && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    // The real path, so the process keeps its name (ps, pgrep) rather than becoming "exe".
    const std::string self = pg::executable_path();
    if (!self.empty()) ::execv(self.c_str(), argv);  // on failure, go on with the default policy
  }
  return pg::orchestrator::run_cli(argc, argv);
}
