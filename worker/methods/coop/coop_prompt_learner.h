// CoOp's prompt learner (Zhou et al., "Learning to Prompt for Vision-Language Models"; DESIGN §1):
// M learnable context vectors spliced between CLIP's start token and each class name's token
// embeddings. Its forward() gives the prompts the frozen TextEncoder turns into one classifier weight
// per class; only the context vectors are trained.
//
// Prompt text per class: prefix + " " + name + "." where prefix is ctx_init, or "X" repeated n_ctx
// times; names get '_' -> ' ' first. The token embeddings of those ids are frozen buffers; the context
// takes the place of the prefix tokens. Rows, by class-token position (k = the name's token count):
//   end    [SOT, ctx[0:M], class[0:k], '.', EOT, pad...]
//   middle [SOT, ctx[0:M/2], class[0:k], ctx[M/2:M], '.', EOT, pad...]
//   front  [SOT, class[0:k], ctx[0:M], '.', EOT, pad...]
// Everything here is float32 (the master copy under mixed precision); move it with ->to(device) only.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/coop_defaults.h"
#include "worker/clip/text_encoder.h"
#include "text/tokenizer.h"

namespace pg::worker {

enum class ClassTokenPosition { end, middle, front };

// "end" | "middle" | "front" (CoOp's CLASS_TOKEN_POSITION values); anything else is a pg::Error.
ClassTokenPosition parse_class_token_position(const std::string& name);
std::string to_string(ClassTokenPosition position);

// How many context vectors a word init (ctx_init) gives.
//   words  (CoOp's, KgCoOp's and CoCoOp's own): M = the number of words, as Python's
//          ctx_init.split(" ") counts them; the context learns the embeddings of the init's first M
//          tokens (rows 1..M of its tokenization), and any further tokens of the init stay in every
//          prompt, frozen. The two differ when a word is several tokens.
//   tokens M = the init's token count; every token of it is learned.
enum class InitLength { words, tokens };

// "words" | "tokens"; anything else is a pg::Error.
InitLength parse_init_length(const std::string& name);

struct CoOpOptions {
  // Number of context vectors M; ignored when ctx_init is set (init_length says M).
  int64_t n_ctx = coop_defaults::kContextVectors;
  // Words whose token embeddings initialise the context, e.g. "a photo of a"; empty: random init.
  std::string ctx_init;
  InitLength init_length = InitLength::words;
  // Class-specific context (CSC): one context per class instead of one shared by all.
  bool class_specific = false;
  // CSC with ctx_init: CoOp ignores CSC when the context has an init (one context shared by all
  // classes; the learner's options() then say class_specific false). True repeats the init per class.
  bool class_specific_init = false;
  ClassTokenPosition position = ClassTokenPosition::end;
  // Std of the N(0, std^2) random init.
  double init_std = coop_defaults::kContextInitStd;
  // Keep only positions up to the last EOT (L = max(eot_index) + 1 instead of 77): under the causal
  // mask the features are identical and the encoder does ~3x less work.
  bool truncate_after_eot = true;
  // With a generic context and the class token at the end, every prompt begins [SOT, ctx]: compute
  // those rows once per step rather than once per class (TextEncoder::forward_shared_prefix; the same
  // features, 2-4x less work). Does nothing where prompts differ from the start (CSC, middle, front).
  bool share_prefix = true;
};

class CoOpPromptLearnerImpl : public torch::nn::Module {
 public:
  // Tokenizes the prompts and embeds them with `encoder` (on the encoder's device). `seed` seeds the
  // random context init. Errors (pg::Error): no classes, an empty class name, n_ctx < 1, a bad
  // init_std, an empty ctx_init, a prompt longer than the encoder's context length (names the class).
  CoOpPromptLearnerImpl(const CoOpOptions& options, const std::vector<std::string>& classnames,
                        const text::Tokenizer& tokenizer, TextEncoder& encoder, uint64_t seed);

  // -> prompts [n_cls, L, W] float32: token embeddings with the context spliced in, without the
  // positional embedding (the encoder adds it).
  torch::Tensor forward();
  // The context and the frozen token embeddings in `dtype` (Module::to would also cast the int64
  // indices): the reference's pure half precision (TrainOptions::half_parameters), where the prompts
  // come out in `dtype`.
  void to_dtype(torch::Dtype dtype);
  // Prompts for a batch of generic contexts (CoCoOp's context per image): contexts [B, M, W] float32
  // -> [B, n_cls, L, W], each context spliced in as forward() splices the learner's own. A
  // class-specific learner refuses (pg::Error).
  torch::Tensor forward_batch(const torch::Tensor& contexts);

  // Whether the prompts all begin with the same rows [SOT, ctx] (generic context, class token at the
  // end) and share_prefix is on: then text features come from shared_prefixes() and suffixes().
  bool shares_prefix() const;
  // [1, 1 + M, W]: SOT and the learner's context, the rows every prompt begins with; with `contexts`
  // [B, M, W] (CoCoOp's per-image contexts), [B, 1 + M, W], one prefix per context.
  torch::Tensor shared_prefixes();
  torch::Tensor shared_prefixes(const torch::Tensor& contexts);
  // [n_cls, L - 1 - M, W]: each prompt's rows after the prefix (class tokens, '.', EOT, padding).
  const torch::Tensor& suffixes() const { return token_suffix_; }

  // [n_cls] int64: index of each prompt's EOT token, the row the encoder takes the feature from.
  const torch::Tensor& eot_index() const { return eot_index_; }
  // Token count of each class name (the `k` above), as CoOp's name_lens.
  const std::vector<int64_t>& name_lengths() const { return name_lengths_; }
  const std::vector<std::string>& prompt_texts() const { return prompt_texts_; }
  // The trainable context: [M, W], or [n_cls, M, W] when class_specific. float32.
  const torch::Tensor& context() const { return ctx_; }
  // Replaces the context values (a saved prompt, a golden init); `ctx` must have context()'s shape.
  void set_context(const torch::Tensor& ctx);

  // The options in effect: n_ctx resolved from ctx_init.
  const CoOpOptions& options() const { return options_; }
  int64_t num_classes() const { return token_prefix_.size(0); }
  // L: 77 (the encoder's context length), or max(eot_index) + 1 with truncate_after_eot.
  int64_t prompt_length() const { return token_prefix_.size(1) + options_.n_ctx + token_suffix_.size(1); }

 private:
  CoOpOptions options_;
  std::vector<std::string> prompt_texts_;
  std::vector<int64_t> name_lengths_;
  torch::Tensor ctx_;           // parameter, see context()
  torch::Tensor token_prefix_;  // buffer [n_cls, 1, W]: SOT
  torch::Tensor token_suffix_;  // buffer [n_cls, L - 1 - M, W]: class tokens, '.', EOT, padding
  torch::Tensor eot_index_;     // buffer [n_cls] int64
  // buffer [n_cls * L] int64 for middle/front: for each output row (class-major), the row of the
  // flattened `end` layout it is taken from (one index_select instead of a per-class loop);
  // undefined for `end`.
  torch::Tensor row_index_;
};
TORCH_MODULE(CoOpPromptLearner);

}  // namespace pg::worker
