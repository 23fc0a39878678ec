#include "sweeps/task_spec.h"

#include <gtest/gtest.h>

#include "support/test_data.h"

#include "common/error.h"
#include "common/hash.h"

namespace pg::sweeps {
namespace {

TaskSpec coop_task() {
  TaskSpec spec;
  spec.dataset = "dtd";
  spec.backbone = "ViT-B/16";
  spec.shots = 4;
  spec.seed = 2;
  return spec;
}

TEST(TaskSpec, ResolveFillsCoOpEpochsFromTheCatalog) {
  TaskSpec spec = coop_task();
  spec.resolve();
  EXPECT_EQ(spec.setting<int>("epochs"), 100);  // CoOp: 100 epochs for 2 and 4 shots
}

TEST(TaskSpec, IdIsStableUnderJsonRoundTripAndChangesWithTheSpec) {
  TaskSpec spec = coop_task();
  spec.resolve();
  const std::string id = spec.id();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(TaskSpec::from_json(spec.to_json()).id(), id);
  TaskSpec other = spec;
  other.seed = 3;
  EXPECT_NE(other.id(), id);
  other = spec;
  other.settings["lr"] = 0.004;
  EXPECT_NE(other.id(), id);
}

// The reference's context rules are the defaults; settings that mean nothing without an init (or
// without CSC) do not make another task.
TEST(TaskSpec, CoOpInitSettingsDefaultToTheReferenceAndAreCanonical) {
  TaskSpec spec = coop_task();
  spec.resolve();
  EXPECT_EQ(spec.setting<std::string>("ctx_init_length"), "words");
  EXPECT_EQ(spec.setting<std::string>("csc_init"), "shared");
  TaskSpec tokens = coop_task();
  tokens.settings["ctx_init_length"] = "tokens";
  tokens.settings["csc_init"] = "per_class";
  tokens.resolve();
  EXPECT_EQ(tokens.id(), spec.id()) << "no ctx_init: both are meaningless";
  TaskSpec with_init = coop_task();
  with_init.settings["ctx_init"] = "a photo of a";
  with_init.resolve();
  TaskSpec with_init_tokens = with_init;
  with_init_tokens.settings["ctx_init_length"] = "tokens";
  with_init_tokens.resolve();
  EXPECT_NE(with_init_tokens.id(), with_init.id());
  // CSC with an init, shared as in CoOp, is the generic-context task (its id too), so it runs
  // base2novel; repeated per class it is CSC and cannot.
  TaskSpec shared = with_init;
  shared.settings["class_specific"] = true;
  shared.resolve();
  EXPECT_FALSE(shared.setting<bool>("class_specific"));
  EXPECT_EQ(shared.id(), with_init.id());
  shared.protocol = "base2novel";
  EXPECT_NO_THROW(shared.resolve());
  TaskSpec per_class = shared;
  per_class.settings["class_specific"] = true;
  per_class.settings["csc_init"] = "per_class";
  EXPECT_THROW(per_class.resolve(), Error);
}

TEST(TaskSpec, ZeroShotIdIgnoresTrainingFields) {
  TaskSpec a = coop_task();
  a.method = "zeroshot";
  TaskSpec b = a;
  b.seed = 3;
  b.shots = 16;
  EXPECT_EQ(a.id(), b.id());
}

TEST(TaskSpec, CanonicalJsonHasSortedKeysAndOnlyTheMethodsFields) {
  TaskSpec spec = coop_task();
  spec.method = "zeroshot";
  spec.features_digest = "00000000000000aa";
  spec.checkpoint_digest = "00000000000000bb";
  EXPECT_EQ(spec.to_json().dump(),
            R"({"backbone":"ViT-B/16","dataset":"dtd","inputs":{"checkpoint":"00000000000000bb",)"
            R"("features":"00000000000000aa"},"method":"zeroshot","protocol":"fewshot"})");
  EXPECT_EQ(spec.id(), to_hex16(fnv1a_64(spec.to_json().dump())));
}

TEST(TaskSpec, TheInputsDigestsAreOnlyPartOfTheId) {
  // The same settings on other features or weights are another task (issue: a rerun on another store
  // replaced a good record), and the digests round-trip through the canonical JSON.
  TaskSpec spec = coop_task();
  spec.features_digest = "1111111111111111";
  TaskSpec other = spec;
  other.features_digest = "2222222222222222";
  EXPECT_NE(spec.id(), other.id());
  other = spec;
  other.checkpoint_digest = "3333333333333333";
  EXPECT_NE(spec.id(), other.id());
  EXPECT_EQ(TaskSpec::from_json(spec.to_json()).id(), spec.id());
}

TEST(TaskSpec, SeedsAreNonNegativeIntegersBeyond32Bits) {
  TaskSpec spec = coop_task();
  spec.seed = int64_t{1} << 40;  // CPython accepts any integer; promptgrid the int64 range from 0
  EXPECT_NO_THROW(spec.resolve());
  EXPECT_EQ(TaskSpec::from_json(spec.to_json()).seed, int64_t{1} << 40);
  spec.seed = -3;
  EXPECT_NE(pg::testing::error_message([&] { spec.resolve(); }).find("'seed' is -3"), std::string::npos);
}

TEST(TaskSpec, BadFieldsNameTheFieldAndTheChoices) {
  TaskSpec spec = coop_task();
  spec.settings["class_token_position"] = "left";
  try {
    spec.resolve();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("class_token_position"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("end, middle, front"), std::string::npos);
  }
  spec = coop_task();
  spec.shots = 0;
  EXPECT_THROW(spec.resolve(), Error);
}

}  // namespace
}  // namespace pg::sweeps
