#include "worker/methods/coop/coop_prompt_learner.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/strings.h"
#include "worker/module_placement.h"

namespace pg::worker {

namespace {

// CoOp prompts class names with '_' replaced by a space.
std::string replace_underscores(std::string text) {
  std::replace(text.begin(), text.end(), '_', ' ');
  return text;
}

torch::Tensor int64_tensor(const std::vector<int64_t>& values, const torch::Device& device) {
  return torch::tensor(values, torch::kInt64).to(device);
}

}  // namespace

ClassTokenPosition parse_class_token_position(const std::string& name) {
  if (name == "end") return ClassTokenPosition::end;
  if (name == "middle") return ClassTokenPosition::middle;
  if (name == "front") return ClassTokenPosition::front;
  throw Error("class token position '" + name + "' is not one of end, middle, front");
}

void CoOpPromptLearnerImpl::to_dtype(torch::Dtype dtype) {
  for (auto& parameter : parameters(false)) parameter.set_data(parameter.to(dtype));
  for (auto& buffer : buffers(false)) {
    if (buffer.is_floating_point()) buffer.set_data(buffer.to(dtype));
  }
}

InitLength parse_init_length(const std::string& name) {
  if (name == "words") return InitLength::words;
  if (name == "tokens") return InitLength::tokens;
  throw Error("context init length '" + name + "' is not one of words, tokens");
}

std::string to_string(ClassTokenPosition position) {
  switch (position) {
    case ClassTokenPosition::end:
      return "end";
    case ClassTokenPosition::middle:
      return "middle";
    case ClassTokenPosition::front:
      return "front";
  }
  throw Error("invalid ClassTokenPosition value " + std::to_string(static_cast<int>(position)));
}

CoOpPromptLearnerImpl::CoOpPromptLearnerImpl(const CoOpOptions& options, const std::vector<std::string>& classnames,
                                             const text::Tokenizer& tokenizer, TextEncoder& encoder, uint64_t seed)
    : options_(options) {
  if (classnames.empty()) {
    throw Error("CoOp prompt learner: the class-name list is empty; the dataset must name its classes");
  }
  const auto n_cls = static_cast<int64_t>(classnames.size());
  const int64_t context_length = encoder->options().context_length;
  const torch::Device device = module_device(*encoder);

  // The prompt prefix and, for a word init, the init words' token ids.
  std::string prefix;
  std::vector<int64_t> init_ids;
  if (!options_.ctx_init.empty()) {
    prefix = replace_underscores(options_.ctx_init);
    const std::vector<int64_t> tokens = tokenizer.encode(prefix);
    if (tokens.empty()) {
      throw Error("CoOp ctx_init '" + options_.ctx_init +
                  "' has no tokens; give words such as \"a photo of a\", or leave it empty for a random init");
    }
    // The context is the embeddings of the init's first M tokens, as CoOp slices them (rows 1..M of
    // its tokenization).
    options_.n_ctx = options_.init_length == InitLength::words
                         ? static_cast<int64_t>(std::count(prefix.begin(), prefix.end(), ' ')) + 1
                         : static_cast<int64_t>(tokens.size());
    if (options_.n_ctx > static_cast<int64_t>(tokens.size())) {
      // CoOp would learn the EOT's (and padding's) embedding here: a typo, not a setting.
      throw Error("CoOp ctx_init '" + options_.ctx_init + "' is " + std::to_string(options_.n_ctx) +
                  " words as CoOp counts them (split on single spaces) but only " + std::to_string(tokens.size()) +
                  " tokens; remove the extra spaces");
    }
    init_ids.assign(tokens.begin(), tokens.begin() + options_.n_ctx);
    if (options_.class_specific && !options_.class_specific_init) options_.class_specific = false;
  } else {
    if (options_.n_ctx < 1) {
      throw Error("CoOp n_ctx = " + std::to_string(options_.n_ctx) +
                  ": the number of context vectors must be at least 1 (CoOp uses 16 or 4)");
    }
    if (!(options_.init_std > 0) || !std::isfinite(options_.init_std)) {
      throw Error("CoOp init_std = " + std::to_string(options_.init_std) +
                  " must be a positive finite number (CoOp uses 0.02)");
    }
    prefix = join(std::vector<std::string>(static_cast<size_t>(options_.n_ctx), "X"), " ");
  }
  const int64_t n_ctx = options_.n_ctx;

  // Token ids of every prompt, zero-padded to the context length.
  std::vector<int64_t> ids(static_cast<size_t>(n_cls * context_length), 0);
  std::vector<int64_t> eot_index(static_cast<size_t>(n_cls));
  for (int64_t i = 0; i < n_cls; ++i) {
    const std::string& classname = classnames[static_cast<size_t>(i)];
    const std::string name = replace_underscores(classname);
    if (trim(name).empty()) {
      throw Error("CoOp class name #" + std::to_string(i) + " ('" + classname +
                  "') is empty; every class needs a name to prompt with");
    }
    name_lengths_.push_back(static_cast<int64_t>(tokenizer.encode(name).size()));
    prompt_texts_.push_back(prefix + " " + name + ".");
    const std::vector<int64_t> tokens = tokenizer.encode(prompt_texts_.back());
    const auto length = static_cast<int64_t>(tokens.size()) + 2;  // with SOT and EOT
    if (length > context_length) {
      throw Error("CoOp prompt for class '" + classname + "' is " + std::to_string(length) + " tokens with " +
                  std::to_string(n_ctx) + " context vectors, more than the text encoder's " +
                  std::to_string(context_length) + "; use fewer context vectors (n_ctx) or a shorter class name");
    }
    int64_t* row = ids.data() + i * context_length;
    row[0] = tokenizer.sot_token();
    std::copy(tokens.begin(), tokens.end(), row + 1);
    row[length - 1] = tokenizer.eot_token();
    eot_index[static_cast<size_t>(i)] = length - 1;  // the argmax of the row: EOT is the largest id
  }
  const int64_t prompt_length =
      options_.truncate_after_eot ? *std::max_element(eot_index.begin(), eot_index.end()) + 1 : context_length;

  torch::Tensor embedding;
  torch::Tensor init_embedding;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor id_tensor = int64_tensor(ids, device).view({n_cls, context_length}).slice(1, 0, prompt_length);
    embedding = encoder->embed(id_tensor).to(torch::kFloat32);  // [n_cls, L, W]
    if (!init_ids.empty()) {
      init_embedding = encoder->embed(int64_tensor(init_ids, device).unsqueeze(0))[0].to(torch::kFloat32);
    }
  }
  token_prefix_ = register_buffer("token_prefix", embedding.slice(1, 0, 1).clone());
  token_suffix_ = register_buffer("token_suffix", embedding.slice(1, 1 + n_ctx, prompt_length).clone());
  eot_index_ = register_buffer("eot_index", int64_tensor(eot_index, device));

