#pragma once
// Seeded generators with fully specified output: the same bits on every machine and compiler.
// (std::normal_distribution and friends are implementation-defined, so they are not used.)
#include <cstdint>

namespace qaccel {

// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014),
// with the constants of the public reference implementation.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, n) by the multiply-shift method (bias < n / 2^64, fixed by spec).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  // Bell-shaped value with mean 0 and standard deviation 1: the Irwin-Hall sum of the four
  // 16-bit lanes of one output, centred and scaled. Integer arithmetic up to one final float
  // rounding, so it is bit-reproducible without libm. Range is [-2*sqrt(3), 2*sqrt(3)).
  float bell() {
    std::uint64_t x = next();
    std::int64_t s = std::int64_t(x & 0xffff) + std::int64_t((x >> 16) & 0xffff) +
                     std::int64_t((x >> 32) & 0xffff) + std::int64_t(x >> 48);
    s -= std::int64_t{2} << 16;  // mean of the sum is 4 * 2^15
    // std of the sum of four U[0, 2^16) is 2^16 / sqrt(3); one double product, one float rounding.
    return static_cast<float>(static_cast<double>(s) * kInvSumStd);
  }

 private:
  static constexpr double kInvSumStd = 1.7320508075688772 / 65536.0;  // sqrt(3) / 2^16
  std::uint64_t state_;
};

// Derives an independent seed for a named stream (tensor, layer) from a base seed.
inline std::uint64_t derive_seed(std::uint64_t base, std::uint64_t a, std::uint64_t b = 0) {
  SplitMix64 g(base ^ (a * 0xd1b54a32d192ed03ULL) ^ (b * 0x8cb92ba72f3d8dd7ULL));
  g.next();
  return g.next();
}

}  // namespace qaccel
