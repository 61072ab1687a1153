#include <gtest/gtest.h>

#include <bit>
#include <fstream>
#include <sstream>

#include "arch/common/unit.hpp"
#include "arch/systolic/array.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "test_util.hpp"
#include "workloads/quant.hpp"
#include "workloads/rng.hpp"

using namespace qaccel;
using namespace qaccel::systolic;

namespace {

struct Operands {
  std::vector<std::int16_t> a;
  std::vector<std::int16_t> w;
};

Operands random_operands(const GemmShape& s, std::uint64_t seed, int amax = 127, int wmax = 127) {
  SplitMix64 g(seed);
  Operands o;
  o.a.resize(std::size_t(s.m * s.k));
  o.w.resize(std::size_t(s.n * s.k));
  for (auto& v : o.a)
    v = std::int16_t(int(g.below(2 * amax + 1)) - amax);
  for (auto& v : o.w)
    v = std::int16_t(int(g.below(2 * wmax + 1)) - wmax);
  return o;
}

std::int64_t run(const ArraySpec& arr, const GemmShape& s, const Operands& o, Mode mode,
                 std::vector<std::int64_t>& acc) {
  return run_int_gemm(arr, IntGemm{o.a.data(), o.w.data(), s}, mode, acc);
}

}  // namespace

// 2x2 WS, M=3, N=2, K=2 (one fold). Preload: weight rows enter from the top, 2 cycles. Stream:
// a[t][r] enters row r at stream cycle t + r; column c's sum for t leaves the bottom at cycle
// t + (R-1) + c; the last (t=2, c=1) leaves at cycle 2 + 1 + 1 = 4, so 5 stream cycles.
// Busy 2 + 5 = 7 = 2R + C + T - 2 cycles with R = C = 2, T = M = 3; reported as SCALE-Sim
// reports it, the last busy cycle's index: 6.
TEST(Systolic, HandWorked2x2WeightStationary) {
  ArraySpec arr{2, 2, Dataflow::ws};
  GemmShape s{3, 2, 2, 0};
  Operands o;
  o.a = {1, 2, 3, 4, 5, 6};  // a[m][k]
  o.w = {1, -1, 2, 0};       // w[n][k]: column n of B
  std::vector<std::int64_t> acc;
  EXPECT_EQ(run(arr, s, o, Mode::step, acc), 6);
  // out[m][n] = a[m][0] w[n][0] + a[m][1] w[n][1]: (1-2, 2), (3-4, 6), (5-6, 10).
  EXPECT_EQ(acc, (std::vector<std::int64_t>{-1, 2, -1, 6, -1, 10}));
  EXPECT_EQ(compute_cycles(arr, s), 6);
}

// 4x4 OS, M=N=4, K=5: PE (r,c) does its last MAC at cycle (K-1) + r + c, the last PE at
// 4 + 3 + 3 = 10, so 11 busy cycles = R + C + T - 2; the results drain while the next fold
// streams (SCALE-Sim): reported 10. M = 5 needs a second row fold: 22 busy, reported 21.
// With the drain exposed (4 rows shift out, 4 cycles per fold): 15 per fold, 14 and 29.
TEST(Systolic, HandWorked4x4OutputStationary) {
  ArraySpec arr{4, 4, Dataflow::os};
  std::vector<std::int64_t> acc;
  GemmShape s{4, 4, 5, 0};
  EXPECT_EQ(run(arr, s, random_operands(s, 1), Mode::step, acc), 10);
  GemmShape s5{5, 4, 5, 0};
  EXPECT_EQ(run(arr, s5, random_operands(s5, 2), Mode::step, acc), 21);
  arr.os_drain_exposed = true;
  EXPECT_EQ(run(arr, s, random_operands(s, 1), Mode::step, acc), 14);
  EXPECT_EQ(run(arr, s5, random_operands(s5, 2), Mode::step, acc), 29);
  EXPECT_EQ(compute_cycles(arr, s5), 29);
}