  const int64_t width = embedding.size(2);
  torch::Tensor ctx;
  if (init_embedding.defined()) {
    ctx = options_.class_specific ? init_embedding.unsqueeze(0).repeat({n_cls, 1, 1}) : init_embedding;
  } else {
    const std::vector<int64_t> shape =
        options_.class_specific ? std::vector<int64_t>{n_cls, n_ctx, width} : std::vector<int64_t>{n_ctx, width};
    ctx = at::normal(0.0, options_.init_std, shape, at::detail::createCPUGenerator(seed),
                     torch::TensorOptions().dtype(torch::kFloat32))
              .to(device);
  }
  ctx_ = register_parameter("ctx", ctx);

  if (options_.position != ClassTokenPosition::end) {
    // Rows of the `end` layout: SOT 0, ctx 1..M, class M+1..M+k, then '.', EOT, padding.
    std::vector<int64_t> rows;
    rows.reserve(static_cast<size_t>(n_cls * prompt_length));
    for (int64_t i = 0; i < n_cls; ++i) {
      const int64_t base = i * prompt_length;
      const int64_t k = name_lengths_[static_cast<size_t>(i)];
      const auto take = [&](int64_t from, int64_t to) {
        for (int64_t p = from; p < to; ++p) rows.push_back(base + p);
      };
      take(0, 1);
      if (options_.position == ClassTokenPosition::middle) {
        const int64_t half = n_ctx / 2;
        take(1, 1 + half);
        take(1 + n_ctx, 1 + n_ctx + k);
        take(1 + half, 1 + n_ctx);
      } else {
        take(1 + n_ctx, 1 + n_ctx + k);
        take(1, 1 + n_ctx);
      }
      take(1 + n_ctx + k, prompt_length);
    }
    row_index_ = register_buffer("row_index", int64_tensor(rows, device));
  }
}

