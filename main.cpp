#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "orchestrator/cli.h"

int main(int argc, char** argv) {
  // `run` puts several ranks on one machine's cores. OpenMP's default spin-waiting then burns the cores
  // the other ranks need (a 2-thread CoOp step was 10x slower on 2 loaded cores). The OpenMP runtime
  // reads OMP_WAIT_POLICY when it loads, before main: so set it and start this program again, once.
  if (argc > 1 && std::strcmp(argv[1], "run") == 0 && std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    // The real path, so the process keeps its name (ps, pgrep) rather than becoming "exe".
    char self[4096];
    const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (length > 0) {
      self[length] = '\0';
      ::execv(self, argv);  // on failure, go on with the default policy
    }
  }
  return pg::orchestrator::run_cli(argc, argv);
}
