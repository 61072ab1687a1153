// The bit-serial PE array: term encodings, hand-worked cycles, step mode == fast mode, and
// bit-exactness against the reference's qmatmul for every format and input it takes.
#include <gtest/gtest.h>

#include "arch/bitserial/pe_array.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"
#include "workloads/rng.hpp"

namespace qaccel::bitserial {
namespace {

TEST(BitSerial, TermsAddUpAndFollowTheEncoding) {
  struct Want {
    WeightFormat f;
    int booth, serial;
  };
  // Booth: ceil(code bits / 2) digits for integers, <= 2 powers of two for codebooks.
  const Want wants[] = {{WeightFormat::int8, 4, 8},
                        {WeightFormat::int6, 3, 6},
                        {WeightFormat::int4, 2, 4},
                        {WeightFormat::int3, 2, 3},
                        {WeightFormat::int2, 1, 2},
                        {WeightFormat::int4asym, 3, 5},
                        {WeightFormat::int8asym, 5, 9},
                        {WeightFormat::mxint8, 4, 8},
                        {WeightFormat::fp3, 1, 4} /* 0 1 2 4: one power of two */,
                        {WeightFormat::bitmod3, 2, 4},
                        {WeightFormat::fp4, 2, 5},
                        {WeightFormat::bitmod4, 2, 6},
                        {WeightFormat::flint4, 2, 6},
                        {WeightFormat::olive4, 2, 8},
                        {WeightFormat::mxfp4, 2, 5},
                        {WeightFormat::nvfp4, 2, 5},
                        {WeightFormat::mxfp6, 2, 10}};
  for (const Want& w : wants) {
    EXPECT_EQ(terms_per_weight(w.f, Encoding::booth), w.booth) << to_string(w.f);
    EXPECT_EQ(terms_per_weight(w.f, Encoding::serial), w.serial) << to_string(w.f);
    for (Encoding e : {Encoding::booth, Encoding::serial}) {
      TermTable t(w.f, e);
      for (int c : code_values(w.f)) {
        long long sum = 0;
        for (int i = 0; i < t.terms(); ++i)
          sum += t.of(c)[i].sign * (1LL << t.of(c)[i].shift);
        EXPECT_EQ(sum, c) << to_string(w.f) << " " << to_string(e);
      }
    }
  }
  // Radix-4 Booth of -7 in 4 bits (1001): d0 = -2*0 + 1 + 0 = 1, d1 = -2*1 + 0 + 0 = -2.
  TermTable b(WeightFormat::int4, Encoding::booth);
  EXPECT_EQ(b.of(-7)[0].sign, 1);
  EXPECT_EQ(b.of(-7)[0].shift, 0);
  EXPECT_EQ(b.of(-7)[1].sign, -1);
  EXPECT_EQ(b.of(-7)[1].shift, 3);  // -2 * 4 = -8
  // fp4's 12 = 16 - 4 (non-adjacent form), 10 = 8 + 2.
  TermTable f(WeightFormat::fp4, Encoding::booth);
  EXPECT_EQ(f.of(12)[0].sign * (1 << f.of(12)[0].shift), -4);
  EXPECT_EQ(f.of(12)[1].sign * (1 << f.of(12)[1].shift), 16);
  EXPECT_THROW(TermTable(WeightFormat::fp16, Encoding::booth), ConfigError);
  EXPECT_THROW(TermTable(WeightFormat::fp8e4m3, Encoding::booth), ConfigError);
}

TEST(BitSerial, HandWorkedTwoPeCycles) {
  // Two PEs (1 x 2), 2 lanes, dequantization 3 cycles; a GEMV of 2 channels, K = 8, G = 4:
  // one tile with both channels; 2 groups of 2 weight steps.
  ArraySpec a{1, 2, 2, Encoding::booth, 3};
  // int4 Booth, 2 terms: A = 2 * 2 = 4; 4 + max(4, 3) + 3 = 11.
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, terms_per_weight(WeightFormat::int4, a.encoding)), 11);
  // fp4, 2 power-of-two terms: the same 11.
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, terms_per_weight(WeightFormat::fp4, a.encoding)), 11);
  // int8 Booth, 4 terms: A = 8; 8 + 8 + 3 = 19.
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, terms_per_weight(WeightFormat::int8, a.encoding)), 19);
  // Serial int4: 4 bits, A = 8 -> 19; serial fp4 (5-bit codes): A = 10 -> 23.
  a.encoding = Encoding::serial;
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, terms_per_weight(WeightFormat::int4, a.encoding)), 19);
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, terms_per_weight(WeightFormat::fp4, a.encoding)), 23);
  // A slow dequantizer (6 > A = 4) makes the PE wait: 4 + 6 + 6 = 16.
  a.encoding = Encoding::booth, a.dequant_cycles = 6;
  EXPECT_EQ(compute_cycles(a, 1, 2, 8, 4, 2), 16);
  // Three channels on two PEs: two tiles of 16.
  EXPECT_EQ(compute_cycles(a, 1, 3, 8, 4, 2), 32);
  // Mapping: a GEMV spreads channels over the whole array; 5 tokens on 4 columns take two
  // token tiles of 4 tokens x rows channels.
  const Mapping g = map(ArraySpec{8, 4, 4}, 1, 100), p = map(ArraySpec{8, 4, 4}, 5, 100);
  EXPECT_EQ(g.channels_per_tile, 32);
  EXPECT_EQ(g.tiles(), 4);
  EXPECT_EQ(p.tokens_per_tile, 4);
  EXPECT_EQ(p.channels_per_tile, 8);
  EXPECT_EQ(p.tiles(), 2 * 13);
}

