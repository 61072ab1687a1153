#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/base/error.hpp"
#include "workloads/quant.hpp"
#include "workloads/rng.hpp"

using namespace qaccel;

namespace {
std::vector<float> bell_vec(std::size_t n, std::uint64_t seed, float sd = 1.0f) {
  SplitMix64 g(seed);
  std::vector<float> v(n);
  for (float& x : v)
    x = sd * g.bell();
  return v;
}
}  // namespace

TEST(Quant, RoundsHalfAwayFromZeroAndClamps) {
  EXPECT_EQ(quantize_value(2.5f, 1.0f, 127), 3);
  EXPECT_EQ(quantize_value(-2.5f, 1.0f, 127), -3);
  EXPECT_EQ(quantize_value(1.5f, 1.0f, 127), 2);
  EXPECT_EQ(quantize_value(0.49f, 1.0f, 127), 0);
  EXPECT_EQ(quantize_value(1000.0f, 1.0f, 7), 7);
  EXPECT_EQ(quantize_value(-1000.0f, 1.0f, 3), -3);
  EXPECT_EQ(quantize_value(5.0f, 0.0f, 127), 0);
}

// The fast rounding equals C's roundf on every float the quantizer can see (random bit
// patterns of |v| < 2^15, plus halves and their neighbours).
TEST(Quant, RoundingMatchesRoundf) {
  SplitMix64 g(12);
  for (int i = 0; i < 2000000; ++i) {
    std::uint32_t bits = std::uint32_t(g.next());
    std::uint32_t exp = 100 + (bits >> 24) % 42;  // 2^-27 .. 2^14
    float v = std::bit_cast<float>((bits & 0x807fffffu) | (exp << 23));
    ASSERT_EQ(quantize_value(v, 1.0f, 32767), std::clamp(int(std::roundf(v)), -32767, 32767)) << v;
  }
  for (int k = -300; k <= 300; ++k) {
    float h = float(k) + 0.5f;
    for (float v : {h, std::nextafter(h, 1e9f), std::nextafter(h, -1e9f)})
      ASSERT_EQ(quantize_value(v, 1.0f, 32767), int(std::roundf(v))) << v;
  }
  EXPECT_EQ(quantize_value(1e30f, 1.0f, 127), 127);
  EXPECT_EQ(quantize_value(-1e30f, 1.0f, 127), -127);
}

TEST(Quant, ScaleIsMaxOverQmaxAndZeroGroupIsZero) {
  std::vector<float> g = {0.5f, -2.54f, 1.0f};
  EXPECT_EQ(symmetric_scale(g, 127), 2.54f / 127.0f);
  std::vector<float> z(32, 0.0f);
  QTensor t = quantize_weights(z, 1, 32, 32, 127);
  EXPECT_EQ(t.scales[0], 0.0f);
  for (auto q : t.q)
    EXPECT_EQ(q, 0);
}

// |x - q*s| <= s/2 (plus float rounding of the division) for every element, every format.
TEST(Quant, RoundTripErrorWithinHalfStep) {
  for (int qmax : {127, 7, 3})
    for (int group : {32, 64, 128}) {
      auto w = bell_vec(8 * 256, qmax * 1000 + group);
      QTensor t = quantize_weights(w, 8, 256, group, qmax);
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 256; ++c) {
          float s = t.scales[std::size_t(r) * (256 / group) + c / group];
          float x = w[std::size_t(r) * 256 + c];
          ASSERT_LE(std::fabs(x - t.at(r, c)), 0.5f * s * (1.0f + 1e-5f))
              << "qmax " << qmax << " group " << group;
          ASSERT_LE(std::abs(int(t.q[std::size_t(r) * 256 + c])), qmax);
        }
    }
}

