// Which device a sweep's worker rank computes on (without LibTorch in this header: the CLI includes it).
#pragma once

#include <string>

namespace pg::orchestrator {

// `requested` as given to `run --device`; "cuda" without an index becomes "cuda:<i mod GPUs>" for the
// node's i-th worker, so each worker of a node has its own GPU (DESIGN §4). Anything else is returned as is.
std::string device_for_worker(const std::string& requested, int local_worker_index);

}  // namespace pg::orchestrator
