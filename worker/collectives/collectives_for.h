// The collectives backend for a device: MPI for CPU tensors, NCCL for CUDA ones (when this build has
// NCCL; otherwise a pg::Error that says how to get it).
#pragma once

#include <mpi.h>

#include <memory>

#include "worker/collectives/collectives.h"

namespace pg::worker {

// Collective over `communicator` (the group's ranks, e.g. from create_group).
std::unique_ptr<Collectives> collectives_for(MPI_Comm communicator, const torch::Device& device);

}  // namespace pg::worker
