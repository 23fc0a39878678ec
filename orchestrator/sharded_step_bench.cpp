#include "orchestrator/sharded_step_bench.h"

#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <cstdio>
#include <thread>

#include "common/precision.h"
#include "orchestrator/bench_timing.h"
#include "orchestrator/mpi_link.h"
#include "orchestrator/torch_threads.h"
#include "orchestrator/device.h"
#include "worker/collectives/collectives_for.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/coop/sharded_coop_training.h"
#include "worker/torch_dtype.h"

namespace pg::orchestrator {
namespace {

// Waits for every rank without spinning (MPI_Barrier polls a core, which the rank timing alone needs).
void quiet_barrier() {
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  int done = 0;
  while (MPI_Test(&request, &done, MPI_STATUS_IGNORE), !done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void run_sharded_bench(const MpiSession& session, const TextBenchOptions& options, int threads_per_rank) {
  const int ranks = session.size();
  const torch::Dtype dtype = worker::torch_dtype(parse_precision(options.precision, "bench: --precision"));
  const text::Tokenizer tokenizer = text::Tokenizer::byte_level();
  const std::vector<std::string> names = bench_class_names(options.classes, options.name_tokens);
  worker::CoOpOptions prompt;
  prompt.n_ctx = options.n_ctx;
  // On GPUs each rank takes its own: rank r the r-th visible device (modulo their count).
  torch::Device device = parse_device(options.device);
  if (device.is_cuda()) {
    const auto visible = static_cast<int>(torch::cuda::device_count());
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(session.rank() % std::max(1, visible)));
  }
  const torch::Tensor features =
      torch::randn({options.batch, options.embed_dim}, at::detail::createCPUGenerator(1)).to(device);
  const torch::Tensor labels =
      torch::randint(options.classes, {options.batch}, at::detail::createCPUGenerator(2), torch::kInt64).to(device);
  const auto median_step_ms = [&](worker::SgdStep& step) {
    return median_ms_of_runs(options.warmup, options.steps, [&] { step.step(features, labels).item<float>(); });
  };

  // Rank 0 alone, on every rank's threads.
  double alone_ms = 0;
  if (session.rank() == 0) {
    set_torch_threads(threads_per_rank * ranks);
    worker::TextEncoder encoder = random_text_tower(options, tokenizer, /*truncate=*/true);
    worker::CoOpPromptLearner learner(prompt, names, tokenizer, encoder, 1);
    worker::CoOpObjective objective(learner, encoder, device, dtype);
    worker::TrainOptions train;
    train.device = device;
    train.dtype = dtype;
    worker::SgdStep step(objective, train);
    alone_ms = median_step_ms(step);
  }
  quiet_barrier();

  // Sharded over all ranks.
  set_torch_threads(threads_per_rank);
  const std::unique_ptr<worker::Collectives> collectives = worker::collectives_for(MPI_COMM_WORLD, device);
  worker::Collectives& group = *collectives;
  const worker::ClassShard shard = worker::class_shard(options.classes, group.rank(), group.size());
  worker::TextEncoder encoder = random_text_tower(options, tokenizer, /*truncate=*/true);
  worker::CoOpPromptLearner learner(
      prompt, std::vector<std::string>(names.begin() + shard.begin, names.begin() + shard.begin + shard.count),
      tokenizer, encoder, 1);
  worker::ShardedCoOpObjective objective(learner, encoder, options.classes, group, device, dtype);
  worker::TrainOptions train;
  train.device = device;
  train.dtype = dtype;
  worker::SgdStep step(objective, train);
  const double sharded_ms = median_step_ms(step);
  if (session.rank() != 0) return;
  std::printf("CoOp step, %lld classes, text tower width %lld, %lld layers, batch %lld, %s on %s\n",
              static_cast<long long>(options.classes), static_cast<long long>(options.width),
              static_cast<long long>(options.layers), static_cast<long long>(options.batch),
              options.precision.c_str(), options.device.c_str());
  std::printf("%-36s %11s\n", "", "ms/step");
  const std::string alone = device.is_cuda() ? "1 rank, 1 GPU" : "1 rank, " + std::to_string(threads_per_rank * ranks) + " threads";
  std::printf("%-36s %11.2f\n", alone.c_str(), alone_ms);
  std::printf("%-36s %11.2f\n",
              (std::to_string(ranks) + " ranks class-sharded, " +
               (device.is_cuda() ? std::string("1 GPU") : std::to_string(threads_per_rank) + " thread(s)") + " each")
                  .c_str(),
              sharded_ms);
  std::printf("sharding speed-up: %.2fx\n", alone_ms / sharded_ms);
}

}  // namespace

void bench_sharded_coop_step(const TextBenchOptions& options, int threads_per_rank) {
  MpiSession session;
  try {
    run_sharded_bench(session, options, threads_per_rank);
  } catch (const std::exception& e) {
    // One rank's error would leave the others waiting in a collective: end the job.
    std::fprintf(stderr, "promptgrid: error: rank %d: %s\n", session.rank(), e.what());
    session.abort(2);
  }
}

}  // namespace pg::orchestrator
