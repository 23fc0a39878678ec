// Which device a sweep's worker rank computes on (without LibTorch in this header: the CLI includes it).
#pragma once

#include <string>

namespace pg::orchestrator {

// `requested` as given to `run --device`; "cuda" without an index becomes "cuda:<i mod GPUs>" for the
// node's i-th worker, so each worker of a node has its own GPU (DESIGN §4). Anything else is returned as is.
std::string device_for_worker(const std::string& requested, int local_worker_index);

// Binds the node's i-th worker to one GPU of those its launcher gave the node (Slurm's gres sets
// CUDA_VISIBLE_DEVICES to the allocated GPUs for every task): keeps the i-th entry only, so the rank
// sees exactly one GPU, as cuda:0. Only for `requested` "cuda" or "cpu" and a list of 2 or more; must
// run before CUDA starts. A pg::Error when a cuda worker has no GPU of its own (more worker ranks on the
// node than GPUs). Returns the GPU kept, or "" when it changed nothing.
std::string bind_to_one_gpu(const std::string& requested, int local_worker_index);

}  // namespace pg::orchestrator
