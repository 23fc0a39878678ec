#include "orchestrator/device.h"

#include "common/error.h"
#include "orchestrator/worker_device.h"

namespace pg::orchestrator {

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    throw Error("--device '" + name + "' is not a device; use cpu, cuda or cuda:N");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw Error("--device " + name + ": this promptgrid build or machine has no CUDA device; use --device cpu");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw Error("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA devices");
    }
  } else if (!device.is_cpu()) {
    throw Error("--device '" + name + "' is not supported; use cpu, cuda or cuda:N");
  }
  return device;
}

std::string device_for_worker(const std::string& requested, int local_worker_index) {
  if (requested != "cuda" || !torch::cuda::is_available()) return requested;
  const int count = static_cast<int>(torch::cuda::device_count());
  return count > 0 ? "cuda:" + std::to_string(local_worker_index % count) : requested;
}

}  // namespace pg::orchestrator
