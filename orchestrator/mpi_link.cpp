#include "orchestrator/mpi_link.h"

#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "common/error.h"

namespace pg::orchestrator {
namespace {

enum Tag { kReady = 1, kResult = 2, kTask = 3, kStop = 4, kInterrupt = 5 };

// Waits for a message matching (source, any tag) up to `timeout_ms` (< 0: forever), sleeping between
// polls: MPI_Recv would spin a core at 100% for the whole wait.
bool wait_for_message(int source, int timeout_ms, MPI_Status& status) {
  const auto start = std::chrono::steady_clock::now();
  int sleep_us = 200;
  while (true) {
    int arrived = 0;
    MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
    if (arrived) return true;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(timeout_ms)) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    sleep_us = std::min(sleep_us * 2, 5000);
  }
}

std::string receive_payload(const MPI_Status& status) {
  int bytes = 0;
  MPI_Get_count(&status, MPI_CHAR, &bytes);
  std::string payload(static_cast<size_t>(bytes), '\0');
  MPI_Recv(payload.data(), bytes, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return payload;
}

void send(int rank, Tag tag, const std::string& payload) {
  MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_CHAR, rank, tag, MPI_COMM_WORLD);
}

}  // namespace

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

MpiSession::MpiSession() {
  if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS) throw Error("MPI_Init failed; check the mpirun command line");
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // The ranks of this node, ordered by world rank (so rank 0, where it runs, is the node's first).
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  int node_size = 1, node_rank = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_rank(node, &node_rank);
  const int is_worker = rank_ == 0 ? 0 : 1;
  std::vector<int> workers(static_cast<size_t>(node_size));
  MPI_Allgather(&is_worker, 1, MPI_INT, workers.data(), 1, MPI_INT, node);
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_SET(0, &mine);
  std::vector<cpu_set_t> sets(static_cast<size_t>(node_size));
  MPI_Allgather(&mine, sizeof mine, MPI_BYTE, sets.data(), sizeof mine, MPI_BYTE, node);
  MPI_Comm_free(&node);
  int sharing = 0;
  for (int i = 0; i < node_size; ++i) {
    if (workers[static_cast<size_t>(i)] && CPU_EQUAL(&sets[static_cast<size_t>(i)], &mine)) ++sharing;
    if (i < node_rank && workers[static_cast<size_t>(i)]) ++local_worker_index_;
  }
  threads_per_worker_ = std::max(1, CPU_COUNT(&mine) / std::max(1, sharing));
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool MpiSession::all_started(const std::string& error) const {
  int mine = error.empty() ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (all == 1) return true;
  if (rank_ == 0) throw Error(error.empty() ? "another rank could not start (see its message above)" : error);
  if (!error.empty()) std::cerr << "promptgrid: rank " << rank_ << ": " << error << std::endl;
  return false;
}

void MpiSession::abort(int code) const { MPI_Abort(MPI_COMM_WORLD, code); std::exit(code); }

void MpiCoordinatorLink::send_task(int worker, const std::string& task) { send(worker + 1, kTask, task); }

void MpiCoordinatorLink::send_interrupt(int worker) { send(worker + 1, kInterrupt, ""); }

void MpiCoordinatorLink::send_stop(int worker) { send(worker + 1, kStop, ""); }

std::optional<WorkerMessage> MpiCoordinatorLink::receive(int timeout_ms) {
  MPI_Status status;
  if (!wait_for_message(MPI_ANY_SOURCE, timeout_ms, status)) return std::nullopt;
  WorkerMessage message;
  message.worker = status.MPI_SOURCE - 1;
  message.kind = status.MPI_TAG == kResult ? WorkerMessage::Kind::result : WorkerMessage::Kind::ready;
  message.payload = receive_payload(status);
  return message;
}

void send_ready_to_coordinator(const std::string& about) { send(0, kReady, about); }

void send_result_to_coordinator(const std::string& record) { send(0, kResult, record); }

std::optional<std::string> receive_task_from_coordinator() {
  while (true) {
    MPI_Status status;
    wait_for_message(0, -1, status);
    std::string payload = receive_payload(status);
    if (status.MPI_TAG == kStop) return std::nullopt;
    // An interrupt that crossed the result of the task it was meant for: nothing is running now.
    if (status.MPI_TAG == kInterrupt) continue;
    return payload;
  }
}

bool interrupt_requested_by_coordinator() {
  int arrived = 0;
  MPI_Status status;
  MPI_Iprobe(0, kInterrupt, MPI_COMM_WORLD, &arrived, &status);
  if (!arrived) return false;
  receive_payload(status);
  return true;
}

}  // namespace pg::orchestrator
