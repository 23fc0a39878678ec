#include "worker/methods/coop/packed_coop_training.h"

#include <memory>

#include "common/error.h"
#include "worker/methods/coop/coop_trainer.h"

namespace pg::worker {
namespace {

// Whether two learners' prompts can share one encoder batch: the same classes (suffix rows and EOT
// positions) and the same layout, so that only their contexts differ.
bool prompts_fit_together(CoOpPromptLearner& a, CoOpPromptLearner& b) {
  const CoOpOptions& x = a->options();
  const CoOpOptions& y = b->options();
  return a->shares_prefix() == b->shares_prefix() && x.n_ctx == y.n_ctx && x.class_specific == y.class_specific &&
         x.position == y.position && a->prompt_length() == b->prompt_length() &&
         torch::equal(a->eot_index(), b->eot_index()) && torch::equal(a->suffixes(), b->suffixes());
}

// Text features [G, n_cls, E] float32 of the learners of one group, in one encoder pass.
torch::Tensor group_text_features(const std::vector<CoOpPromptLearner*>& learners, TextEncoder& encoder,
                                  torch::Dtype dtype) {
  CoOpPromptLearner& first = *learners.front();
  std::vector<torch::Tensor> parts;
  if (first->shares_prefix()) {
    for (CoOpPromptLearner* learner : learners) parts.push_back((*learner)->shared_prefixes());
    return encoder->forward_shared_prefix(torch::cat(parts).to(dtype), first->suffixes().to(dtype), first->eot_index())
        .to(torch::kFloat32);
  }
  for (CoOpPromptLearner* learner : learners) parts.push_back((*learner)->forward());
  const auto groups = static_cast<int64_t>(learners.size());
  return encoder->forward(torch::cat(parts).to(dtype), first->eot_index().repeat({groups}))
      .to(torch::kFloat32)
      .view({groups, first->num_classes(), -1});
}

}  // namespace

std::vector<PackedRunResult> train_coop_packed(std::vector<PackedCoOpRun>& runs, TextEncoder& encoder) {
  if (runs.empty()) throw Error("packed CoOp training: no runs given");
  const torch::Device device = runs.front().options.device;
  const torch::Dtype dtype = runs.front().options.dtype;
  for (const PackedCoOpRun& run : runs) {
    if (run.options.half_parameters) {
      throw Error("packed CoOp training keeps each context a float32 master copy; a pure half precision "
                  "(pure_fp16, pure_bf16) trains alone");
    }
    if (run.options.device != device || run.options.dtype != dtype) {
      throw Error("packed CoOp training: runs on " + device.str() + " in " + c10::toString(dtype) + " and on " +
                  run.options.device.str() + " in " + c10::toString(run.options.dtype) +
                  "; runs packed together share one encoder, so one device and one dtype");
    }
  }
  const size_t count = runs.size();
  std::vector<PackedRunResult> results(count);
  std::vector<std::unique_ptr<CoOpObjective>> objectives;
  std::vector<std::unique_ptr<TrainingRun>> loops(count);
  for (size_t r = 0; r < count; ++r) {
    objectives.push_back(std::make_unique<CoOpObjective>(runs[r].learner, encoder, device, dtype));
    try {
      loops[r] = std::make_unique<TrainingRun>(*objectives[r], runs[r].data, runs[r].options);
    } catch (const std::exception& error) {
      results[r].error = error.what();
    }
  }
  // Groups of runs whose prompts share an encoder batch, fixed for the whole training.
  std::vector<std::vector<size_t>> groups;
  for (size_t r = 0; r < count; ++r) {
    auto group = groups.begin();
    while (group != groups.end() && !prompts_fit_together(runs[group->front()].learner, runs[r].learner)) ++group;
    if (group == groups.end()) {
      groups.push_back({r});
    } else {
      group->push_back(r);
    }
  }
  const auto running = [&](size_t r) { return loops[r] && results[r].error.empty() && !loops[r]->finished(); };
  const double logit_scale = encoder->logit_scale();

  while (true) {
    std::vector<size_t> active;
    for (size_t r = 0; r < count; ++r) {
      if (running(r)) active.push_back(r);
    }
    if (active.empty()) break;
    bool stop = false;
    for (size_t r : active) stop = stop || (runs[r].options.stop_requested && runs[r].options.stop_requested());
    if (stop) {
      for (size_t r : active) results[r].interrupted_epoch = loops[r]->epoch();
      break;
    }

    std::vector<TrainingRun::Batch> batches(count);
    for (size_t r : active) {
      batches[r] = loops[r]->next_batch();
      loops[r]->sgd().zero_grad();
    }
    std::vector<torch::Tensor> losses(count);
    torch::Tensor total;
    for (const auto& group : groups) {
      std::vector<size_t> members;
      std::vector<CoOpPromptLearner*> learners;
      for (size_t r : group) {
        if (!running(r)) continue;
        members.push_back(r);
        learners.push_back(&runs[r].learner);
      }
      if (members.empty()) continue;
      const torch::Tensor text = group_text_features(learners, encoder, dtype);  // [G, n_cls, E]
      for (size_t i = 0; i < members.size(); ++i) {
        const size_t r = members[i];
        losses[r] = torch::nn::functional::cross_entropy(
            clip_logits(batches[r].features, text[static_cast<int64_t>(i)], logit_scale), batches[r].labels);
        total = total.defined() ? total + losses[r] : losses[r];
      }
    }
    // d(sum of losses)/d(context of run r) is d(loss r)/d(context r): the runs' graphs meet only in the
    // frozen encoder, which gets no gradient.
    total.backward();
    for (size_t r : active) {
      loops[r]->sgd().apply();
      try {
        loops[r]->finish_step(losses[r].detach());
        if (loops[r]->finished()) results[r].report = loops[r]->report();  // its own wall time
      } catch (const std::exception& error) {  // its loss, or its on_epoch_end (a checkpoint that failed)
        results[r].error = error.what();
      }
    }
  }
  for (size_t r = 0; r < count; ++r) {  // runs that had nothing to train (resumed at their last epoch)
    if (loops[r] && results[r].error.empty() && loops[r]->finished() && !results[r].report) {
      results[r].report = loops[r]->report();
    }
  }
  return results;
}

}  // namespace pg::worker
