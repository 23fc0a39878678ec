#include "worker/collectives/collectives_for.h"

#include "common/error.h"
#include "worker/collectives/mpi_collectives.h"
#ifdef PG_WITH_NCCL
#include "worker/collectives/nccl/nccl_collectives.h"
#endif

namespace pg::worker {

std::unique_ptr<Collectives> collectives_for(MPI_Comm communicator, const torch::Device& device) {
  if (device.is_cpu()) return std::make_unique<MpiCollectives>(communicator);
  if (device.is_cuda()) {
#ifdef PG_WITH_NCCL
    return std::make_unique<NcclCollectives>(communicator, device.has_index() ? device.index() : 0);
#else
    throw Error("collectives on " + device.str() + " need NCCL, and this build has none: build against a CUDA "
                "LibTorch with NCCL found (/usr/local/cuda, or -DNCCL_ROOT=...)");
#endif
  }
  throw Error("collectives: no backend for device " + device.str() + " (cpu: MPI, cuda: NCCL)");
}

}  // namespace pg::worker
