#include "worker/clip/weights_digest.h"

#include "common/strings.h"

namespace pg::worker {

void hash_parameters(ContentHasher& hasher, const torch::nn::Module& module) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const torch::Tensor values = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    hasher.update_field(item.key());
    hasher.update_field(format_shape(values.sizes().vec()));
    hasher.update(values.data_ptr<float>(), static_cast<size_t>(values.numel()) * sizeof(float));
  }
}

}  // namespace pg::worker
