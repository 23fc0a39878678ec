#include "worker/collectives/mpi_collectives.h"

#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

void check(int code, const std::string& operation) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error("MPI " + operation + " failed: " + std::string(text, static_cast<size_t>(length)));
}

MPI_Datatype mpi_type(const torch::Tensor& tensor, const std::string& operation) {
  if (!tensor.defined() || !tensor.device().is_cpu()) {
    throw Error("MPI " + operation + ": the MPI collectives take CPU tensors; CUDA tensors go through NCCL");
  }
  switch (tensor.scalar_type()) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt64:
      return MPI_INT64_T;
    default:
      throw Error("MPI " + operation + ": dtype " + std::string(c10::toString(tensor.scalar_type())) +
                  " is not supported (float32, float64, int64)");
  }
}

int element_count(int64_t count, const std::string& operation) {
  if (count > std::numeric_limits<int>::max()) {
    throw Error("MPI " + operation + ": " + std::to_string(count) + " elements are more than one MPI call carries");
  }
  return static_cast<int>(count);
}

}  // namespace

MpiCollectives::MpiCollectives(MPI_Comm communicator) {
  check(MPI_Comm_dup(communicator, &communicator_), "Comm_dup");
  check(MPI_Comm_set_errhandler(communicator_, MPI_ERRORS_RETURN), "Comm_set_errhandler");
  check(MPI_Comm_rank(communicator_, &rank_), "Comm_rank");
  check(MPI_Comm_size(communicator_, &size_), "Comm_size");
}

MpiCollectives::~MpiCollectives() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && communicator_ != MPI_COMM_NULL) MPI_Comm_free(&communicator_);
}

void MpiCollectives::all_reduce_sum(torch::Tensor& tensor) {
  const MPI_Datatype type = mpi_type(tensor, "all-reduce");
  torch::Tensor contiguous = tensor.contiguous();
  check(MPI_Allreduce(MPI_IN_PLACE, contiguous.data_ptr(), element_count(contiguous.numel(), "all-reduce"), type,
                      MPI_SUM, communicator_),
        "all-reduce");
  if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
}

torch::Tensor MpiCollectives::all_gather(const torch::Tensor& part) {
  const MPI_Datatype type = mpi_type(part, "all-gather");
  if (part.dim() < 1) throw Error("MPI all-gather: a part must have a first dimension to concatenate along");
  const torch::Tensor contiguous = part.contiguous();
  // Rows of every rank, then elements.
  int64_t rows = part.size(0);
  std::vector<int64_t> all_rows(static_cast<size_t>(size_));
  check(MPI_Allgather(&rows, 1, MPI_INT64_T, all_rows.data(), 1, MPI_INT64_T, communicator_), "all-gather");
  int64_t row_elements = 1;
  for (int64_t d = 1; d < part.dim(); ++d) row_elements *= part.size(d);
  std::vector<int> counts(static_cast<size_t>(size_));
  std::vector<int> offsets(static_cast<size_t>(size_));
  int64_t total_rows = 0;
  int64_t offset = 0;
  for (int r = 0; r < size_; ++r) {
    const int64_t elements = all_rows[static_cast<size_t>(r)] * row_elements;
    counts[static_cast<size_t>(r)] = element_count(elements, "all-gather");
    offsets[static_cast<size_t>(r)] = element_count(offset, "all-gather");
    offset += elements;
    total_rows += all_rows[static_cast<size_t>(r)];
  }
  std::vector<int64_t> shape = part.sizes().vec();
  shape[0] = total_rows;
  torch::Tensor gathered = torch::empty(shape, part.options());
  check(MPI_Allgatherv(contiguous.data_ptr(), element_count(contiguous.numel(), "all-gather"), type,
                       gathered.data_ptr(), counts.data(), offsets.data(), type, communicator_),
        "all-gather");
  return gathered;
}

void MpiCollectives::broadcast(torch::Tensor& tensor, int root) {
  const MPI_Datatype type = mpi_type(tensor, "broadcast");
  torch::Tensor contiguous = tensor.contiguous();
  check(MPI_Bcast(contiguous.data_ptr(), element_count(contiguous.numel(), "broadcast"), type, root, communicator_),
        "broadcast");
  if (!contiguous.is_same(tensor)) tensor.copy_(contiguous);
}

MPI_Comm create_group(MPI_Comm parent, const std::vector<int>& ranks, int tag) {
  MPI_Group all = MPI_GROUP_NULL, members = MPI_GROUP_NULL;
  check(MPI_Comm_group(parent, &all), "Comm_group");
  const int included = MPI_Group_incl(all, static_cast<int>(ranks.size()), ranks.data(), &members);
  MPI_Group_free(&all);
  check(included, "Group_incl");
  MPI_Comm communicator = MPI_COMM_NULL;
  const int created = MPI_Comm_create_group(parent, members, tag, &communicator);
  MPI_Group_free(&members);
  check(created, "Comm_create_group");
  return communicator;
}

}  // namespace pg::worker
