#include "worker/collectives/nccl/nccl_collectives.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#ifdef PG_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include <string>
#include <vector>

#include "common/error.h"

namespace pg::worker {

struct NcclCollectives::Communicator {
  ncclComm_t comm = nullptr;

  // Throws for a failed call or a pending asynchronous error, aborting the communicator first.
  void check(ncclResult_t result, const std::string& operation) {
    ncclResult_t async = ncclSuccess;
    if (result == ncclSuccess && comm != nullptr) ncclCommGetAsyncError(comm, &async);
    const ncclResult_t failure = result != ncclSuccess ? result : async;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    if (failure == ncclInProgress) return;  // a non-blocking communicator still working: not an error
#endif
    if (failure == ncclSuccess) return;
    if (comm != nullptr) ncclCommAbort(comm);
    comm = nullptr;
    throw Error("NCCL " + operation + " failed: " + ncclGetErrorString(failure) +
                " (the group's communicator is aborted; the run fails on every rank of the group)");
  }
};

namespace {

ncclDataType_t nccl_type(const torch::Tensor& tensor, const std::string& operation) {
  if (!tensor.defined() || !tensor.is_cuda()) {
    throw Error("NCCL " + operation + ": the NCCL collectives take CUDA tensors; CPU tensors go through MPI");
  }
  switch (tensor.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kInt64:
      return ncclInt64;
    default:
      throw Error("NCCL " + operation + ": dtype " + std::string(c10::toString(tensor.scalar_type())) +
                  " is not supported");
  }
}

void check_mpi(int code, const std::string& operation) {
  if (code != MPI_SUCCESS) throw Error("MPI " + operation + " failed while setting up or using NCCL");
}

void check_cuda(cudaError_t code, const std::string& operation) {
  if (code != cudaSuccess) throw Error("CUDA " + operation + " failed: " + cudaGetErrorString(code));
}

// The stream LibTorch runs the surrounding kernels on (its current one); without a CUDA LibTorch no
// tensor can be on a GPU, so this backend is never reached and the legacy default stream stands in.
cudaStream_t current_stream() {
#ifdef PG_WITH_CUDA
  return c10::cuda::getCurrentCUDAStream().stream();
#else
  return nullptr;
#endif
}

}  // namespace

NcclCollectives::NcclCollectives(MPI_Comm communicator, int cuda_device) : nccl_(new Communicator) {
  check_mpi(MPI_Comm_dup(communicator, &mpi_), "Comm_dup");
  check_mpi(MPI_Comm_set_errhandler(mpi_, MPI_ERRORS_RETURN), "Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(mpi_, &rank_), "Comm_rank");
  check_mpi(MPI_Comm_size(mpi_, &size_), "Comm_size");
  check_cuda(cudaSetDevice(cuda_device), "cudaSetDevice(" + std::to_string(cuda_device) + ")");
  // Rank 0's id and whether it got one, to every rank: a failure there must fail the others too, not
  // leave them waiting for an id.
  ncclUniqueId id{};
  int created = ncclSuccess;
  if (rank_ == 0) created = ncclGetUniqueId(&id);
  check_mpi(MPI_Bcast(&created, 1, MPI_INT, 0, mpi_), "Bcast of the NCCL id's status");
  if (created != ncclSuccess) {
    throw Error(std::string("NCCL unique id failed on the group's first rank: ") +
                ncclGetErrorString(static_cast<ncclResult_t>(created)));
  }
  check_mpi(MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, mpi_), "Bcast of the NCCL id");
  nccl_->check(ncclCommInitRank(&nccl_->comm, size_, id, rank_), "communicator set-up");
}

NcclCollectives::~NcclCollectives() {
  if (nccl_->comm != nullptr) ncclCommDestroy(nccl_->comm);
  delete nccl_;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && mpi_ != MPI_COMM_NULL) MPI_Comm_free(&mpi_);
}

void NcclCollectives::all_reduce_sum(torch::Tensor& tensor) {
  const ncclDataType_t type = nccl_type(tensor, "all-reduce");
  torch::Tensor contiguous = tensor.contiguous();
  nccl_->check(ncclAllReduce(contiguous.data_ptr(), contiguous.data_ptr(), static_cast<size_t>(contiguous.numel()),
                             type, ncclSum, nccl_->comm, current_stream()),
               "all-reduce");
  if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
}

torch::Tensor NcclCollectives::all_gather(const torch::Tensor& part) {
  const ncclDataType_t type = nccl_type(part, "all-gather");
  if (part.dim() < 1) throw Error("NCCL all-gather: a part must have a first dimension to concatenate along");
  // NCCL gathers equal counts: every part is padded to the largest, then the padding is cut away.
  int64_t rows = part.size(0);
  std::vector<int64_t> all_rows(static_cast<size_t>(size_));
  check_mpi(MPI_Allgather(&rows, 1, MPI_INT64_T, all_rows.data(), 1, MPI_INT64_T, mpi_), "Allgather of row counts");
  int64_t most = 0;
  for (int64_t r : all_rows) most = std::max(most, r);
  std::vector<int64_t> shape = part.sizes().vec();
  shape[0] = most;
  torch::Tensor padded = torch::zeros(shape, part.options());
  padded.narrow(0, 0, rows).copy_(part);
  shape[0] = most * size_;
  torch::Tensor gathered = torch::empty(shape, part.options());
  nccl_->check(ncclAllGather(padded.data_ptr(), gathered.data_ptr(), static_cast<size_t>(padded.numel()), type,
                             nccl_->comm, current_stream()),
               "all-gather");
  std::vector<torch::Tensor> pieces;
  for (int r = 0; r < size_; ++r) pieces.push_back(gathered.narrow(0, r * most, all_rows[static_cast<size_t>(r)]));
  return torch::cat(pieces);
}

void NcclCollectives::broadcast(torch::Tensor& tensor, int root) {
  const ncclDataType_t type = nccl_type(tensor, "broadcast");
  torch::Tensor contiguous = tensor.contiguous();
  nccl_->check(ncclBroadcast(contiguous.data_ptr(), contiguous.data_ptr(), static_cast<size_t>(contiguous.numel()),
                             type, root, nccl_->comm, current_stream()),
               "broadcast");
  if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
}

}  // namespace pg::worker