void random_weights(SplitMix64& g, std::vector<float>& w) {
  for (float& v : w)
    v = g.bell() * (g.below(64) == 0 ? 6.0f : 1.0f);
}

TEST(BitSerial, StepEqualsFastAndBothEqualTheReference) {
  SplitMix64 g(21);
  const WeightFormat formats[] = {
      WeightFormat::int8,     WeightFormat::int4,     WeightFormat::int3,    WeightFormat::int2,
      WeightFormat::int4asym, WeightFormat::int8asym, WeightFormat::flint4,  WeightFormat::fp3,
      WeightFormat::fp4,      WeightFormat::bitmod3,  WeightFormat::bitmod4, WeightFormat::olive4,
      WeightFormat::mxint8,   WeightFormat::mxfp6,    WeightFormat::mxfp4,   WeightFormat::nvfp4};
  int trial = 0;
  for (WeightFormat f : formats)
    for (ActFormat af : {ActFormat::int8, ActFormat::int16, ActFormat::fp16, ActFormat::fp8e4m3}) {
      ++trial;
      const int M = 1 + int(g.below(5)), N = 1 + int(g.below(9));
      const int G = info(f).fixed_group ? info(f).fixed_group : 32 << g.below(2);
      const int K = G * (1 + int(g.below(3)));
      std::vector<float> wf(std::size_t(N * K)), xf(std::size_t(M * K));
      random_weights(g, wf), random_weights(g, xf);
      const QTensor w = quantize_weights(wf, N, K, G, f);
      std::vector<QActivation> xs(static_cast<std::size_t>(M));
      std::vector<const QActivation*> rows;
      for (int m = 0; m < M; ++m) {
        quantize_activation(std::span(xf).subspan(std::size_t(m * K), std::size_t(K)), G, af,
                            trial % 2 ? ActGranularity::group : ActGranularity::token,
                            xs[std::size_t(m)]);
        rows.push_back(&xs[std::size_t(m)]);
      }
      for (Encoding e : {Encoding::booth, Encoding::serial}) {
        const ArraySpec a{1 + int(g.below(3)), 1 + int(g.below(4)), 1 + int(g.below(5)), e,
                          1 + int(g.below(12))};
        const TermTable t(f, e);
        std::vector<float> fast, step;
        const auto cf = run(a, t, rows, w, Mode::fast, fast);
        const auto cs = run(a, t, rows, w, Mode::step, step);
        EXPECT_EQ(cf, cs) << to_string(f) << " x " << to_string(af);
        EXPECT_EQ(cf, compute_cycles(a, M, N, K, G, t.terms()));
        for (int m = 0; m < M; ++m) {
          std::vector<float> ref(static_cast<std::size_t>(N));
          qmatmul(ref, xs[std::size_t(m)], w);
          for (int n = 0; n < N; ++n) {
            const auto i = std::size_t(m * N + n);
            EXPECT_EQ(std::bit_cast<std::uint32_t>(fast[i]),
                      std::bit_cast<std::uint32_t>(ref[std::size_t(n)]))
                << to_string(f) << " x " << to_string(af) << " fast";
            EXPECT_EQ(std::bit_cast<std::uint32_t>(step[i]),
                      std::bit_cast<std::uint32_t>(ref[std::size_t(n)]))
                << to_string(f) << " x " << to_string(af) << " step";
          }
        }
      }
    }
}