TEST(Quant, ActivationGranularity) {
  auto x = bell_vec(128, 11);
  x[5] = 40.0f;  // an outlier in group 0
  QActivation tok, grp;
  quantize_activation(x, 32, 127, ActGranularity::token, tok);
  quantize_activation(x, 32, 127, ActGranularity::group, grp);
  for (float s : tok.scales)
    EXPECT_EQ(s, 40.0f / 127.0f);
  EXPECT_EQ(grp.scales[0], 40.0f / 127.0f);
  EXPECT_LT(grp.scales[1], tok.scales[1]);
  QActivation a16;
  quantize_activation(x, 32, 32767, ActGranularity::token, a16);
  EXPECT_EQ(a16.q[5], 32767);
}

// The integer group sum is exact, including the extremes where int32 would overflow
// (int16 activations x int8 weights over a 14336-long per-channel group).
TEST(Quant, GroupDotIsExact) {
  SplitMix64 g(5);
  for (int n : {1, 31, 32, 128, 513, 14336}) {
    std::vector<std::int16_t> x(n);
    std::vector<std::int16_t> w(n);
    long long expect = 0;
    for (int i = 0; i < n; ++i) {
      x[i] = std::int16_t(int(g.below(65535)) - 32767);
      w[i] = std::int16_t(int(g.below(65535)) - 32767);
      expect += (long long)x[i] * w[i];
    }
    EXPECT_EQ(group_dot(x.data(), w.data(), n), expect) << n;
  }
  std::vector<std::int16_t> x(14336, 32767);
  std::vector<std::int16_t> w(14336, -32767);
  EXPECT_EQ(group_dot(x.data(), w.data(), 14336), -32767LL * 32767 * 14336);
}

// qmatmul against the contract written as a plain loop (runq.c's shape): per row, per group
// ascending, val += ((float)acc * ws) * xs from 0.0f.
TEST(Quant, QMatmulFollowsTheContract) {
  const int rows = 7, cols = 256;
  for (int qmax : {127, 7, 3})
    for (int group : {32, 128, 256}) {
      auto w = bell_vec(rows * cols, 77 + qmax + group, 0.05f);
      auto xf = bell_vec(cols, 99 + group);
      QTensor t = quantize_weights(w, rows, cols, group, qmax);
      for (auto gran : {ActGranularity::token, ActGranularity::group}) {
        QActivation x;
        quantize_activation(xf, group, 127, gran, x);
        std::vector<float> out(rows);
        qmatmul(out, x, t);
        for (int r = 0; r < rows; ++r) {
          float val = 0.0f;
          for (int j = 0; j < cols; j += group) {
            int acc = 0;
            for (int k = 0; k < group; ++k)
              acc += int(x.q[j + k]) * int(t.q[std::size_t(r) * cols + j + k]);
            float a = float(acc) * t.scales[std::size_t(r) * (cols / group) + j / group];
            a = a * x.scales[j / group];
            val = val + a;
          }
          ASSERT_EQ(std::bit_cast<std::uint32_t>(out[r]), std::bit_cast<std::uint32_t>(val))
              << "row " << r << " qmax " << qmax << " group " << group;
        }
      }
    }
}

TEST(Quant, FMatmulIsLeftToRight) {
  for (int rows : {1, 3, 4, 9}) {
    const int cols = 77;
    auto w = bell_vec(rows * cols, rows);
    auto x = bell_vec(cols, 1000 + rows);
    std::vector<float> out(rows);
    fmatmul(out, x, w, rows, cols);
    for (int r = 0; r < rows; ++r) {
      float a = 0.0f;
      for (int j = 0; j < cols; ++j)
        a += w[std::size_t(r) * cols + j] * x[j];
      EXPECT_EQ(std::bit_cast<std::uint32_t>(out[r]), std::bit_cast<std::uint32_t>(a));
    }
  }
}

TEST(Quant, QMatmulRejectsMismatchedShapes) {
  QTensor t = quantize_weights(std::vector<float>(64, 1.0f), 1, 64, 32, 127);
  QActivation x;
  quantize_activation(std::vector<float>(32, 1.0f), 32, 127, ActGranularity::token, x);
  std::vector<float> out(1);
  EXPECT_THROW(qmatmul(out, x, t), InternalError);
}