torch::Tensor CoOpPromptLearnerImpl::forward() {
  const int64_t n_cls = num_classes();
  const torch::Tensor ctx = options_.class_specific ? ctx_ : ctx_.unsqueeze(0).expand({n_cls, -1, -1});
  torch::Tensor prompts = torch::cat({token_prefix_, ctx, token_suffix_}, 1);  // the `end` layout
  if (!row_index_.defined()) return prompts;
  const int64_t length = prompts.size(1);
  const int64_t width = prompts.size(2);
  return prompts.reshape({n_cls * length, width}).index_select(0, row_index_).view({n_cls, length, width});
}

torch::Tensor CoOpPromptLearnerImpl::forward_batch(const torch::Tensor& contexts) {
  const int64_t n_cls = num_classes();
  const int64_t width = token_prefix_.size(2);
  if (options_.class_specific || !contexts.defined() || contexts.dim() != 3 || contexts.size(1) != options_.n_ctx ||
      contexts.size(2) != width) {
    throw Error("CoOp prompts for a batch of contexts: got " +
                (contexts.defined() ? format_shape(contexts.sizes().vec()) : std::string("none")) + ", expected [B, " +
                std::to_string(options_.n_ctx) + ", " + std::to_string(width) + "] for a generic (not class-specific) context");
  }
  const int64_t batch = contexts.size(0);
  const torch::Tensor ctx = contexts.unsqueeze(1).expand({batch, n_cls, options_.n_ctx, width});
  const torch::Tensor prefix = token_prefix_.unsqueeze(0).expand({batch, -1, -1, -1});
  const torch::Tensor suffix = token_suffix_.unsqueeze(0).expand({batch, -1, -1, -1});
  torch::Tensor prompts = torch::cat({prefix, ctx, suffix}, 2);  // the `end` layout, [B, n_cls, L, W]
  if (!row_index_.defined()) return prompts;
  const int64_t length = prompts.size(2);
  return prompts.reshape({batch, n_cls * length, width}).index_select(1, row_index_).view({batch, n_cls, length, width});
}

bool CoOpPromptLearnerImpl::shares_prefix() const {
  return options_.share_prefix && !options_.class_specific && options_.position == ClassTokenPosition::end;
}

torch::Tensor CoOpPromptLearnerImpl::shared_prefixes() { return shared_prefixes(ctx_.unsqueeze(0)); }

torch::Tensor CoOpPromptLearnerImpl::shared_prefixes(const torch::Tensor& contexts) {
  if (!shares_prefix() || contexts.dim() != 3 || contexts.size(1) != options_.n_ctx ||
      contexts.size(2) != token_prefix_.size(2)) {
    throw Error("CoOp shared prompt prefixes: got contexts " + format_shape(contexts.sizes().vec()) +
                (shares_prefix() ? ", expected [B, " + std::to_string(options_.n_ctx) + ", " +
                                       std::to_string(token_prefix_.size(2)) + "]"
                                 : " for prompts that share no prefix (class-specific context, or the class token "
                                   "not at the end)"));
  }
  const torch::Tensor sot = token_prefix_.slice(0, 0, 1).expand({contexts.size(0), 1, token_prefix_.size(2)});
  return torch::cat({sot, contexts}, 1);
}

void CoOpPromptLearnerImpl::set_context(const torch::Tensor& ctx) {
  if (!ctx.defined() || ctx.sizes() != ctx_.sizes() || !ctx.is_floating_point()) {
    const std::string given =
        ctx.defined() ? format_shape(ctx.sizes().vec()) + " " + std::string(c10::toString(ctx.scalar_type()))
                      : "no tensor";
    throw Error("CoOp context: got " + given + ", expected a floating-point tensor of shape " +
                format_shape(ctx_.sizes().vec()) + " (n_ctx " + std::to_string(options_.n_ctx) +
                (options_.class_specific ? ", class-specific" : ", shared by all classes") +
                "); load a context learned with the same n_ctx, CSC setting, classes and backbone");
  }
  torch::NoGradGuard no_grad;
  ctx_.copy_(ctx);
}

}  // namespace pg::worker
