#include "worker/clip/modified_resnet.h"

#include <cmath>
#include <set>
#include <vector>

#include "common/error.h"
#include "common/strings.h"

namespace pg::worker {
namespace {

constexpr double kBatchNormEps = 1e-5;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

}  // namespace

ModifiedResNetOptions ModifiedResNetOptions::infer_from(const StateDict& state_dict, const std::string& source) {
  std::vector<std::string> problems;
  auto tensor = [&](const std::string& key, int64_t dims) {
    return find_tensor_of_rank(state_dict, key, dims, problems);
  };
  ModifiedResNetOptions options;
  for (int b = 0; b < 4; ++b) {
    const std::string prefix = "visual.layer" + std::to_string(b + 1) + ".";
    std::set<int64_t> blocks;
    for (const auto& [key, value] : state_dict) {
      if (!starts_with(key, prefix)) continue;
      const std::string index = key.substr(prefix.size(), key.find('.', prefix.size()) - prefix.size());
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) continue;
      blocks.insert(std::stoll(index));
    }
    if (blocks.empty()) {
      problems.push_back("missing " + prefix + "0.* (no blocks in layer " + std::to_string(b + 1) + ")");
    } else if (*blocks.rbegin() + 1 != static_cast<int64_t>(blocks.size())) {
      problems.push_back(prefix + "* blocks are not numbered 0.." + std::to_string(blocks.size() - 1) + " (found " +
                         join(blocks, ", ") + ")");
    }
    options.layers[b] = static_cast<int64_t>(blocks.size());
  }
  const torch::Tensor* first_conv = tensor("visual.layer1.0.conv1.weight", 4);
  const torch::Tensor* positional = tensor("visual.attnpool.positional_embedding", 2);
  const torch::Tensor* c_proj = tensor("visual.attnpool.c_proj.weight", 2);
  if (first_conv != nullptr) {
    options.width = first_conv->size(0);
    options.heads = options.width * 32 / 64;
    if (options.heads == 0) {
      problems.push_back("visual.layer1.0.conv1.weight width " + std::to_string(options.width) +
                         " cannot be split into width * 32 / 64 heads as CLIP does");
    }
  }
  if (positional != nullptr) {
    const int64_t tokens = positional->size(0);
    const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(tokens - 1, 0)))));
    if (grid == 0 || grid * grid + 1 != tokens) {
      problems.push_back("visual.attnpool.positional_embedding has " + std::to_string(tokens) +
                         " rows, expected grid^2 + 1 (a square grid and the mean token)");
    }
    options.input_resolution = grid * 32;
  }
  if (c_proj != nullptr) options.embed_dim = c_proj->size(0);
  if (!problems.empty()) {
    throw Error(source + ": not a CLIP ResNet image tower: " + join(problems, "; ") +
                " (expected OpenAI or open_clip key names)");
  }
  return options;
}

EvalBatchNorm2dImpl::EvalBatchNorm2dImpl(int64_t channels) {
  weight_ = register_parameter("weight", torch::ones({channels}));
  bias_ = register_parameter("bias", torch::zeros({channels}));
  running_mean_ = register_buffer("running_mean", torch::zeros({channels}));
  running_var_ = register_buffer("running_var", torch::ones({channels}));
}

