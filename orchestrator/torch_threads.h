// LibTorch starts with one intra-op thread on some machines (STACK.md); every command that computes
// sets the count explicitly: --threads N, or 0 for one per core.
#pragma once

namespace pg::orchestrator {

void set_torch_threads(int threads);

}  // namespace pg::orchestrator
