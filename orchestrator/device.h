// The device a worker computes on, from its name on the command line.
#pragma once

#include <torch/torch.h>

#include <string>

namespace pg::orchestrator {

// Parses "cpu", "cuda", "cuda:N"; CUDA requested without a CUDA build or device is a pg::Error.
torch::Device parse_device(const std::string& name);

}  // namespace pg::orchestrator