TEST(Half, EveryHalfRoundTrips) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    float f = half_to_float(std::uint16_t(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_half(f), h) << std::hex << h;
  }
}

// Against the compiler's own _Float16 conversion (IEEE round-to-nearest-even) on values that
// cover normals, subnormals, ties, overflow and underflow.
TEST(Half, MatchesCompilerConversion) {
  SplitMix64 g(1);
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t bits = std::uint32_t(g.next());
    // Concentrate on the exponent range around half's: 2^-30 .. 2^18.
    std::uint32_t exp = 97 + (bits >> 24) % 49;
    float f = std::bit_cast<float>((bits & 0x807fffffu) | (exp << 23));
    _Float16 ref = static_cast<_Float16>(f);
    ASSERT_EQ(float_to_half(f), std::bit_cast<std::uint16_t>(ref)) << f;
    ASSERT_EQ(half_to_float(float_to_half(f)), static_cast<float>(ref));
  }
}

TEST(Half, SaturatingConversionKeepsFiniteValues) {
  EXPECT_EQ(float_to_half_sat(1e6f), 0x7bffu);  // 65504, where float_to_half gives infinity
  EXPECT_EQ(float_to_half(1e6f), 0x7c00u);
  EXPECT_EQ(float_to_half_sat(-65520.0f), 0xfbffu);  // the tie that rounds to -inf
  EXPECT_EQ(float_to_half_sat(-INFINITY), 0xfbffu);
  EXPECT_EQ(float_to_half_sat(65504.0f), 0x7bffu);
  EXPECT_EQ(float_to_half_sat(1.5f), float_to_half(1.5f));
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half_sat(NAN))));
}

namespace {
std::uint16_t h(float f) {
  return float_to_half(f);
}
float exact_dot(std::initializer_list<std::pair<float, float>> terms) {
  HalfDotSum s;
  for (auto [a, b] : terms)
    s.add(h(a), h(b));
  return s.to_float();
}
}  // namespace

// Hand-worked sums where a float32 running sum would give other bits.
TEST(Half, DotSumIsExactAndRoundsOnceToNearestEven) {
  const float tiny = std::ldexp(1.0f, -24);  // the smallest subnormal half
  // 2^-48 survives the cancellation of two 2^32-sized products (a running sum gives 0).
  EXPECT_EQ(exact_dot({{tiny, tiny}, {65504, 65504}, {-65504, 65504}}), std::ldexp(1.0f, -48));
  const float e12 = std::ldexp(1.0f, -12);
  // 1 + 2^-24 is a tie between 1 and 1 + 2^-23: to even, 1.
  EXPECT_EQ(exact_dot({{1, 1}, {e12, e12}}), 1.0f);
  // 1 + 3 * 2^-24 is a tie between 1 + 2^-23 (odd) and 1 + 2^-22 (even): 1 + 2^-22, where a
  // running float32 sum stays at 1.
  EXPECT_EQ(exact_dot({{1, 1}, {e12, e12}, {e12, e12}, {e12, e12}}), 1.0f + std::ldexp(1.0f, -22));
  // 1 + 2^-24 + 2^-48: just above the tie, so up to 1 + 2^-23.
  EXPECT_EQ(exact_dot({{1, 1}, {e12, e12}, {tiny, tiny}}), 1.0f + std::ldexp(1.0f, -23));
  // Signs, and a negative tie: -(1 + 2^-24) -> -1.
  EXPECT_EQ(exact_dot({{-1, 1}, {e12, -e12}}), -1.0f);
  EXPECT_EQ(exact_dot({{-3, -0.5f}, {2, 0.25f}}), 2.0f);
  // The largest products (65504^2 = 4290774016) add exactly far beyond float32's 2^24.
  EXPECT_EQ(exact_dot({{65504, 65504}, {65504, 65504}, {65504, 65504}}), 3.0f * 4290774016.0f);
  EXPECT_EQ(exact_dot({}), 0.0f);
  HalfDotSum n;
  n.add(h(1), 0x7e00u);  // NaN
  n.add(h(1), h(1));
  EXPECT_TRUE(std::isnan(n.to_float()));
}