// 4x4 IS, M=6, N=3, K=4: rows <- K = 4 (one fold), cols <- M = 6 (two folds), T = N = 3:
// 2 * (2*4 + 4 + 3 - 2) = 26 busy, reported 25. With a double-buffered preload only the first
// fold loads in the open: 4 + 2 * (4 + 4 + 3 - 2) = 22 busy, reported 21.
TEST(Systolic, HandWorked4x4InputStationary) {
  ArraySpec arr{4, 4, Dataflow::is};
  GemmShape s{6, 3, 4, 0};
  std::vector<std::int64_t> acc;
  EXPECT_EQ(run(arr, s, random_operands(s, 3), Mode::step, acc), 25);
  arr.preload_double_buffered = true;
  EXPECT_EQ(run(arr, s, random_operands(s, 3), Mode::step, acc), 21);
  EXPECT_EQ(compute_cycles(arr, s), 21);
}

// SCALE-Sim v2's own COMPUTE_REPORT "Total Cycles", measured by running it (commit 22f88b1,
// GEMM topology mode, 64 MiB SRAMs so no stalls) on 93 layer x array x dataflow cases, and the
// two figures a user reported (64^3 on 8x8 OS: 4991; 128^3 on 128x128 OS: 381).
TEST(Systolic, MatchesScaleSimV2ComputeReport) {
  ArraySpec os8{8, 8, Dataflow::os}, os128{128, 128, Dataflow::os};
  EXPECT_EQ(compute_cycles(os8, {64, 64, 64, 0}), 4991);
  EXPECT_EQ(compute_cycles(os128, {128, 128, 128, 0}), 381);
  std::ifstream in(std::string(QACCEL_SOURCE_DIR) + "/tests/data/scalesim_v2_compute.csv");
  ASSERT_TRUE(in) << "tests/data/scalesim_v2_compute.csv";
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("rows", 0) == 0) continue;
    std::istringstream ls(line);
    std::string f[8];
    for (auto& x : f)
      std::getline(ls, x, ',');
    ArraySpec a{std::stoi(f[0]), std::stoi(f[1]), parse_dataflow(f[2])};
    GemmShape g{std::stoll(f[3]), std::stoll(f[4]), std::stoll(f[5]), 0};
    EXPECT_EQ(compute_cycles(a, g), std::stoll(f[6])) << line;
    EXPECT_EQ(std::stoll(f[7]), 0) << line;
    // The stepping mode walks the same count on the small cases.
    if (g.m * g.n * g.k <= 300000 && a.rows <= 32) {
      Operands o = random_operands(g, std::uint64_t(rows));
      std::vector<std::int64_t> acc;
      EXPECT_EQ(run(a, g, o, Mode::step, acc), std::stoll(f[6])) << line;
    }
    ++rows;
  }
  EXPECT_EQ(rows, 93);
}

// Spatial K folds follow group boundaries: R = 4, K = 16.
TEST(Systolic, GroupAlignedFolds) {
  ArraySpec ws{4, 4, Dataflow::ws};
  EXPECT_EQ(plan(ws, {8, 8, 16, 0}).row_folds, 4);  // plain GEMM: ceil(16/4)
  EXPECT_EQ(plan(ws, {8, 8, 16, 8}).row_folds, 4);  // 2 groups x 2 folds
  EXPECT_EQ(plan(ws, {8, 8, 16, 2}).row_folds, 8);  // 8 groups, 2 of 4 rows idle in each
  ArraySpec os{4, 4, Dataflow::os};
  EXPECT_EQ(plan(os, {8, 8, 16, 2}).folds(), 4);  // K is temporal: groups cost nothing
}

// The per-cycle stepping mode and the fast mode agree on cycles and on every integer sum, for
// all three dataflows on many random shapes (not multiples of R or C, with and without groups).
TEST(Systolic, SteppingEqualsFastOnRandomShapes) {
  SplitMix64 g(2024);
  for (int iter = 0; iter < 150; ++iter) {
    ArraySpec arr{int(g.below(6)) + 1, int(g.below(6)) + 1, Dataflow(g.below(3)), g.below(2) == 0,
                  g.below(2) == 0};
    std::int64_t group = std::int64_t(1) << g.below(4);  // 1, 2, 4, 8
    GemmShape s{std::int64_t(g.below(9)) + 1, std::int64_t(g.below(9)) + 1,
                group * (g.below(4) + 1), g.below(3) == 0 ? 0 : group};
    Operands o = random_operands(s, iter);
    std::vector<std::int64_t> fast, step;
    std::int64_t cf = run(arr, s, o, Mode::fast, fast);
    std::int64_t cs = run(arr, s, o, Mode::step, step);
    ASSERT_EQ(cs, cf) << to_string(arr.dataflow) << " " << arr.rows << "x" << arr.cols << " m"
                      << s.m << " n" << s.n << " k" << s.k << " g" << s.group;
    ASSERT_EQ(step, fast) << "iteration " << iter;
    ASSERT_EQ(cf, compute_cycles(arr, s));
  }
}

