// The NCCL backend of Collectives (collectives.h), for CUDA tensors: float32, float64, float16,
// bfloat16 and int64. The communicator comes from an ncclUniqueId that the group's rank 0 creates and
// MPI broadcasts over the group's communicator (one per group: split_group in mpi_collectives.h).
// Operations run on LibTorch's current stream, so they are ordered with the kernels around them
// without a host synchronisation. Every NCCL result is
// checked, and asynchronous errors (a peer that died) are asked for after each operation: on any
// failure the communicator is aborted (the group's other ranks then fail too, instead of hanging) and
// a pg::Error names the operation.
//
// Built into promptgrid when the Torch in use has CUDA (PG_WITH_CUDA) and NCCL is found; otherwise
// compiled on its own, when NCCL's headers are there, so that it keeps compiling (CMakeLists.txt).
#pragma once

#include <mpi.h>

#include "worker/collectives/collectives.h"

namespace pg::worker {

class NcclCollectives : public Collectives {
 public:
  // Collective over `communicator`; binds this process to CUDA device `cuda_device` first.
  NcclCollectives(MPI_Comm communicator, int cuda_device);
  ~NcclCollectives() override;
  NcclCollectives(const NcclCollectives&) = delete;
  NcclCollectives& operator=(const NcclCollectives&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(torch::Tensor& tensor) override;
  torch::Tensor all_gather(const torch::Tensor& part) override;
  void broadcast(torch::Tensor& tensor, int root) override;

 private:
  struct Communicator;  // ncclComm_t, kept out of this header
  Communicator* nccl_ = nullptr;
  MPI_Comm mpi_ = MPI_COMM_NULL;  // the group's, for the row counts of an uneven all-gather
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace pg::worker
