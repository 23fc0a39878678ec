// Run under mpirun by collectives_test.cpp: trains the case of sharded_coop_case.h class-sharded over
// all ranks with the MPI collectives, and checks the collectives themselves. Rank 0 writes a JSON:
// the per-epoch losses, the final context, the test logits from the gathered text features, and what
// all-gather (uneven parts), all-reduce and broadcast gave.
//   sharded_coop_check TINY_CLIP.safetensors VOCAB.txt.gz OUT.json
#include <mpi.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/collectives/sharded_coop_case.h"
#include "text/tokenizer.h"
#include "worker/collectives/mpi_collectives.h"
#include "worker/methods/coop/sharded_coop_training.h"

namespace {

std::vector<double> values(const torch::Tensor& tensor) {
  const torch::Tensor flat = tensor.detach().to(torch::kFloat64).contiguous().flatten();
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

int run(int argc, char** argv) {
  using namespace pg::worker;
  if (argc != 4) {
    std::fprintf(stderr, "usage: sharded_coop_check TINY_CLIP.safetensors VOCAB.txt.gz OUT.json\n");
    return 2;
  }
  torch::set_num_threads(1);
  MpiCollectives group(MPI_COMM_WORLD);
  nlohmann::json out;

  // The collectives: rank r gives r rows of the value r (rank 0 an empty part).
  const torch::Tensor part = torch::full({group.rank(), 2}, static_cast<float>(group.rank()));
  out["all_gather"] = values(group.all_gather(part));
  torch::Tensor sum = torch::tensor({static_cast<double>(group.rank()), 1.0});
  group.all_reduce_sum(sum);
  out["all_reduce"] = values(sum);
  torch::Tensor broadcast = torch::full({3}, static_cast<int64_t>(group.rank() * 10), torch::kInt64);
  group.broadcast(broadcast, group.size() - 1);
  out["broadcast"] = values(broadcast);
  // Groups of ranks: even and odd world ranks, each summing its members' world ranks; every rank's
  // group sum gathered over the world.
  {
    std::vector<int> same_parity;
    for (int rank = group.rank() % 2; rank < group.size(); rank += 2) same_parity.push_back(rank);
    MPI_Comm communicator = create_group(MPI_COMM_WORLD, same_parity, /*tag=*/7);
    MpiCollectives parity(communicator);
    MPI_Comm_free(&communicator);  // the backend keeps its own duplicate
    torch::Tensor members = torch::tensor({static_cast<double>(group.rank())});
    parity.all_reduce_sum(members);
    out["group_sums"] = values(group.all_gather(members));
    out["group_size"] = parity.size();
  }

  // The sharded run.
  const auto tokenizer = pg::text::Tokenizer::from_vocab_file(argv[2]);
  TextEncoder encoder = load_text_encoder(argv[1]);
  const auto& classes = testing::sharded_case_classes();
  const ClassShard shard = class_shard(static_cast<int64_t>(classes.size()), group.rank(), group.size());
  const std::vector<std::string> mine(classes.begin() + shard.begin, classes.begin() + shard.begin + shard.count);
  CoOpOptions prompt;
  prompt.n_ctx = testing::kShardedCaseContext;
  CoOpPromptLearner learner(prompt, mine, tokenizer, encoder, testing::kShardedCaseSeed);
  ShardedCoOpObjective objective(learner, encoder, static_cast<int64_t>(classes.size()), group, torch::kCPU,
                                 torch::kFloat32);
  const TrainReport report = train_prompt(
      objective, testing::sharded_case_data(testing::kShardedCaseItems, testing::kShardedCaseSeed),
      testing::sharded_case_options());
  out["epoch_loss"] = report.epoch_loss;
  out["ctx"] = values(learner->context());
  const torch::Tensor test_images = testing::sharded_case_data(21, 77).features;
  out["logits"] = values(clip_logits(test_images, objective.text_features(), encoder->logit_scale()));
  // Every rank must hold the same context; rank 0 reports the largest difference to its own.
  torch::Tensor spread = learner->context().detach().clone();
  torch::Tensor root = spread.clone();
  group.broadcast(root, 0);
  torch::Tensor difference = (spread - root).abs().max().reshape({1}).to(torch::kFloat64);
  group.all_reduce_sum(difference);
  out["context_spread"] = difference.item<double>();
  if (group.rank() == 0) std::ofstream(argv[3]) << out.dump();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = 1;
  try {
    code = run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sharded_coop_check: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return code;
}