// The array's output path equals the functional reference's qmatmul bit for bit: int8 and
// int4 weights, groups of 32 and 128 and per-channel, shapes that are not multiples of R or C.
TEST(Systolic, QuantizedGemmBitExactWithReference) {
  SplitMix64 g(7);
  for (Dataflow df : {Dataflow::ws, Dataflow::os, Dataflow::is})
    for (int qmax : {127, 7})
      for (int group : {32, 128, 0}) {
        const int M = 5, N = 13, K = 256;
        const int G = group == 0 ? K : group;
        std::vector<float> wf(std::size_t(N) * K), xf(std::size_t(M) * K);
        for (float& v : wf)
          v = 0.05f * g.bell();
        for (float& v : xf)
          v = g.bell();
        QTensor w = quantize_weights(wf, N, K, G, qmax);
        std::vector<QActivation> xs(M);
        std::vector<std::int16_t> a(std::size_t(M) * K);
        std::vector<float> xscale(std::size_t(M) * (K / G));
        for (int m = 0; m < M; ++m) {
          quantize_activation(std::span(xf).subspan(std::size_t(m) * K, K), G, 127,
                              ActGranularity::token, xs[m]);
          std::copy(xs[m].q.begin(), xs[m].q.end(), a.begin() + std::size_t(m) * K);
          std::copy(xs[m].scales.begin(), xs[m].scales.end(),
                    xscale.begin() + std::size_t(m) * (K / G));
        }
        GemmShape s{M, N, K, G};
        ArraySpec arr{8, 6, df};
        for (Mode mode : {Mode::fast, Mode::step}) {
          std::vector<std::int64_t> acc;
          run_int_gemm(arr, IntGemm{a.data(), w.q.data(), s}, mode, acc);
          std::vector<float> out(std::size_t(M) * N);
          apply_scales(acc, s, xscale.data(), w.scales.data(), out.data());
          for (int m = 0; m < M; ++m) {
            std::vector<float> ref(N);
            qmatmul(ref, xs[m], w);
            for (int n = 0; n < N; ++n)
              ASSERT_EQ(std::bit_cast<std::uint32_t>(out[std::size_t(m) * N + n]),
                        std::bit_cast<std::uint32_t>(ref[n]))
                  << to_string(df) << " qmax " << qmax << " group " << group << " m " << m << " n "
                  << n;
          }
        }
      }
}

TEST(Systolic, RejectsBadInput) {
  EXPECT_THROW(parse_dataflow("rs"), ConfigError);
  EXPECT_THROW(plan(ArraySpec{0, 4, Dataflow::ws}, {1, 1, 1, 0}), InternalError);
  EXPECT_THROW(plan(ArraySpec{4, 4, Dataflow::ws}, {1, 1, 10, 4}),
               InternalError);  // group must divide K
}

// A 2^21-cubed GEMM on a small array takes more than 2^63 cycles: an OverflowError, never a
// wrapped count (it once reported 8 cycles). Just below the edge the count is exact.
TEST(Systolic, CyclesPast64BitsAreAnError) {
  const std::int64_t e = std::int64_t(1) << 21;
  for (Dataflow df : {Dataflow::ws, Dataflow::os, Dataflow::is})
    EXPECT_THROW(compute_cycles(ArraySpec{1, 1, df}, {e, e, e, 0}), OverflowError) << to_string(df);
  // OS on 1 x 1: 2^40 folds of (1 + 1 + 2^21 - 2) cycles, minus 1.
  EXPECT_EQ(compute_cycles(ArraySpec{1, 1, Dataflow::os}, {e / 2, e / 2, e, 0}),
            (std::int64_t(1) << 61) - 1);
}

// ---- PE types (`pe: int | fp16 | ant | olive`) ----

