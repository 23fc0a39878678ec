#include "sweeps/python_random.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>

#include "common/error.h"

namespace pg::sweeps {
namespace {

// MT19937 constants (Matsumoto & Nishimura 1998), as CPython's _randommodule.c uses them.
constexpr int kShift = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

int bit_length(uint64_t n) {
  int bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

// CPython's `sample` switches to the set-rejection algorithm when the population is larger than
// `21 + 4 ** ceil(log(3k, 4))` (the pool list would cost more memory than the set); the logarithm is
// math.log(x, base) = log(x) / log(base) in double precision.
uint64_t sample_set_size(int64_t k) {
  uint64_t setsize = 21;
  if (k > 5) {
    const double exponent = std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0));
    if (exponent >= 31) return std::numeric_limits<uint64_t>::max();  // any n uses the pool
    setsize += uint64_t{1} << (2 * static_cast<int>(exponent));
  }
  return setsize;
}

}  // namespace

PythonRandom::PythonRandom(int64_t seed) { this->seed(seed); }

void PythonRandom::seed(int64_t seed) {
  // |seed| as uint64 so that INT64_MIN has an absolute value too.
  const uint64_t magnitude = seed < 0 ? uint64_t{0} - static_cast<uint64_t>(seed) : static_cast<uint64_t>(seed);
  std::vector<uint32_t> key{static_cast<uint32_t>(magnitude)};
  if ((magnitude >> 32) != 0) key.push_back(static_cast<uint32_t>(magnitude >> 32));
  init_by_array(key);
}

void PythonRandom::init_genrand(uint32_t seed) {
  state_[0] = seed;
  for (int i = 1; i < kStateSize; ++i) {
    const uint32_t previous = state_[i - 1];
    state_[i] = 1812433253U * (previous ^ (previous >> 30)) + static_cast<uint32_t>(i);
  }
  index_ = kStateSize;
}

void PythonRandom::init_by_array(const std::vector<uint32_t>& key) {
  init_genrand(19650218U);
  const int key_length = static_cast<int>(key.size());
  int i = 1;
  int j = 0;
  for (int count = std::max(kStateSize, key_length); count > 0; --count) {
    const uint32_t previous = state_[i - 1];
    state_[i] = (state_[i] ^ ((previous ^ (previous >> 30)) * 1664525U)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kStateSize) {
      state_[0] = state_[kStateSize - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int count = kStateSize - 1; count > 0; --count) {
    const uint32_t previous = state_[i - 1];
    state_[i] = (state_[i] ^ ((previous ^ (previous >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kStateSize) {
      state_[0] = state_[kStateSize - 1];
      i = 1;
    }
  }
  state_[0] = 0x80000000U;  // guarantees a non-zero initial state
  index_ = kStateSize;
}

void PythonRandom::regenerate() {
  auto twist = [](uint32_t upper_from, uint32_t lower_from, uint32_t shifted) {
    const uint32_t y = (upper_from & kUpperMask) | (lower_from & kLowerMask);
    return shifted ^ (y >> 1) ^ ((y & 1U) != 0 ? kMatrixA : 0U);
  };
  for (int k = 0; k < kStateSize; ++k) {
    state_[k] = twist(state_[k], state_[(k + 1) % kStateSize], state_[(k + kShift) % kStateSize]);
  }
  index_ = 0;
}

uint32_t PythonRandom::next_uint32() {
  if (index_ >= kStateSize) regenerate();
  uint32_t y = state_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

uint64_t PythonRandom::getrandbits(int k) {
  if (k < 0 || k > 64) {
    throw Error("getrandbits: k = " + std::to_string(k) + " is out of range; this port supports 0 <= k <= 64");
  }
  if (k == 0) return 0;
  if (k <= 32) return next_uint32() >> (32 - k);
  uint64_t result = next_uint32();            // least significant word first
  const uint64_t high = next_uint32() >> (64 - k);  // the last word keeps its top (k - 32) bits
  return result | (high << 32);
}

uint64_t PythonRandom::randbelow(uint64_t n) {
  if (n == 0) throw Error("randbelow: n must be at least 1 (there is no integer in [0, 0))");
  const int bits = bit_length(n);
  uint64_t r = getrandbits(bits);
  while (r >= n) r = getrandbits(bits);
  return r;
}

double PythonRandom::random() {
  const uint32_t a = next_uint32() >> 5;  // 27 bits
  const uint32_t b = next_uint32() >> 6;  // 26 bits
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<int64_t> PythonRandom::sample(int64_t n, int64_t k) {
  if (n < 0 || k < 0 || k > n) {
    throw Error("sample: cannot draw k = " + std::to_string(k) + " distinct items from a population of " +
                std::to_string(n) + " (need 0 <= k <= population size)");
  }
  std::vector<int64_t> result(static_cast<size_t>(k));
  if (static_cast<uint64_t>(n) <= sample_set_size(k)) {
    // Pool algorithm: draw from the shrinking pool, moving its last live item into the hole.
    std::vector<int64_t> pool(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pool[static_cast<size_t>(i)] = i;
    for (int64_t i = 0; i < k; ++i) {
      const auto j = static_cast<size_t>(randbelow(static_cast<uint64_t>(n - i)));
      result[static_cast<size_t>(i)] = pool[j];
      pool[j] = pool[static_cast<size_t>(n - i - 1)];
    }
  } else {
    // Set-rejection algorithm: redraw from the whole population until unseen.
    std::unordered_set<int64_t> selected;
    for (int64_t i = 0; i < k; ++i) {
      auto j = static_cast<int64_t>(randbelow(static_cast<uint64_t>(n)));
      while (selected.count(j) != 0) j = static_cast<int64_t>(randbelow(static_cast<uint64_t>(n)));
      selected.insert(j);
      result[static_cast<size_t>(i)] = j;
    }
  }
  return result;
}

}  // namespace pg::sweeps