// Random sums whose products span fewer than 53 bits are exact in double: the exact sum rounded
// once to float must equal the accumulator's result, for any order and split of the terms.
TEST(Half, DotSumEqualsAnExactDoubleSumRoundedOnce) {
  SplitMix64 g(7);
  for (int trial = 0; trial < 20000; ++trial) {
    const int n = 1 + int(g.below(40));
    double exact = 0;
    HalfDotSum fwd, split_a, split_b;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> t(static_cast<std::size_t>(n));
    for (auto& [a, b] : t) {
      // Halves in [2^-6, 2^6) with either sign: products in [2^-12, 2^12), 22-bit mantissas.
      auto pick = [&] {
        const std::uint16_t e = std::uint16_t(15 - 6 + g.below(12)),
                            m = std::uint16_t(g.below(1024));
        return std::uint16_t((g.below(2) << 15) | (e << 10) | m);
      };
      a = pick(), b = pick();
      exact += double(half_to_float(a)) * double(half_to_float(b));
    }
    for (int i = 0; i < n; ++i)
      fwd.add(t[std::size_t(i)].first, t[std::size_t(i)].second);
    for (int i = n - 1; i >= 0; --i)  // reversed, and split into two sums by parity
      (i % 2 ? split_a : split_b).add(t[std::size_t(i)].first, t[std::size_t(i)].second);
    split_a.add(split_b);
    ASSERT_EQ(fwd.to_float(), static_cast<float>(exact)) << trial;
    ASSERT_EQ(split_a.to_float(), fwd.to_float()) << trial;
  }
}

TEST(Half, HMatmulIsTheExactSumPerRow) {
  const int rows = 5, cols = 96;
  std::vector<float> w = bell_vec(std::size_t(rows) * cols, 3), x = bell_vec(cols, 4, 100.0f);
  w[7] = 1e9f;  // saturates to 65504
  const QTensor t = half_weights(w, rows, cols);
  ASSERT_TRUE(t.fp16());
  EXPECT_EQ(t.h[7], 0x7bffu);
  EXPECT_EQ(t.at(0, 7), 65504.0f);
  QActivation a;
  half_activation(x, a);
  std::vector<float> out(rows);
  hmatmul(out, a, t);
  for (int r = 0; r < rows; ++r) {
    HalfDotSum s;
    for (int j = 0; j < cols; ++j)
      s.add(t.h[std::size_t(r) * cols + j], a.h[std::size_t(j)]);
    EXPECT_EQ(out[std::size_t(r)], s.to_float());
    // ... and close to the float32 product of the unrounded operands (r > 0: no saturation).
    if (r > 0) {
      double f = 0, mag = 0;
      for (int j = 0; j < cols; ++j)
        f += double(w[std::size_t(r) * cols + j]) * x[std::size_t(j)],
            mag += std::fabs(double(w[std::size_t(r) * cols + j]) * x[std::size_t(j)]);
      EXPECT_NEAR(out[std::size_t(r)], f, mag * 1e-3);
    }
  }
  std::vector<float> wrong(rows + 1);
  EXPECT_THROW(hmatmul(wrong, a, t), InternalError);
}