TEST(BitSerial, WideExponentSpreadsStayExact) {
  // Inputs from 2^-24 to 65504 in a group of 128: a spread of 29 binades is past what the
  // int64 path takes for 128 elements (28), so the binned path runs.
  SplitMix64 g(4);
  const int K = 256;
  std::vector<float> wf(3 * K);
  random_weights(g, wf);
  const QTensor w = quantize_weights(wf, 3, K, 128, WeightFormat::int8);
  QActivation x;
  x.group = 128, x.elem = Elem::half, x.scales.assign(2, 1.0f);
  for (int j = 0; j < K; ++j)
    x.h.push_back(std::uint16_t(j % 3 == 0 ? 0x0001 : j % 3 == 1 ? 0x7bff : 0xbc00 + j));
  std::vector<float> ref(3), fast, step;
  HalfFixed hf;
  std::vector<ElemTerm> xt;
  for (std::uint16_t h : x.h)
    xt.push_back(decode_half(h));
  prepare_half_fixed(xt, 128, hf);
  EXPECT_FALSE(hf.fixed[0]);
  qmatmul(ref, x, w);
  const TermTable t(WeightFormat::int8, Encoding::booth);
  run(ArraySpec{1, 2, 3}, t, {&x}, w, Mode::fast, fast);
  run(ArraySpec{1, 2, 3}, t, {&x}, w, Mode::step, step);
  // The same sums through the exact accumulator, term by term.
  for (int r = 0; r < 3; ++r) {
    float val = 0.0f;
    for (int gi = 0; gi < 2; ++gi) {
      HalfDotSum s;
      for (int j = gi * 128; j < gi * 128 + 128; ++j) {
        const ElemTerm e = decode_half(x.h[std::size_t(j)]);
        s.add_term(std::int64_t(w.q[std::size_t(r * K + j)]) * e.sig, e.e2 + 48);
      }
      val += (s.to_float() * w.scales[std::size_t(r * 2 + gi)]) * 1.0f;
    }
    EXPECT_EQ(std::bit_cast<std::uint32_t>(ref[std::size_t(r)]), std::bit_cast<std::uint32_t>(val));
    EXPECT_EQ(std::bit_cast<std::uint32_t>(fast[std::size_t(r)]),
              std::bit_cast<std::uint32_t>(val));
    EXPECT_EQ(std::bit_cast<std::uint32_t>(step[std::size_t(r)]),
              std::bit_cast<std::uint32_t>(val));
  }
}

TEST(BitSerial, UnitRefusesWhatItCannotRunWithTheReason) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/bitmod.yaml"));
  Unit& u = sys.unit("bsu");
  Op o;
  o.name = "p", o.kind = OpKind::gemv, o.m = 1, o.n = 64, o.k = 128, o.group = 32;
  o.weight_bits = 3, o.act_bits = 16, o.wformat = WeightFormat::bitmod3,
  o.aformat = ActFormat::fp16;
  std::string why;
  EXPECT_TRUE(u.supports(o, &why)) << why;
  o.wformat = WeightFormat::fp16, o.weight_bits = 16;
  EXPECT_FALSE(u.supports(o, &why));
  EXPECT_NE(why.find("fp16 weights (the PEs take integer or codebook weights)"), std::string::npos);
  o.wformat = WeightFormat::int4, o.weight_bits = 4, o.aformat = ActFormat::bf16;
  EXPECT_FALSE(u.supports(o, &why));
  EXPECT_NE(why.find("bf16 inputs"), std::string::npos) << why;
  o.kind = OpKind::attn_score, o.aformat = ActFormat::int8;
  EXPECT_FALSE(u.supports(o, &why));
  // Plan: 64 channels on 64 x 64 PEs is one tile; bitmod3 (2 terms), G 32 / 4 lanes: A = 16,
  // 4 groups: 16 + 3 * 16 + 4 = 68 cycles; energy 64 PEs x 68 cycles x bitserial_pe.
  o.kind = OpKind::gemv, o.wformat = WeightFormat::bitmod3, o.aformat = ActFormat::fp16;
  o.macs = 64 * 128, o.weight_bytes = 4096;
  const OpPlan p = u.plan(o);
  EXPECT_EQ(p.cost.compute_cycles, 68);
  EXPECT_EQ(p.folds, 1);
  EXPECT_DOUBLE_EQ(p.cost.compute_pj, 64.0 * 68 * 0.942);
}

TEST(BitSerial, FewerWeightBitsMeanFewerCycles) {
  const ArraySpec a{16, 16, 4, Encoding::booth, 4};
  auto cyc = [&](WeightFormat f) {
    return compute_cycles(a, 1, 4096, 4096, 128, terms_per_weight(f, a.encoding));
  };
  EXPECT_LT(cyc(WeightFormat::bitmod3), cyc(WeightFormat::int8));
  EXPECT_LT(cyc(WeightFormat::int4), cyc(WeightFormat::int6));
  EXPECT_LT(cyc(WeightFormat::int6), cyc(WeightFormat::int8));
  // 16 tiles of 32 groups: A = 128 / 4 lanes * T, tile = A + 31 * A + 4.
  EXPECT_EQ(cyc(WeightFormat::int8), 16 * (32 * 128 + 4));
  EXPECT_EQ(cyc(WeightFormat::int4), 16 * (32 * 64 + 4));
}

}  // namespace
}  // namespace qaccel::bitserial