namespace {

// Decoded elements of a quantized operand (integer codes as themselves), as the unit feeds them.
std::vector<ElemTerm> decode_all(Elem e, const std::vector<std::int16_t>& q,
                                 const std::vector<std::uint16_t>& h) {
  std::vector<ElemTerm> out;
  if (e == Elem::int_code)
    for (std::int16_t v : q)
      out.push_back(ElemTerm{v, 0, false});
  else
    for (std::uint16_t v : h)
      out.push_back(decode_half(v));
  return out;
}

// Values over many binades (subnormal binary16 products included), so exactness matters.
float wide_value(SplitMix64& g) {
  return g.bell() * std::ldexp(1.0f, int(g.below(24)) - 16);
}

}  // namespace

// FP16 PEs equal qmatmul bit for bit on random shapes: fp16, fp8 (E4M3, E5M2) and integer-code
// weights against fp16, fp8 and int8 inputs, with groups and per channel, on every dataflow, in
// the fast and the stepping mode; the stepping mode takes the fast mode's (the int PEs') cycles.
TEST(Systolic, Fp16PesBitExactWithQmatmulInBothModes) {
  SplitMix64 g(16);
  int cases = 0;
  for (WeightFormat wf :
       {WeightFormat::fp16, WeightFormat::fp8e4m3, WeightFormat::fp8e5m2, WeightFormat::int4})
    for (ActFormat af : {ActFormat::fp16, ActFormat::fp8e4m3, ActFormat::fp8e5m2, ActFormat::int8})
      for (int iter = 0; iter < 6; ++iter) {
        ArraySpec arr{int(g.below(5)) + 1, int(g.below(5)) + 1, Dataflow(g.below(3)),
                      g.below(2) == 0, g.below(2) == 0};
        const int M = int(g.below(5)) + 1, N = int(g.below(7)) + 1;
        const int group = 4 << g.below(2);  // 4 or 8
        const int K = group * (int(g.below(3)) + 1);
        std::vector<float> wv(std::size_t(N) * K), xv(std::size_t(M) * K);
        for (float& v : wv)
          v = wide_value(g);
        for (float& v : xv)
          v = wide_value(g);
        QTensor w = quantize_weights(wv, N, K, group, wf);  // fp16: one group of K
        const int G = w.group, groups = K / G;
        std::vector<QActivation> xs(M);
        std::vector<ElemTerm> a;
        std::vector<float> xscale;
        for (int m = 0; m < M; ++m) {
          quantize_activation(std::span(xv).subspan(std::size_t(m) * K, K), G, af,
                              iter % 2 ? ActGranularity::group : ActGranularity::token, xs[m]);
          std::vector<ElemTerm> row = decode_all(xs[m].elem, xs[m].q, xs[m].h);
          a.insert(a.end(), row.begin(), row.end());
          xscale.insert(xscale.end(), xs[m].scales.begin(), xs[m].scales.end());
        }
        ASSERT_EQ(int(xscale.size()), M * groups);
        std::vector<ElemTerm> wt = decode_all(w.elem, w.q, w.h);
        GemmShape s{M, N, K, G};
        std::vector<HalfDotSum> fast, step;
        const std::int64_t cf =
            run_half_gemm(arr, HalfGemm{a.data(), wt.data(), s}, Mode::fast, fast);
        const std::int64_t cs =
            run_half_gemm(arr, HalfGemm{a.data(), wt.data(), s}, Mode::step, step);
        ASSERT_EQ(cs, cf) << to_string(arr.dataflow) << " " << arr.rows << "x" << arr.cols;
        ASSERT_EQ(cf, compute_cycles(arr, s));
        for (const auto* acc : {&fast, &step}) {
          std::vector<float> out(std::size_t(M) * N);
          apply_scales(*acc, s, xscale.data(), w.scales.data(), out.data());
          for (int m = 0; m < M; ++m) {
            std::vector<float> ref(N);
            qmatmul(ref, xs[m], w);
            for (int n = 0; n < N; ++n)
              ASSERT_EQ(std::bit_cast<std::uint32_t>(out[std::size_t(m) * N + n]),
                        std::bit_cast<std::uint32_t>(ref[n]))
                  << to_string(wf) << " x " << to_string(af) << " " << to_string(arr.dataflow)
                  << (acc == &step ? " step" : " fast") << " m " << m << " n " << n;
          }
        }
        ++cases;
      }
  EXPECT_EQ(cases, 96);
}

