// The MPI backend of Collectives (collectives.h), for CPU tensors: float32, float64 and int64, any
// shape (sent contiguous). MPI errors are returned, not fatal, and become a pg::Error naming the
// operation.
#pragma once

#include <mpi.h>

#include <memory>
#include <vector>

#include "worker/collectives/collectives.h"

namespace pg::worker {

class MpiCollectives : public Collectives {
 public:
  // The group is the ranks of `communicator` (duplicated: the group's messages never mix with others').
  explicit MpiCollectives(MPI_Comm communicator);
  ~MpiCollectives() override;
  MpiCollectives(const MpiCollectives&) = delete;
  MpiCollectives& operator=(const MpiCollectives&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(torch::Tensor& tensor) override;
  torch::Tensor all_gather(const torch::Tensor& part) override;
  void broadcast(torch::Tensor& tensor, int root) override;

 private:
  MPI_Comm communicator_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// A communicator of `ranks` of `parent` (group rank i is ranks[i]), created by those ranks alone while
// the others go on with their own work: what the workers that split one task use. Every member passes
// the same ranks and `tag` (which tells apart groups being created at once). A backend built on it
// keeps its own duplicate, so the caller frees it (MPI_Comm_free) once the backend exists.
MPI_Comm create_group(MPI_Comm parent, const std::vector<int>& ranks, int tag);

}  // namespace pg::worker
