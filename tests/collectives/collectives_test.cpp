// Class-sharded CoOp and the MPI collectives under real mpirun: the run of sharded_coop_case.h on 2
// and 3 ranks (sharded_coop_check) against the same run on one process (train_coop): per-epoch losses,
// final context and test logits equal (float32 on the CPU, relative error <= 1e-5), every rank's
// context identical; all-gather of uneven parts, all-reduce and broadcast give the values worked out
// by hand.
#include <gtest/gtest.h>

#include "support/test_data.h"
#include "tests/collectives/sharded_coop_case.h"
#include "text/tokenizer.h"
#include "worker/methods/coop/coop_trainer.h"
#include "worker/methods/coop/sharded_coop_training.h"

namespace pg::worker {
namespace {

using pg::testing::shared_data;

TEST(ClassShard, ContiguousBlocksTheFirstRanksOneLarger) {
  const std::vector<std::pair<int64_t, int64_t>> of_7_in_3 = {{0, 3}, {3, 2}, {5, 2}};
  for (int rank = 0; rank < 3; ++rank) {
    const ClassShard shard = class_shard(7, rank, 3);
    EXPECT_EQ(shard.begin, of_7_in_3[static_cast<size_t>(rank)].first);
    EXPECT_EQ(shard.count, of_7_in_3[static_cast<size_t>(rank)].second);
  }
  EXPECT_EQ(class_shard(1000, 3, 4).begin, 750);
  EXPECT_EQ(class_shard(1000, 3, 4).count, 250);
  EXPECT_NE(pg::testing::error_message([] { class_shard(7, 3, 3); }).find("rank 3 of 3"), std::string::npos);
  // Fewer classes than ranks: every rank refuses alike, before any collective could wait for it.
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_NE(pg::testing::error_message([&] { class_shard(2, rank, 3); }).find("use at most 2 ranks"),
              std::string::npos);
  }
}

double relative_error(const std::vector<double>& actual, const torch::Tensor& expected) {
  const torch::Tensor b = expected.detach().to(torch::kFloat64).flatten();
  EXPECT_EQ(static_cast<int64_t>(actual.size()), b.numel());
  if (static_cast<int64_t>(actual.size()) != b.numel()) return 1e30;
  const torch::Tensor a = torch::tensor(actual, torch::kFloat64);
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

TEST(ShardedCoOp, TwoAndThreeRanksTrainLikeOne) {
  const std::string tiny = shared_data("golden/tiny_clip.safetensors");
  const std::string vocab = shared_data("clip/bpe_simple_vocab_16e6.txt.gz");
  // The run on one process, all 7 classes.
  torch::set_num_threads(1);
  const auto tokenizer = text::Tokenizer::from_vocab_file(vocab);
  TextEncoder encoder = load_text_encoder(tiny);
  CoOpOptions prompt;
  prompt.n_ctx = testing::kShardedCaseContext;
  CoOpPromptLearner learner(prompt, testing::sharded_case_classes(), tokenizer, encoder, testing::kShardedCaseSeed);
  const TrainReport alone = train_coop(
      learner, encoder, testing::sharded_case_data(testing::kShardedCaseItems, testing::kShardedCaseSeed),
      testing::sharded_case_options());
  const torch::Tensor logits = clip_logits(testing::sharded_case_data(21, 77).features,
                                           coop_text_features(learner, encoder), encoder->logit_scale());

  const std::string dir = pg::testing::make_temp_dir("sharded_coop");
  for (int ranks : {2, 3}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const std::string out = dir + "/ranks" + std::to_string(ranks) + ".json";
    const auto result = pg::testing::run_shell(
        "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
        "timeout 300 mpirun --oversubscribe -np " + std::to_string(ranks) + " " PG_SHARDED_COOP_CHECK " " + tiny +
        " " + vocab + " " + out);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const nlohmann::json sharded = pg::testing::read_json(out);

    // rank r gave r rows of r (rank 0 none): [1,1, 2,2,2,2]; the sum of [r, 1]; the last rank's value.
    std::vector<double> gathered;
    for (int r = 0; r < ranks; ++r) gathered.insert(gathered.end(), static_cast<size_t>(2 * r), r);
    EXPECT_EQ(sharded["all_gather"].get<std::vector<double>>(), gathered);
    EXPECT_EQ(sharded["all_reduce"].get<std::vector<double>>(),
              (std::vector<double>{ranks * (ranks - 1) / 2.0, static_cast<double>(ranks)}));
    EXPECT_EQ(sharded["broadcast"].get<std::vector<double>>(), std::vector<double>(3, 10.0 * (ranks - 1)));
    // Groups by parity (create_group): 2 ranks {0}, {1} give sums [0, 1]; 3 ranks {0, 2}, {1} give [2, 1, 2]. Rank 0's
    // group has ranks 0, 2, ...
    const std::vector<double> group_sums = ranks == 2 ? std::vector<double>{0, 1} : std::vector<double>{2, 1, 2};
    EXPECT_EQ(sharded["group_sums"].get<std::vector<double>>(), group_sums);
    EXPECT_EQ(sharded["group_size"].get<int>(), (ranks + 1) / 2);

    const auto losses = sharded["epoch_loss"].get<std::vector<double>>();
    ASSERT_EQ(losses.size(), alone.epoch_loss.size());
    for (size_t e = 0; e < losses.size(); ++e) {
      EXPECT_NEAR(losses[e], alone.epoch_loss[e], 1e-5 * std::abs(alone.epoch_loss[e])) << "epoch " << e;
    }
    EXPECT_LE(relative_error(sharded["ctx"].get<std::vector<double>>(), learner->context()), 1e-5);
    EXPECT_LE(relative_error(sharded["logits"].get<std::vector<double>>(), logits), 1e-5);
    EXPECT_EQ(sharded["context_spread"].get<double>(), 0.0);
  }
}

}  // namespace
}  // namespace pg::worker