// The group sum is exact, not a float32 running sum: 2^15 + 2^-10 - 2^15 is 2^-10 (a float32
// accumulator in any order that adds the large terms first loses it). Hand-worked on a 2x2 WS
// array with K = 3: 2 row folds of 2R + C + T - 2 = 5 cycles, reported 9, in both modes.
TEST(Systolic, Fp16PesKeepTheGroupSumExact) {
  ArraySpec arr{2, 2, Dataflow::ws};
  GemmShape s{1, 1, 3, 0};
  const std::vector<ElemTerm> a = {decode_half(float_to_half(32768.0f)),
                                   decode_half(float_to_half(std::ldexp(1.0f, -10))),
                                   decode_half(float_to_half(-32768.0f))};
  const std::vector<ElemTerm> w(3, decode_half(float_to_half(1.0f)));
  for (Mode mode : {Mode::fast, Mode::step}) {
    std::vector<HalfDotSum> acc;
    EXPECT_EQ(run_half_gemm(arr, HalfGemm{a.data(), w.data(), s}, mode, acc), 9);
    ASSERT_EQ(acc.size(), 1u);
    EXPECT_EQ(acc[0].to_float(), std::ldexp(1.0f, -10));
  }
}

namespace {

std::string pe_system(const std::string& unit) {
  return "system:\n  name: t\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
         "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 1, "
         "bytes_per_cycle_per_channel: 8}\n  global_buffer_kib: 1024\n  units:\n    mxu: " +
         unit +
         "\n    vpu: {impl: vector, lanes: 16}\n  mapping: {matmul: mxu, gemv: mxu, "
         "classifier: mxu, default: vpu}\n";
}

// The systolic unit of a one-array system, built outside SystemC.
struct PeUnit {
  test::TempDir dir;
  config::SystemSpec spec;
  StatsRegistry stats;
  UnitContext ctx;
  std::vector<std::unique_ptr<Unit>> units;
  explicit PeUnit(const std::string& unit)
      : spec(config::load_system(dir.write("s.yaml", pe_system(unit)))),
        ctx{spec.tech, 64.0, stats, 1 << 20},
        units(config::build_units(spec, ctx)) {}
  Unit& mxu() { return *units[0]; }
};

Op gemv_op(WeightFormat wf, ActFormat af, std::int64_t n = 8, std::int64_t k = 32) {
  Op o;
  o.name = "g", o.kind = OpKind::gemv, o.m = 1, o.n = n, o.k = k;
  o.wformat = wf, o.aformat = af;
  o.weight_bits = weight_bits(wf), o.act_bits = act_bits(af), o.group = 0;
  o.macs = n * k, o.flops = 2 * o.macs, o.weight_bytes = n * k * o.weight_bits / 8;
  o.act_read_bytes = k * o.act_bits / 8, o.act_write_bytes = 4 * n;
  return o;
}

}  // namespace

TEST(SystolicUnit, Fp16PesTakeBinary16OperandsAndRefuseTheRest) {
  PeUnit u("{impl: systolic, rows: 4, cols: 4, pe: fp16}");
  std::string why;
  for (WeightFormat wf :
       {WeightFormat::fp16, WeightFormat::fp8e4m3, WeightFormat::fp8e5m2, WeightFormat::int4,
        WeightFormat::int8, WeightFormat::flint4, WeightFormat::mxfp6})
    for (ActFormat af : {ActFormat::fp16, ActFormat::fp8e4m3, ActFormat::fp8e5m2, ActFormat::int8})
      EXPECT_TRUE(u.mxu().supports(gemv_op(wf, af), &why))
          << to_string(wf) << " x " << to_string(af) << ": " << why;
  EXPECT_FALSE(u.mxu().supports(gemv_op(WeightFormat::bf16, ActFormat::fp16), &why));
  EXPECT_NE(why.find("bf16 weights"), std::string::npos) << why;
  EXPECT_FALSE(u.mxu().supports(gemv_op(WeightFormat::fp16, ActFormat::bf16), &why));
  EXPECT_NE(why.find("bf16 inputs"), std::string::npos) << why;
  EXPECT_FALSE(u.mxu().supports(gemv_op(WeightFormat::int8, ActFormat::int16), &why));
  EXPECT_NE(why.find("int16 inputs"), std::string::npos) << why;
  Op f32 = gemv_op(WeightFormat::fp16, ActFormat::fp16);
  f32.wformat = WeightFormat::fp32, f32.weight_bits = 32, f32.act_bits = 32;
  EXPECT_FALSE(u.mxu().supports(f32, &why));
  EXPECT_NE(why.find("float32"), std::string::npos) << why;
}