// The direct rounding of a fixed-point group sum equals HalfDotSum's for the same value:
// hand-worked ties first, then random sums over the whole range of acc and e.
TEST(Half, FixedToFloatRoundsLikeTheAccumulator) {
  auto binned = [](std::int64_t acc, int e) {
    HalfDotSum s;
    s.add_term(acc, e + 48);
    return s.to_float();
  };
  // 2^24 + 1 is a tie between 2^24 and 2^24 + 2: to even, 2^24; 2^24 + 3 goes up to 2^24 + 4.
  EXPECT_EQ(fixed_to_float((1 << 24) + 1, 0), 16777216.0f);
  EXPECT_EQ(fixed_to_float((1 << 24) + 3, -3), 16777220.0f / 8.0f);
  EXPECT_EQ(fixed_to_float(-((1 << 24) + 3), 5), -16777220.0f * 32.0f);
  // Just above a tie (2^40 + 2^16 + 1): up, to 2^40 + 2^17.
  EXPECT_EQ(fixed_to_float((std::int64_t(1) << 40) + (1 << 16) + 1, 0),
            std::ldexp(1.0f, 40) + std::ldexp(1.0f, 17));
  EXPECT_EQ(fixed_to_float(1, -24), std::ldexp(1.0f, -24));
  EXPECT_EQ(fixed_to_float(0, -7), 0.0f);
  SplitMix64 g(11);
  for (int trial = 0; trial < 200000; ++trial) {
    const int bits = 1 + int(g.below(62));
    std::int64_t acc = std::int64_t(g.next() >> (64 - bits));
    if (bits > 25 && g.below(2)) {  // an exact tie (24 kept bits, then 1000...), or next to it
      const int drop = bits - 24;
      acc = (std::int64_t((g.next() >> 40) | (1u << 23)) << drop) | (std::int64_t(1) << (drop - 1));
      acc += std::int64_t(g.below(3)) - 1;
    }
    if (g.below(2)) acc = -acc;
    const int e = -24 + int(g.below(30));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(fixed_to_float(acc, e)),
              std::bit_cast<std::uint32_t>(binned(acc, e)))
        << acc << " " << e;
  }
}

// The int16-digit dot product of a fixed-point group equals the plain sum of code * xfix (in
// 128 bits here), for every digit count, large codes (32-bit sums in short blocks) and
// signs.
TEST(Half, FixedGroupDotEqualsTheWideSum) {
  SplitMix64 g(5);
  int seen[4] = {0, 0, 0, 0};  // groups per digit count
  for (int trial = 0; trial < 3000; ++trial) {
    const int G = trial % 5 == 0 ? 2 : trial % 5 == 1 ? 64 : 32;  // 2: the widest span, 34
    const int span = int(g.below(36));
    const int code_max = trial % 3 == 0 ? 32767 : trial % 3 == 1 ? 127 : 6;
    std::vector<ElemTerm> x(std::size_t(2 * G));
    for (ElemTerm& t : x) {
      t.sig = std::int32_t(g.below(2048)) * (g.below(2) ? -1 : 1);
      t.e2 = -24 + int(g.below(std::uint32_t(span + 1)));
      if (g.below(8) == 0) t.sig = 0;
    }
    x[0].sig = g.below(2) ? 2047 : -2047, x[0].e2 = -24 + span;  // the widest element
    x[1].sig = 1, x[1].e2 = -24;                                 // the smallest
    std::vector<std::int16_t> codes(x.size());
    for (auto& c : codes)
      c = std::int16_t(int(g.below(std::uint32_t(2 * code_max + 1))) - code_max);
    codes[0] = std::int16_t(g.below(2) ? code_max : -code_max);
    HalfFixed hf;
    prepare_half_fixed(x, G, hf);
    for (std::size_t gi = 0; gi < 2; ++gi) {
      if (!hf.fixed[gi]) continue;
      ++seen[hf.digits[gi]];
      __int128 want = 0;
      for (std::size_t j = gi * G; j < (gi + 1) * G; ++j)
        if (x[j].sig != 0)  // a zero's exponent may lie below the group's
          want += __int128(codes[j]) * x[j].sig * (__int128(1) << (x[j].e2 - hf.e[gi]));
      ASSERT_EQ(std::int64_t(want), fixed_group_dot(hf, gi, G, codes.data() + gi * G, code_max))
          << trial << " group " << gi << " digits " << int(hf.digits[gi]);
    }
  }
  for (int n = 1; n <= 3; ++n)
    EXPECT_GT(seen[n], 20) << n << " digits";
}
