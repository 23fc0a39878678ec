// `mpirun -np K promptgrid bench --shard`: the CoOp step of one run class-sharded over the K ranks
// (worker/methods/coop/sharded_coop_training.h; MPI collectives on the CPU, NCCL with --device cuda,
// one GPU per rank) against the same step on rank 0 alone (on the CPU: with all K ranks' threads), in
// the same job. Rank 0 prints.
#pragma once

#include "orchestrator/text_step_bench.h"

namespace pg::orchestrator {

void bench_sharded_coop_step(const TextBenchOptions& options, int threads_per_rank);

}  // namespace pg::orchestrator
