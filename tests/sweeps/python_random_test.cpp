// Every expected value below was printed by CPython 3.11.7 (/usr/bin/python3); the comment beside it
// is the Python expression that gave it.
#include "sweeps/python_random.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "common/error.h"

namespace pg::sweeps {
namespace {

TEST(PythonRandom, RandomMatchesCPythonForIntSeeds) {
  struct Case {
    int64_t seed;
    double first, second;
  };
  // random.seed(s); random.random(), random.random()
  const Case cases[] = {
      {0, 0.8444218515250481, 0.7579544029403025},
      {1, 0.13436424411240122, 0.8474337369372327},
      {42, 0.6394267984578837, 0.025010755222666936},
      {(int64_t{1} << 40) + 7, 0.6137037779936511, 0.8149162973309487},  // seed 2**40+7: two key words
      {-5, 0.6229016948897019, 0.7417869892607294},                       // same stream as seed 5
  };
  for (const Case& c : cases) {
    PythonRandom rng(c.seed);
    EXPECT_EQ(rng.random(), c.first) << "seed " << c.seed;
    EXPECT_EQ(rng.random(), c.second) << "seed " << c.seed;
  }
}

TEST(PythonRandom, SeedsBeyond32BitsSampleAsCPython) {
  // r = random.Random(s); r.sample(range(10), 3), r.getrandbits(32)
  struct Case {
    int64_t seed;
    std::vector<int64_t> sample;
    uint64_t bits;
  };
  const Case cases[] = {{int64_t{1} << 32, {1, 5, 6}, 4014597330u},
                        {int64_t{1} << 40, {1, 5, 9}, 1832466665u},
                        {INT64_MAX, {5, 2, 7}, 1947612296u}};  // 2**63 - 1, promptgrid's largest seed
  for (const Case& c : cases) {
    PythonRandom rng(c.seed);
    EXPECT_EQ(rng.sample(10, 3), c.sample) << c.seed;
    EXPECT_EQ(rng.getrandbits(32), c.bits) << c.seed;
  }
}

TEST(PythonRandom, ReseedingRestartsTheStream) {
  PythonRandom rng(7);
  rng.random();
  rng.seed(1);
  EXPECT_EQ(rng.random(), 0.13436424411240122);  // random.seed(1); random.random()
}

TEST(PythonRandom, GetrandbitsMatchesCPythonIncludingMultiWordResults) {
  PythonRandom rng(42);
  // random.seed(42); [random.getrandbits(k) for k in (1, 7, 32, 33, 64)]
  EXPECT_EQ(rng.getrandbits(1), 1u);
  EXPECT_EQ(rng.getrandbits(7), 14u);
  EXPECT_EQ(rng.getrandbits(32), 107420369u);
  EXPECT_EQ(rng.getrandbits(33), 3184935163u);
  EXPECT_EQ(rng.getrandbits(64), 4117511471858006928u);

  PythonRandom other(9);
  // random.seed(9); [random.getrandbits(k) for k in (33, 40, 63, 64)]
  EXPECT_EQ(other.getrandbits(33), 6283568750u);
  EXPECT_EQ(other.getrandbits(40), 293661138672u);
  EXPECT_EQ(other.getrandbits(63), 1716884121717264810u);
  EXPECT_EQ(other.getrandbits(64), 12481870810729348949u);
}

TEST(PythonRandom, GetrandbitsZeroDrawsNothing) {
  PythonRandom rng(1);
  EXPECT_EQ(rng.getrandbits(0), 0u);
  EXPECT_EQ(rng.random(), 0.13436424411240122);  // random.seed(1); random.random(): stream untouched
}

TEST(PythonRandom, RandbelowMatchesRandrange) {
  PythonRandom rng(7);
  // random.seed(7); [random.randrange(n) for n in (1, 2, 3, 10, 100, 1000, 2**31, 2**32+5, 2**62+3)]
  const uint64_t bounds[] = {1, 2, 3, 10, 100, 1000, uint64_t{1} << 31, (uint64_t{1} << 32) + 5,
                             (uint64_t{1} << 62) + 3};
  const uint64_t expected[] = {0, 0, 1, 0, 9, 840, 404285457, 2179419893, 792723338049442008};
  for (size_t i = 0; i < std::size(bounds); ++i) EXPECT_EQ(rng.randbelow(bounds[i]), expected[i]) << bounds[i];
}

TEST(PythonRandom, SamplePoolAlgorithm) {
  PythonRandom rng(1);
  EXPECT_EQ(rng.sample(10, 3), (std::vector<int64_t>{2, 1, 4}));  // random.seed(1); random.sample(range(10), 3)
}

TEST(PythonRandom, SampleSetAlgorithm) {
  PythonRandom rng(1);
  // random.seed(1); random.sample(range(1000), 16)
  EXPECT_EQ(rng.sample(1000, 16), (std::vector<int64_t>{137, 582, 867, 821, 782, 64, 261, 120, 507, 779, 460,
                                                        483, 667, 388, 807, 214}));
}

TEST(PythonRandom, SampleWholePopulationIsAPermutation) {
  PythonRandom rng(1);
  // random.seed(1); random.sample(range(30), 30)
  EXPECT_EQ(rng.sample(30, 30), (std::vector<int64_t>{4,  18, 27, 25, 24, 2,  8,  3, 15, 14, 21, 12, 6,  22, 19,
                                                      0,  13, 17, 28, 9,  20, 7,  29, 5, 1,  23, 10, 11, 16, 26}));
}

// The algorithm switch sits exactly at CPython's setsize: 21 for k <= 5, 21 + 4**3 = 85 for 6 <= k <= 21.
TEST(PythonRandom, SampleSwitchesAlgorithmAtCPythonsThreshold) {
  PythonRandom rng(2);
  EXPECT_EQ(rng.sample(21, 5), (std::vector<int64_t>{1, 2, 19, 11, 5}));  // random.seed(2); random.sample(range(21), 5)
  rng.seed(2);
  EXPECT_EQ(rng.sample(22, 5), (std::vector<int64_t>{1, 2, 11, 5, 21}));  // random.seed(2); random.sample(range(22), 5)
  rng.seed(2);
  // random.seed(2); random.sample(range(85), 16), random.random()
  EXPECT_EQ(rng.sample(85, 16), (std::vector<int64_t>{7, 11, 10, 46, 21, 39, 32, 77, 27, 4, 74, 20, 55, 50, 65, 47}));
  EXPECT_EQ(rng.random(), 0.5441770474293208);
  rng.seed(2);
  // random.seed(2); random.sample(range(86), 16), random.random()
  EXPECT_EQ(rng.sample(86, 16), (std::vector<int64_t>{7, 11, 10, 46, 21, 85, 39, 32, 77, 27, 4, 74, 20, 55, 81, 50}));
  EXPECT_EQ(rng.random(), 0.8036694431529349);
}

TEST(PythonRandom, SampleOfZeroDrawsNothing) {
  PythonRandom rng(5);
  EXPECT_TRUE(rng.sample(5, 0).empty());
  EXPECT_EQ(rng.random(), 0.6229016948897019);  // random.seed(5); random.sample(range(5), 0); random.random()
}

TEST(PythonRandom, RejectsImpossibleRequests) {
  PythonRandom rng(0);
  try {
    rng.sample(3, 4);
    FAIL() << "sample(3, 4) must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("k = 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("population of 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rng.sample(3, -1), Error);
  EXPECT_THROW(rng.randbelow(0), Error);
  EXPECT_THROW(rng.getrandbits(65), Error);
  EXPECT_THROW(rng.getrandbits(-1), Error);
}

}  // namespace
}  // namespace pg::sweeps
