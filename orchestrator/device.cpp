#include "orchestrator/device.h"

#include <cstdlib>

#include "common/error.h"
#include "common/strings.h"
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

std::string bind_to_one_gpu(const std::string& requested, int local_worker_index) {
  const char* listed = std::getenv("CUDA_VISIBLE_DEVICES");
  if (listed == nullptr || (requested != "cuda" && requested != "cpu")) return "";
  std::vector<std::string> gpus;
  for (const std::string& gpu : split(listed, ',')) {
    if (!gpu.empty()) gpus.push_back(gpu);
  }
  if (gpus.size() < 2) return "";
  if (local_worker_index >= static_cast<int>(gpus.size())) {
    if (requested == "cpu") return "";
    throw Error("this node's worker rank " + std::to_string(local_worker_index + 1) + " has no GPU of its own: " +
                "CUDA_VISIBLE_DEVICES lists " + std::to_string(gpus.size()) + " (" + listed +
                "); start one worker rank per GPU (plus rank 0), as `promptgrid slurm submit` does");
  }
  const std::string mine = gpus[static_cast<size_t>(local_worker_index)];
  ::setenv("CUDA_VISIBLE_DEVICES", mine.c_str(), 1);
  return mine;
}

}  // namespace pg::orchestrator
