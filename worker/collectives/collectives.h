// Collective operations over a group of ranks (DESIGN §4): what a class-sharded run needs, behind one
// interface with an MPI backend for CPU tensors (mpi_collectives.h) and an NCCL backend for CUDA
// tensors (nccl_collectives.h). Every rank of the group calls the same operations in the same order.
#pragma once

#include <torch/torch.h>

namespace pg::worker {

class Collectives {
 public:
  virtual ~Collectives() = default;
  // This rank's index in the group, and the group's size.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Elementwise sum over the group, in place: every rank ends with the same sum.
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  // Each rank's `part` [n_r, ...] (n_r may differ between ranks; the other dimensions and the dtype may
  // not) concatenated along dim 0 in rank order, on every rank.
  virtual torch::Tensor all_gather(const torch::Tensor& part) = 0;
  // `tensor` of rank `root`, copied in place into every rank's `tensor` (same shape and dtype).
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
};

}  // namespace pg::worker
