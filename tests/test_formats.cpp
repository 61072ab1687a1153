// The numeric formats of QUANTIZATION.md: hand-worked groups, value sets, the per-group type
// choice, storage and the exact matmul of every format pair.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "sim/base/error.hpp"
#include "workloads/quant.hpp"
#include "workloads/rng.hpp"

namespace qaccel {
namespace {

std::vector<int> codes_of(const QTensor& t) {
  return {t.q.begin(), t.q.end()};
}

TEST(Formats, MinifloatRoundsToNearestEvenAndSaturates) {
  // E2M1: 0 0.5 1 1.5 2 3 4 6.
  const std::pair<double, double> e2m1[] = {{0.25, 0.0}, {0.26, 0.5}, {0.75, 1.0}, {1.25, 1.0},
                                            {1.75, 2.0}, {2.5, 2.0},  {3.5, 4.0},  {5.0, 4.0},
                                            {5.01, 6.0}, {7.0, 6.0},  {1e9, 6.0},  {-2.5, -2.0}};
  for (auto [v, r] : e2m1)
    EXPECT_EQ(round_minifloat(v, 1, 0, 6.0), r) << v;
  // E4M3: subnormal quantum 2^-9, max 448; 464 lies between 448 and (absent) 480.
  EXPECT_EQ(round_minifloat(std::ldexp(1.0, -10), 3, -6, 448), 0.0);  // tie to even (0)
  EXPECT_EQ(round_minifloat(3 * std::ldexp(1.0, -10), 3, -6, 448), std::ldexp(1.0, -8));
  EXPECT_EQ(round_minifloat(464, 3, -6, 448), 448);
  EXPECT_EQ(round_minifloat(17, 3, -6, 448), 16);  // 16 and 18: tie to even mantissa
  // bfloat16.
  EXPECT_EQ(float_to_bf16_sat(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16_sat(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even
  EXPECT_EQ(float_to_bf16_sat(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd up
  EXPECT_EQ(float_to_bf16_sat(std::numeric_limits<float>::max()), 0x7f7f);  // saturates
  EXPECT_EQ(float_to_bf16_sat(-std::numeric_limits<float>::infinity()), 0xff7f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16_sat(std::nanf("")))));
}

TEST(Formats, HandWorkedIntegerGroups) {
  // int4 asymmetric: lo = -1, hi = 3, s = 4/15, z = round(3.75) = 4; codes q - z.
  std::vector<float> w = {-1.0f, 0.0f, 2.0f, 3.0f};
  QTensor a = quantize_weights(w, 1, 4, 4, WeightFormat::int4asym);
  const float s = 4.0f / 15.0f;
  EXPECT_EQ(a.scales[0], s);
  std::vector<int> expect;
  for (float v : w)
    expect.push_back(std::clamp(int(std::lround(v / s)) + 4, 0, 15) - 4);
  EXPECT_EQ(codes_of(a), expect);
  EXPECT_EQ(expect, (std::vector<int>{-4, 0, 7, 11}));  // 2 / s = 7.4999996 in float32
  // A group of one sign keeps 0 in range: all positive gives z = 0.
  QTensor p = quantize_weights(std::vector<float>{1, 2, 3, 4}, 1, 4, 4, WeightFormat::int2asym);
  EXPECT_EQ(codes_of(p), (std::vector<int>{1, 2, 2, 3}));  // s = 4/3: 0.75, 1.5, 2.25, 3
  // int2 symmetric: {-1, 0, 1}.
  QTensor i2 =
      quantize_weights(std::vector<float>{-2, -0.9f, 0.4f, 2}, 1, 4, 4, WeightFormat::int2);
  EXPECT_EQ(codes_of(i2), (std::vector<int>{-1, 0, 0, 1}));
  // All-zero groups: scale 0, codes 0 (every format).
  for (int f = int(WeightFormat::fp8e4m3); f <= int(WeightFormat::nvfp4); ++f) {
    QTensor z = quantize_weights(std::vector<float>(32, 0.0f), 1, 32, 32, WeightFormat(f));
    for (int c = 0; c < 32; ++c)
      EXPECT_EQ(z.at(0, c), 0.0f) << to_string(WeightFormat(f));
  }
}

TEST(Formats, HandWorkedCodebookAndMicroscalingGroups) {
  // flint4: s = 16 / 16 = 1; 5 is between 4 and 6 (tie: the smaller magnitude), 12 between 8
  // and 16 (tie: 8), 13 -> 16.
  QTensor f = quantize_weights(std::vector<float>{16, 5, 12, 13, -7, 0.5f, -0.6f, 2.5f}, 1, 8, 8,
                               WeightFormat::flint4);
  EXPECT_EQ(f.scales[0], 1.0f);
  EXPECT_EQ(codes_of(f), (std::vector<int>{16, 4, 8, 16, -6, 0, -1, 2}));
  // MXFP4: amax 5 gives X = floor(log2 5) - 2 = 0; elements are E2M1 in units of 0.5.
  std::vector<float> mx(32, 0.0f);
  mx[0] = 5.0f, mx[1] = -1.25f, mx[2] = 0.3f, mx[3] = 2.9f;
  QTensor m4 = quantize_weights(mx, 1, 32, 32, WeightFormat::mxfp4);
  EXPECT_EQ(m4.scales[0], 0.5f);
  EXPECT_EQ(m4.q[0], 8);   // 5 -> 4 (tie to even)
  EXPECT_EQ(m4.q[1], -2);  // -1.25 -> -1 (tie to even)
  EXPECT_EQ(m4.q[2], 1);   // 0.3 -> 0.5
  EXPECT_EQ(m4.q[3], 6);   // 2.9 -> 3
  // MXFP4 clips: amax 7.5 has X = 0 too and 7.5 saturates at 6.
  mx[0] = 7.5f;
  EXPECT_EQ(quantize_weights(mx, 1, 32, 32, WeightFormat::mxfp4).q[0], 12);
  // MXINT8: amax 1.5 gives X = 0; elements round(w * 64) in units of 2^-6.
  std::vector<float> mi(32, 0.0f);
  mi[0] = 1.5f, mi[1] = 0.0078125f /* 0.5 units: tie to 0 */, mi[2] = -0.0234375f /* -1.5 */;
  QTensor m8 = quantize_weights(mi, 1, 32, 32, WeightFormat::mxint8);
  EXPECT_EQ(m8.scales[0], 1.0f / 64);
  EXPECT_EQ(m8.q[0], 96);
  EXPECT_EQ(m8.q[1], 0);
  EXPECT_EQ(m8.q[2], -2);
  // MXFP6 (E3M2): amax 20 gives X = 4 - 4 = 0; 20 -> 20 (= 1.25 * 16), units of 2^-4.
  std::vector<float> m6(32, 0.0f);
  m6[0] = 20.0f, m6[1] = 0.09375f /* 1.5 units: tie to 2 */, m6[2] = 27.0f /* 28 */;
  QTensor q6 = quantize_weights(m6, 1, 32, 32, WeightFormat::mxfp6);
  EXPECT_EQ(q6.scales[0], 1.0f / 16);
  EXPECT_EQ(q6.q[0], 320);
  EXPECT_EQ(q6.q[1], 2);
  EXPECT_EQ(q6.q[2], 448);
  // NVFP4: tensor amax 6 * 448 gives tensor scale 1; a block of amax 12 has E4M3 scale 2, so
  // its elements are w / 2 rounded to E2M1 (units of 0.5: unit scale 1).
  std::vector<float> nv(32, 0.0f);
  nv[16] = 2688.0f, nv[0] = 12.0f, nv[1] = 5.0f, nv[2] = -3.0f;
  QTensor n4 = quantize_weights(nv, 1, 32, 16, WeightFormat::nvfp4);
  EXPECT_EQ(n4.scales[0], 1.0f);
  EXPECT_EQ(n4.q[0], 12);  // 6
  EXPECT_EQ(n4.q[1], 4);   // 2.5: a tie of 2 and 3, to the even mantissa (2)
  EXPECT_EQ(n4.q[2], -3);  // -1.5
}

// The squared error of quantizing w on a grid with the format's rules (written out again).
double grid_error(const std::vector<float>& w, const std::vector<int>& grid) {
  int mx = 0;
  for (int g : grid)
    mx = std::max(mx, std::abs(g));
  float amax = 0;
  for (float v : w)
    amax = std::max(amax, std::fabs(v));
  const float s = amax / float(mx);
  double err = 0;
  for (float v : w) {
    double best = 1e300;
    for (int g : grid)
      best = std::min(best, std::fabs(double(v) - double(g) * double(s)));
    err += best * best;
  }
  return err;
}

TEST(Formats, BitmodChoosesTheTypeOfLeastError) {
  const std::vector<int> fp3 = {-4, -2, -1, 0, 1, 2, 4},
                         fp4 = {-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12};
  auto with = [](std::vector<int> g, int extra) {
    g.push_back(extra);
    return g;
  };
  // Constructed groups that one type represents exactly.
  struct Case {
    WeightFormat f;
    std::vector<float> w;
    int variant;
  };
  const Case cases[] = {{WeightFormat::bitmod3, {3, 1, -2, 4, -4, 0, 2, 1}, 0},
                        {WeightFormat::bitmod3, {-3, 1, -2, 4, -4, 0, 2, 1}, 1},
                        {WeightFormat::bitmod3, {6, 1, -2, 4, -4, 0, 2, 1}, 2},
                        {WeightFormat::bitmod3, {-6, 1, -2, 4, -4, 0, 2, 1}, 3},
                        {WeightFormat::bitmod4, {10, 12, -12, 3, 1, 0, -6, 8}, 0},
                        {WeightFormat::bitmod4, {-10, 12, -12, 3, 1, 0, -6, 8}, 1},
                        {WeightFormat::bitmod4, {16, 12, -8, 3, 1, 0, -6, 8}, 2},
                        {WeightFormat::bitmod4, {-16, 12, -8, 3, 1, 0, -6, 8}, 3},
                        // Exact on both +r and -r (the same scale): the tie keeps the first.
                        {WeightFormat::bitmod3, {4, -4, 2, 1, 0, -1, -2, 0}, 0},
                        {WeightFormat::bitmod4, {12, -12, 8, 6, -3, 1, 0, 2}, 0}};
  for (const Case& c : cases) {
    QTensor t = quantize_weights(c.w, 1, 8, 8, c.f);
    EXPECT_EQ(t.variant[0], c.variant) << to_string(c.f) << " case " << c.w[0];
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(t.at(0, i), c.w[std::size_t(i)]) << "exact on its own grid";
  }
  // Random groups: the chosen type's error is the least of the four.
  SplitMix64 g(7);
  for (int trial = 0; trial < 200; ++trial) {
    const bool three = trial % 2 == 0;
    std::vector<float> w(128);
    for (float& v : w)
      v = g.bell() * (trial % 7 == 0 ? 3.0f : 1.0f);
    w[std::size_t(trial % 128)] *= (trial % 3 == 0 ? -2.5f : 2.5f);  // an outlier either side
    QTensor t =
        quantize_weights(w, 1, 128, 128, three ? WeightFormat::bitmod3 : WeightFormat::bitmod4);
    const auto& base = three ? fp3 : fp4;
    const int r = three ? 3 : 10, a = three ? 6 : 16;
    const double e[4] = {grid_error(w, with(base, r)), grid_error(w, with(base, -r)),
                         grid_error(w, with(base, a)), grid_error(w, with(base, -a))};
    double got = 0;
    for (int i = 0; i < 128; ++i) {
      const double d =
          double(w[std::size_t(i)]) - double(t.q[std::size_t(i)]) * double(t.scales[0]);
      got += d * d;
    }
    EXPECT_DOUBLE_EQ(got, e[t.variant[0]]);
    EXPECT_LE(e[t.variant[0]], *std::min_element(e, e + 4)) << trial;
  }
}

TEST(Formats, OliveOutlierVictimPairs) {
  // Scale candidates: with c = 7 the group {7, 1, 0.5, 0} is exact (s = 1, no outlier).
  QTensor n = quantize_weights(std::vector<float>{7, 1, -3, 0}, 1, 4, 4, WeightFormat::olive4);
  EXPECT_EQ(codes_of(n), (std::vector<int>{7, 1, -3, 0}));
  // An outlier 96 next to 1 with small normals: s = 1 (c = 96) keeps 96 exact and its pair
  // partner becomes the victim (0).
  QTensor o = quantize_weights(std::vector<float>{1, 96, 3, -2}, 1, 4, 4, WeightFormat::olive4);
  EXPECT_EQ(codes_of(o), (std::vector<int>{0, 96, 3, -2}));
  // Every code is a normal int4 or an outlier, and a pair holds at most one outlier.
  SplitMix64 g(3);
  std::vector<float> w(4096);
  for (float& v : w)
    v = (0.5f * g.bell()) * (g.below(50) == 0 ? 40.0f : 1.0f);
  QTensor t = quantize_weights(w, 32, 128, 64, WeightFormat::olive4);
  const std::set<int> outliers = {8, 12, 16, 24, 32, 48, 64, 96};
  for (std::size_t i = 0; i < t.q.size(); i += 2) {
    int big = 0;
    for (std::size_t j = i; j < i + 2; ++j) {
      const int c = t.q[j];
      EXPECT_TRUE(std::abs(c) <= 7 || outliers.count(std::abs(c))) << c;
      big += std::abs(c) > 7;
    }
    EXPECT_LE(big, 1);
    if (big) {
      EXPECT_TRUE(t.q[i] == 0 || t.q[i + 1] == 0) << "the victim is zero";
    }
  }
}

TEST(Formats, ValueSetsAndStorage) {
  SplitMix64 g(11);
  std::vector<float> w(64 * 256);
  for (float& v : w)
    v = g.bell() * (g.below(100) == 0 ? 8.0f : 1.0f);
  const std::map<WeightFormat, std::set<int>> sets = {
      {WeightFormat::flint4, {0, 1, 2, 3, 4, 6, 8, 16}},
      {WeightFormat::fp3, {0, 1, 2, 4}},
      {WeightFormat::fp4, {0, 1, 2, 3, 4, 6, 8, 12}},
      {WeightFormat::mxfp4, {0, 1, 2, 3, 4, 6, 8, 12}},
      {WeightFormat::nvfp4, {0, 1, 2, 3, 4, 6, 8, 12}},
      {WeightFormat::bitmod3, {0, 1, 2, 3, 4, 6}},
      {WeightFormat::bitmod4, {0, 1, 2, 3, 4, 6, 8, 10, 12, 16}}};
  for (const auto& [f, set] : sets) {
    QTensor t = quantize_weights(w, 64, 256, 32, f);
    for (int c : t.q)
      EXPECT_TRUE(set.count(std::abs(c))) << to_string(f) << " code " << c;
  }
  for (int b = 2; b <= 8; ++b) {
    QTensor s = quantize_weights(w, 64, 256, 64, WeightFormat(int(WeightFormat::int2) + b - 2));
    QTensor a = quantize_weights(w, 64, 256, 64, WeightFormat(int(WeightFormat::int2asym) + b - 2));
    const int qmax = (1 << (b - 1)) - 1;
    for (int c : s.q)
      EXPECT_LE(std::abs(c), qmax);
    for (int c : a.q)
      EXPECT_LE(std::abs(c), (1 << b) - 1);
  }
  // Storage: bits per element plus per-group scales / zero points / selectors.
  auto bytes = [](const char* scheme) { return parse_scheme(scheme).weight_bytes(4096, 4096); };
  const std::int64_t n = 4096LL * 4096;
  EXPECT_EQ(bytes("w4a8-g128"), n / 2 + n / 128 * 4);
  EXPECT_EQ(bytes("int4asym-g128"), (n * 4 + n / 128 * 36) / 8);
  EXPECT_EQ(bytes("bitmod3-g128"), (n * 3 + n / 128 * 34) / 8);  // 3.265625 bits per weight
  EXPECT_EQ(bytes("mxfp4"), n / 2 + n / 32);                     // 4.25
  EXPECT_EQ(bytes("mxfp6"), n * 6 / 8 + n / 32);                 // 6.25
  EXPECT_EQ(bytes("nvfp4"), n / 2 + n / 16 + 4);                 // 4.5 + a tensor scale
  EXPECT_EQ(bytes("fp16"), n * 2);
  EXPECT_EQ(bytes("fp8e4m3-pc"), n + 4096 * 4);
}

TEST(Formats, WideAndNarrowExactSumsAgree) {
  // Two independent exact accumulators over binary16 products, subnormals and extremes.
  SplitMix64 g(5);
  for (int trial = 0; trial < 2000; ++trial) {
    HalfDotSum narrow;
    WideDotSum wide;
    const int n = 1 + int(g.below(64));
    for (int i = 0; i < n; ++i) {
      std::uint16_t a = std::uint16_t(g.below(0x7c00)), b = std::uint16_t(g.below(0x7c00));
      if (g.below(2)) a |= 0x8000;
      if (trial % 3 == 0) b = std::uint16_t(g.below(0x400));  // subnormal products
      narrow.add(a, b);
      const ElemTerm x = decode_half(a), y = decode_half(b);
      wide.add_term(std::int64_t(x.sig) * y.sig, x.e2 + y.e2);
    }
    EXPECT_EQ(std::bit_cast<std::uint32_t>(narrow.to_float()),
              std::bit_cast<std::uint32_t>(wide.to_float()))
        << trial;
  }
  // bfloat16 extremes: the largest products overflow float32 to infinity, the smallest round
  // to the float32 subnormal quantum.
  WideDotSum big, tiny, cancel;
  const ElemTerm mx = decode_bf16(0x7f7f), mn = decode_bf16(0x0001);
  big.add_term(std::int64_t(mx.sig) * mx.sig, mx.e2 + mx.e2);
  EXPECT_TRUE(std::isinf(big.to_float()));
  tiny.add_term(std::int64_t(mn.sig) * mn.sig, mn.e2 + mn.e2);  // 2^-266
  EXPECT_EQ(tiny.to_float(), 0.0f);
  tiny.add_term(1, -149);  // 2^-149 + 2^-266 rounds to 2^-149
  EXPECT_EQ(tiny.to_float(), std::ldexp(1.0f, -149));
  tiny.add_term(1, -150);  // 1.5 quanta + a bit: rounds up to 2
  EXPECT_EQ(tiny.to_float(), std::ldexp(1.0f, -148));
  cancel.add_term(3, 100), cancel.add_term(-3, 100), cancel.add_term(-1, -200);
  EXPECT_EQ(cancel.to_float(), -0.0f);
  EXPECT_TRUE(std::signbit(cancel.to_float()) || cancel.to_float() == 0.0f);
}

// qmatmul of every format pair against the contract evaluated in the test: elements whose
// group sums are exact in double (fp16 inputs on a fixed 2^-10 grid), then the float32 steps.
TEST(Formats, MatmulOfEveryFormatPairFollowsTheContract) {
  SplitMix64 g(9);
  const int rows = 6, cols = 128;
  std::vector<float> w(rows * cols), xf(cols);
  for (float& v : w)
    v = g.bell();
  for (float& v : xf)
    v = float(int(g.below(4095)) - 2047) / 1024.0f;  // exact in fp16, bf16 rounds some
  for (const std::string& fname : weight_format_names()) {
    WeightFormat f{};
    ASSERT_TRUE(parse_weight_format(fname, f));
    if (f == WeightFormat::fp32) continue;
    for (ActFormat a : {ActFormat::int8, ActFormat::int16, ActFormat::fp16, ActFormat::bf16,
                        ActFormat::fp8e4m3, ActFormat::fp8e5m2}) {
      QuantSpec q;
      q.weights = f, q.act = a, q.group_size = info(f).grouped ? 32 : 0;
      const int G = q.group_for(cols);
      QTensor t = quantize_weights(w, rows, cols, G, f);
      QActivation x;
      quantize_activation(xf, G, a, ActGranularity::token, x);
      std::vector<float> out(rows);
      qmatmul(out, x, t);
      for (int r = 0; r < rows; ++r) {
        float val = 0.0f;
        for (int gi = 0; gi < cols / G; ++gi) {
          long double s = 0;  // 64-bit significand: these sums are exact
          for (int j = gi * G; j < (gi + 1) * G; ++j) {
            const long double we = t.elem == Elem::int_code ? t.q[std::size_t(r * cols + j)]
                                   : t.elem == Elem::half
                                       ? half_to_float(t.h[std::size_t(r * cols + j)])
                                       : bf16_to_float(t.h[std::size_t(r * cols + j)]);
            const long double xe = x.elem == Elem::int_code ? x.q[std::size_t(j)]
                                   : x.elem == Elem::half   ? half_to_float(x.h[std::size_t(j)])
                                                            : bf16_to_float(x.h[std::size_t(j)]);
            s += we * xe;
          }
          val +=
              (float(s) * t.scales[std::size_t(r * (cols / G) + gi)]) * x.scales[std::size_t(gi)];
        }
        EXPECT_EQ(std::bit_cast<std::uint32_t>(out[std::size_t(r)]),
                  std::bit_cast<std::uint32_t>(val))
            << fname << " x " << to_string(a) << " row " << r;
      }
    }
  }
}

TEST(Formats, FormatNamesAreValidatedEverywhere) {
  for (const std::string& n : weight_format_names()) {
    WeightFormat f{};
    EXPECT_TRUE(parse_weight_format(n, f));
    EXPECT_EQ(to_string(f), n);
    if (f != WeightFormat::fp32) {
      EXPECT_NO_THROW(parse_scheme(n)) << n;
    }
  }
  WeightFormat f{};
  EXPECT_FALSE(parse_weight_format("mxfp8", f));
  EXPECT_THROW(parse_scheme("mxfp8"), ConfigError);
}

// The fp16-input dot products size their 32-bit sums by code_max: it must bound every code.
TEST(Formats, CodeMaxIsTheLargestCode) {
  for (const WeightFormatInfo& fi : weight_formats()) {
    const WeightFormat f = fi.id;
    if (fi.elem != Elem::int_code) continue;
    int m = 0;
    for (int c : code_values(f))
      m = std::max(m, std::abs(c));
    EXPECT_EQ(m, fi.code_max) << to_string(f);
  }
}

}  // namespace
}  // namespace qaccel
