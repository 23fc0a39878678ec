// PythonRandom: a bit-exact port of the parts of CPython 3's `random.Random` that few-shot sampling
// uses (DESIGN §1): MT19937 seeded from an int the way `random.seed(int)` does it, `getrandbits`,
// `_randbelow`, `random()` and `sample`. Published CoOp/CoCoOp few-shot splits were drawn with these,
// so every draw here must equal Python's, including the order in which 32-bit words are consumed.
// Used by sweeps/fewshot; anything needing a general-purpose RNG should use <random> instead.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace pg::sweeps {

class PythonRandom {
 public:
  // Same as `random.Random(seed)`: seeds are limited to the int64 range (CPython takes any int).
  explicit PythonRandom(int64_t seed);

  // `random.seed(seed)` for an int: MT19937 `init_by_array` keyed by |seed| split into 32-bit words,
  // least significant first; seed 0 gives the key [0]. Negative seeds equal their absolute value.
  void seed(int64_t seed);

  // `random.getrandbits(k)` for 0 <= k <= 64 (CPython allows any k; callers here need at most 64).
  // k <= 32 takes one 32-bit output's top k bits; larger k fills 32-bit words from the least
  // significant up, the last word keeping its top bits. k = 0 returns 0 without drawing.
  uint64_t getrandbits(int k);

  // `random._randbelow(n)` (the getrandbits variant): draws n.bit_length() bits until below n.
  // n >= 1; `random.randrange(n)` gives the same value.
  uint64_t randbelow(uint64_t n);

  // `random.random()`: a double in [0, 1) with 53 random bits from two 32-bit outputs.
  double random();

  // `random.sample(range(n), k)`: k distinct indices in [0, n) in draw order. Uses CPython's pool
  // algorithm when n is small relative to k and its set-rejection algorithm otherwise, with
  // CPython's exact threshold, since the two consume the stream differently. Requires 0 <= k <= n.
  std::vector<int64_t> sample(int64_t n, int64_t k);

 private:
  static constexpr int kStateSize = 624;
  uint32_t next_uint32();
  void init_genrand(uint32_t seed);
  void init_by_array(const std::vector<uint32_t>& key);
  void regenerate();

  std::array<uint32_t, kStateSize> state_{};
  int index_ = kStateSize;
};

}  // namespace pg::sweeps