torch::Tensor EvalBatchNorm2dImpl::forward(const torch::Tensor& x) {
  const auto f32 = torch::kFloat32;
  const torch::Tensor y = torch::batch_norm(x.to(f32), weight_.to(f32), bias_.to(f32), running_mean_.to(f32),
                                            running_var_.to(f32), /*training=*/false, /*momentum=*/0.0, kBatchNormEps,
                                            /*cudnn_enabled=*/true);
  return y.to(x.scalar_type());
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride) : stride_(stride) {
  const int64_t out = 4 * planes;
  conv1_ = register_module("conv1", conv(inplanes, planes, 1));
  bn1_ = register_module("bn1", EvalBatchNorm2d(planes));
  conv2_ = register_module("conv2", conv(planes, planes, 3));
  bn2_ = register_module("bn2", EvalBatchNorm2d(planes));
  conv3_ = register_module("conv3", conv(planes, out, 1));
  bn3_ = register_module("bn3", EvalBatchNorm2d(out));
  if (stride > 1 || inplanes != out) {
    // downsample.-1 is the AvgPool2d(stride) (no tensors), .0 the 1x1 conv, .1 its BatchNorm.
    auto downsample = register_module("downsample", std::make_shared<torch::nn::Module>());
    downsample_conv_ = downsample->register_module("0", conv(inplanes, out, 1));
    downsample_bn_ = downsample->register_module("1", EvalBatchNorm2d(out));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = bn1_(conv1_(x)).relu_();
  out = bn2_(conv2_(out)).relu_();
  if (stride_ > 1) out = torch::avg_pool2d(out, {stride_, stride_});
  out = bn3_(conv3_(out));
  if (downsample_conv_) {
    const torch::Tensor pooled = stride_ > 1 ? torch::avg_pool2d(x, {stride_, stride_}) : x;
    out += downsample_bn_(downsample_conv_(pooled));
  } else {
    out += x;
  }
  return out.relu_();
}

AttentionPool2dImpl::AttentionPool2dImpl(int64_t grid, int64_t width, int64_t heads, int64_t output_dim)
    : heads_(heads) {
  positional_embedding_ = register_parameter("positional_embedding", torch::zeros({grid * grid + 1, width}));
  k_proj_ = register_module("k_proj", torch::nn::Linear(width, width));
  q_proj_ = register_module("q_proj", torch::nn::Linear(width, width));
  v_proj_ = register_module("v_proj", torch::nn::Linear(width, width));
  c_proj_ = register_module("c_proj", torch::nn::Linear(width, output_dim));
}

torch::Tensor AttentionPool2dImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0);
  const int64_t width = x.size(1);
  const int64_t head_dim = width / heads_;
  const torch::Tensor grid_tokens = x.flatten(2).transpose(1, 2);  // [n, HW, width]
  const torch::Tensor tokens = torch::cat({grid_tokens.mean(1, /*keepdim=*/true), grid_tokens}, 1) +
                               positional_embedding_.to(x.scalar_type());  // [n, L = HW + 1, width]
  const int64_t length = tokens.size(1);
  // Only the mean token queries; as MultiheadAttention, q is scaled by head_dim^-0.5 before q k^T.
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  const torch::Tensor q = (q_proj_(tokens.narrow(1, 0, 1)) * scale).view({n, 1, heads_, head_dim}).transpose(1, 2);
  const torch::Tensor k = k_proj_(tokens).view({n, length, heads_, head_dim}).transpose(1, 2);  // [n, h, L, d]
  const torch::Tensor v = v_proj_(tokens).view({n, length, heads_, head_dim}).transpose(1, 2);
  const torch::Tensor weights = torch::softmax(torch::matmul(q, k.transpose(2, 3)), -1);  // [n, h, 1, L]
  const torch::Tensor context = torch::matmul(weights, v).reshape({n, width});            // [n, h, 1, d] -> [n, W]
  return c_proj_(context);
}

ModifiedResNetImpl::ModifiedResNetImpl(const ModifiedResNetOptions& options) : options_(options) {
  const int64_t width = options.width;
  bool valid = width >= 2 && width % 2 == 0 && options.heads > 0 && (32 * width) % options.heads == 0 &&
               options.input_resolution >= 32 && options.input_resolution % 32 == 0 && options.embed_dim > 0;
  for (const int64_t blocks : options.layers) valid = valid && blocks > 0;
  if (!valid) {
    throw Error("modified resnet: invalid options (layers " + join(options.layers, "-") + ", width " +
                std::to_string(width) + ", heads " + std::to_string(options.heads) + ", resolution " +
                std::to_string(options.input_resolution) + ", embed_dim " + std::to_string(options.embed_dim) +
                "): all must be positive, width even, heads must divide 32 * width and the resolution be a "
                "multiple of 32");
  }
  conv1_ = register_module("conv1", conv(3, width / 2, 3, 2));
  bn1_ = register_module("bn1", EvalBatchNorm2d(width / 2));
  conv2_ = register_module("conv2", conv(width / 2, width / 2, 3));
  bn2_ = register_module("bn2", EvalBatchNorm2d(width / 2));
  conv3_ = register_module("conv3", conv(width / 2, width, 3));
  bn3_ = register_module("bn3", EvalBatchNorm2d(width));
  int64_t inplanes = width;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = width << i;
    layers_[i] = register_module("layer" + std::to_string(i + 1), torch::nn::ModuleList());
    for (int64_t block = 0; block < options.layers[i]; ++block) {
      layers_[i]->push_back(Bottleneck(inplanes, planes, block == 0 && i > 0 ? 2 : 1));
      inplanes = 4 * planes;
    }
  }
  attnpool_ = register_module("attnpool", AttentionPool2d(options.output_resolution(), options.feature_width(),
                                                          options.heads, options.embed_dim));
  for (auto& parameter : parameters()) parameter.requires_grad_(false);
}

torch::Tensor ModifiedResNetImpl::stem(const torch::Tensor& images) {
  torch::Tensor x = bn1_(conv1_(images)).relu_();
  x = bn2_(conv2_(x)).relu_();
  x = bn3_(conv3_(x)).relu_();
  return torch::avg_pool2d(x, {2, 2});
}

torch::Tensor ModifiedResNetImpl::layer(int index, const torch::Tensor& x) {
  if (index < 1 || index > 4) throw Error("modified resnet: layer " + std::to_string(index) + " is not one of 1..4");
  torch::Tensor y = x;
  for (const auto& block : *layers_[index - 1]) y = block->as<BottleneckImpl>()->forward(y);
  return y;
}

torch::Tensor ModifiedResNetImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = stem(images);
  for (int i = 1; i <= 4; ++i) x = layer(i, x);
  return attnpool_->forward(x);
}

}  // namespace pg::worker