TEST(SystolicUnit, AntAndOlivePesTakeTheirFormatsAndRefuseFloats) {
  PeUnit ant("{impl: systolic, rows: 4, cols: 4, pe: ant}");
  PeUnit olive("{impl: systolic, rows: 4, cols: 4, pe: olive}");
  PeUnit plain("{impl: systolic, rows: 4, cols: 4}");
  std::string why;
  for (Unit* u : {&ant.mxu(), &olive.mxu()}) {
    EXPECT_TRUE(u->supports(gemv_op(WeightFormat::int4, ActFormat::int8), &why)) << why;
    EXPECT_TRUE(u->supports(gemv_op(WeightFormat::int4asym, ActFormat::int8), &why)) << why;
    EXPECT_FALSE(u->supports(gemv_op(WeightFormat::fp16, ActFormat::fp16), &why));
    EXPECT_NE(why.find("fp16 weights"), std::string::npos) << why;
    EXPECT_FALSE(u->supports(gemv_op(WeightFormat::int4, ActFormat::fp16), &why));
    EXPECT_NE(why.find("fp16 inputs"), std::string::npos) << why;
  }
  EXPECT_TRUE(ant.mxu().supports(gemv_op(WeightFormat::flint4, ActFormat::int8), &why)) << why;
  EXPECT_FALSE(ant.mxu().supports(gemv_op(WeightFormat::olive4, ActFormat::int8), &why));
  EXPECT_NE(why.find("ANT's decoder"), std::string::npos) << why;
  EXPECT_TRUE(olive.mxu().supports(gemv_op(WeightFormat::olive4, ActFormat::int8), &why)) << why;
  EXPECT_FALSE(olive.mxu().supports(gemv_op(WeightFormat::flint4, ActFormat::int8), &why));
  EXPECT_NE(why.find("OliVe's decoder"), std::string::npos) << why;
  // The int PEs multiply any integer code, as before.
  EXPECT_TRUE(plain.mxu().supports(gemv_op(WeightFormat::flint4, ActFormat::int8), &why)) << why;
  EXPECT_TRUE(plain.mxu().supports(gemv_op(WeightFormat::olive4, ActFormat::int8), &why)) << why;
  EXPECT_FALSE(plain.mxu().supports(gemv_op(WeightFormat::fp16, ActFormat::fp16), &why));
}

// Energy per MAC and PE area come from the tech table's named keys; cycles do not change.
// Hand-checked: a gemv of N = 8, K = 32 is 256 MACs; FP16 PEs at 1.237 pJ (configs/tech/45nm.yaml
// `fp16`) take 256 x 1.237 = 316.672 pJ; ANT PEs are 8x8 int PEs (0.3 pJ) plus the decoder
// (0.0066 pJ): 256 x 0.3066 = 78.4896 pJ. Area of a 4x4 array: 16 PEs + 3 x 64 KiB buffers at
// 0.004 mm^2/KiB = 0.768 mm^2; fp16: 16 x 0.005086 = 0.081376 mm^2 of PEs.
TEST(SystolicUnit, PeEnergyAndAreaUseTheNamedTechKeys) {
  PeUnit i8("{impl: systolic, rows: 4, cols: 4}");
  PeUnit f16("{impl: systolic, rows: 4, cols: 4, pe: fp16}");
  PeUnit ant("{impl: systolic, rows: 4, cols: 4, pe: ant}");
  PeUnit olive("{impl: systolic, rows: 4, cols: 4, pe: olive}");
  const TechSpec& t = f16.spec.tech;
  const OpPlan pf = f16.mxu().plan(gemv_op(WeightFormat::fp16, ActFormat::fp16));
  EXPECT_DOUBLE_EQ(pf.cost.compute_pj, 316.672);
  EXPECT_DOUBLE_EQ(pf.cost.compute_pj, 256 * t.mac_named("fp16"));
  const OpPlan pa = ant.mxu().plan(gemv_op(WeightFormat::flint4, ActFormat::int8));
  EXPECT_DOUBLE_EQ(pa.cost.compute_pj, 78.4896);
  EXPECT_DOUBLE_EQ(pa.cost.compute_pj, 256 * (t.mac(8, 8) + t.mac_named("ant_decoder")));
  const OpPlan po = olive.mxu().plan(gemv_op(WeightFormat::olive4, ActFormat::int8));
  EXPECT_DOUBLE_EQ(po.cost.compute_pj, 256 * (t.mac(8, 8) + t.mac_named("olive_decoder")));
  const OpPlan pi = i8.mxu().plan(gemv_op(WeightFormat::olive4, ActFormat::int8));
  EXPECT_DOUBLE_EQ(pi.cost.compute_pj, 256 * t.mac(8, 8));
  // Same cycle model whatever the PE.
  for (const OpPlan* p : {&pf, &pa, &po})
    EXPECT_EQ(p->cost.compute_cycles, pi.cost.compute_cycles);
  const double buffers = 3 * 64 * t.sram_area_mm2_per_kib;
  EXPECT_DOUBLE_EQ(f16.mxu().area_mm2(), 0.081376 + buffers);
  EXPECT_DOUBLE_EQ(f16.mxu().area_mm2(), 16 * t.pe_area_named("fp16") + buffers);
  EXPECT_DOUBLE_EQ(ant.mxu().area_mm2(),
                   16 * (t.pe_area(8, 8) + t.pe_area_named("ant_decoder")) + buffers);
  EXPECT_DOUBLE_EQ(olive.mxu().area_mm2(),
                   16 * (t.pe_area(8, 8) + t.pe_area_named("olive_decoder")) + buffers);
  EXPECT_DOUBLE_EQ(i8.mxu().area_mm2(), 16 * t.pe_area(8, 8) + buffers);
}

// The unit's functional matmul on FP16 PEs (operands decoded from the reference's tensors)
// equals qmatmul, with and without per-cycle stepping; ANT PEs run flint4 like int PEs.
TEST(SystolicUnit, Fp16AndAntMatmulsEqualTheReference) {
  SplitMix64 g(3);
  const int M = 3, N = 300, K = 64;  // N > 256: the fast mode's blocks of output channels
  std::vector<float> wv(std::size_t(N) * K), xv(std::size_t(M) * K);
  for (float& v : wv)
    v = 0.05f * g.bell();
  for (float& v : xv)
    v = g.bell();
  struct Case {
    std::string unit;
    WeightFormat wf;
    ActFormat af;
  };
  for (const Case& c :
       {Case{"pe: fp16", WeightFormat::fp16, ActFormat::fp16},
        Case{"pe: fp16, stepping: true", WeightFormat::fp8e4m3, ActFormat::fp16},
        Case{"pe: fp16, stepping: true, dataflow: os", WeightFormat::int8, ActFormat::fp8e5m2},
        Case{"pe: ant, stepping: true", WeightFormat::flint4, ActFormat::int8},
        Case{"pe: olive", WeightFormat::olive4, ActFormat::int8}}) {
    PeUnit u("{impl: systolic, rows: 4, cols: 3, " + c.unit + "}");
    QTensor w = quantize_weights(wv, N, K, 16, c.wf);
    std::vector<QActivation> xs(M);
    std::vector<const QActivation*> rows;
    for (int m = 0; m < M; ++m) {
      quantize_activation(std::span(xv).subspan(std::size_t(m) * K, K), w.group, c.af,
                          ActGranularity::token, xs[m]);
      rows.push_back(&xs[m]);
    }
    std::vector<float> out;
    ASSERT_TRUE(u.mxu().matmul(rows, w, out)) << c.unit;
    for (int m = 0; m < M; ++m) {
      std::vector<float> ref(N);
      qmatmul(ref, xs[m], w);
      for (int n = 0; n < N; ++n)
        ASSERT_EQ(std::bit_cast<std::uint32_t>(out[std::size_t(m) * N + n]),
                  std::bit_cast<std::uint32_t>(ref[n]))
            << c.unit << " m " << m << " n " << n;
    }
  }
}
