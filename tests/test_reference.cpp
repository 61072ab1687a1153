#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>

#include "sim/base/error.hpp"
#include "test_util.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;

namespace {

// dim 2, one head, one layer: small enough to derive every number by hand.
ModelSpec hand_model() {
  ModelSpec m;
  m.name = "hand";
  m.dim = 2, m.hidden_dim = 2, m.n_layers = 1, m.n_heads = 1, m.n_kv_heads = 1;
  m.vocab_size = 3, m.seq_len = 4, m.shared_classifier = true;
  return m;
}

FloatWeights hand_weights(const ModelSpec& m) {
  FloatWeights w;
  w.token_embedding = {3, 4, 1, 0, 0, -2};  // rows: token 0, 1, 2
  w.rms_att = {1, 1};
  w.rms_ffn = {1, 1};
  w.rms_final = {1, 1};
  w.wq = w.wk = w.wo = w.w1 = w.w2 = w.w3 = std::vector<float>(4, 0.0f);
  w.wv = {0, 0, 0, 0};
  (void)m;
  return w;
}

std::vector<float> logits_of(Reference& r, int token, int pos) {
  auto l = r.forward(token, pos);
  return {l.begin(), l.end()};
}

}  // namespace

// All layer weights zero: every layer adds 0, so logits = E * rmsnorm(e_token).
// Token 0, e = (3, 4): mean square 12.5, rms = sqrt(12.5 + 1e-5); n = e / rms;
// logits = (3 n0 + 4 n1, n0, -2 n1) = (25, 3, -8) / rms.
TEST(Reference, HandCheckedZeroLayers) {
  ModelSpec m = hand_model();
  Reference r(m, hand_weights(m));
  auto l = logits_of(r, 0, 0);
  double rms = std::sqrt(12.5 + 1e-5);
  EXPECT_NEAR(l[0], 25.0 / rms, 1e-5);
  EXPECT_NEAR(l[1], 3.0 / rms, 1e-5);
  EXPECT_NEAR(l[2], -8.0 / rms, 1e-5);
}

// wv = wo = identity, wq = wk = 0: scores are all 0, softmax is uniform, so the attention
// output at position p is the mean of the value vectors rmsnorm(e_t) over t <= p.
// Tokens 1 then 2: v0 = rmsnorm((1,0)) = (sqrt2, 0)/s1, v1 = rmsnorm((0,-2)) = (0, -sqrt2)/s2
// (s = sqrt(1 + eps/..) ~ 1). At pos 1: x = (0,-2) + (v0 + v1)/2 ~ (0.7071, -2.7071).
TEST(Reference, HandCheckedUniformAttention) {
  ModelSpec m = hand_model();
  FloatWeights w = hand_weights(m);
  w.wv = {1, 0, 0, 1};
  w.wo = {1, 0, 0, 1};
  Reference r(m, w);
  logits_of(r, 1, 0);
  auto l = logits_of(r, 2, 1);
  double v0 = 1.0 / std::sqrt(0.5 + 1e-5), v1 = -2.0 / std::sqrt(2.0 + 1e-5);
  double x0 = v0 / 2, x1 = -2.0 + v1 / 2;
  double rms = std::sqrt((x0 * x0 + x1 * x1) / 2 + 1e-5);
  double n0 = x0 / rms, n1 = x1 / rms;
  EXPECT_NEAR(l[0], 3 * n0 + 4 * n1, 1e-5);
  EXPECT_NEAR(l[1], n0, 1e-5);
  EXPECT_NEAR(l[2], -2 * n1, 1e-5);
}

// RoPE rotates q and k by pos * freq (freq = 1 for the single pair of a size-2 head).
// wq = wk = wv = wo = identity. pos 0 token 1: k0 = v0 = rmsnorm((1,0)) = (a, 0).
// pos 1 token 0: n = rmsnorm((3,4)) = (b0, b1); q1 = k1 = rot(n, 1 rad); v1 = n.
// Scores / sqrt(2): s0 = q1.k0 = a (b0 cos1 - b1 sin1), s1 = |n|^2. Output x = (3,4) + w0 v0 + w1
// n. Without the rotation s0 would be a b0 and the logits differ by far more than the tolerance.
TEST(Reference, RopeRotatesByPosition) {
  ModelSpec m = hand_model();
  FloatWeights w = hand_weights(m);
  w.wq = w.wk = w.wv = w.wo = {1, 0, 0, 1};
  Reference r(m, w);
  logits_of(r, 1, 0);
  auto l = logits_of(r, 0, 1);
  double a = 1.0 / std::sqrt(0.5 + 1e-5), rb = std::sqrt(12.5 + 1e-5), b0 = 3 / rb, b1 = 4 / rb;
  double s0 = a * (b0 * std::cos(1.0) - b1 * std::sin(1.0)) / std::sqrt(2.0);
  double s1 = (b0 * b0 + b1 * b1) / std::sqrt(2.0);
  double w0 = std::exp(s0 - s1) / (std::exp(s0 - s1) + 1.0), w1 = 1.0 - w0;
  double x0 = 3 + w0 * a + w1 * b0, x1 = 4 + w1 * b1;
  double rms = std::sqrt((x0 * x0 + x1 * x1) / 2 + 1e-5), n0 = x0 / rms, n1 = x1 / rms;
  EXPECT_NEAR(l[0], 3 * n0 + 4 * n1, 1e-5);
  EXPECT_NEAR(l[1], n0, 1e-5);
  EXPECT_NEAR(l[2], -2 * n1, 1e-5);
}

// A GQA model equals the MHA model whose K/V projections repeat each KV head for its query
// group: bit for bit, since the float operations are the same in the same order.
TEST(Reference, GroupedQueryAttentionMatchesExpandedHeads) {
  ModelSpec gqa = test::small_model(4, 2);
  FloatWeights wg = synthetic_weights(gqa, 21);
  ModelSpec mha = test::small_model(4, 4);
  FloatWeights wm = wg;
  int hs = gqa.head_size(), d = gqa.dim, L = gqa.n_layers;
  for (auto [src, dst] : {std::pair{&wg.wk, &wm.wk}, std::pair{&wg.wv, &wm.wv}}) {
    dst->assign(std::size_t(L) * d * d, 0.0f);
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < 4; ++h)
        for (int r = 0; r < hs; ++r)
          std::copy_n(src->begin() + (std::size_t(l) * gqa.kv_dim() + (h / 2) * hs + r) * d, d,
                      dst->begin() + (std::size_t(l) * d + h * hs + r) * d);
  }
  Reference a(gqa, wg), b(mha, wm);
  for (int pos = 0; pos < 6; ++pos) {
    auto la = logits_of(a, (pos * 7) % 97, pos);
    auto lb = logits_of(b, (pos * 7) % 97, pos);
    for (std::size_t i = 0; i < la.size(); ++i)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(la[i]), std::bit_cast<std::uint32_t>(lb[i]))
          << pos << " " << i;
  }
}

TEST(Reference, DeterministicAcrossInstances) {
  ModelSpec m = test::small_model();
  m.quant = parse_scheme("w4a8-g32");
  FloatWeights w = synthetic_weights(m, 4);
  Reference a(m, w), b(m, w);
  for (int pos = 0; pos < 5; ++pos)
    EXPECT_EQ(logits_of(a, pos, pos), logits_of(b, pos, pos));
}

// Quantization error shrinks with more bits, and W8A8 tracks the float path.
TEST(Reference, QuantizedPathsTrackFloat) {
  ModelSpec m = test::small_model();
  FloatWeights w = synthetic_weights(m, 8);
  auto max_err = [&](const std::string& scheme) {
    ModelSpec q = m;
    q.quant = parse_scheme(scheme);
    Reference f(m, w), r(q, w);
    double e = 0, scale = 0;
    for (int pos = 0; pos < 8; ++pos) {
      auto lf = logits_of(f, (pos * 13) % 97, pos);
      auto lq = logits_of(r, (pos * 13) % 97, pos);
      for (std::size_t i = 0; i < lf.size(); ++i)
        e = std::max(e, double(std::fabs(lf[i] - lq[i]))),
        scale = std::max(scale, double(std::fabs(lf[i])));
    }
    return e / scale;
  };
  double e8 = max_err("w8a8-g32"), e4 = max_err("w4a8-g32"), e3 = max_err("w3a16-g32");
  double kv8 = max_err("w8a8-g32-kv8"), h = max_err("fp16"), h32 = max_err("fp16-kv32");
  std::printf("relative max logit error: w8a8 %g w4a8 %g w3a16 %g kv8 %g fp16 %g fp16-kv32 %g\n",
              e8, e4, e3, kv8, h, h32);
  // Random weights make the network chaotic (errors grow layer by layer), so the bounds are
  // loose; a wrong scale or rounding rule gives errors of order 1 and fails them.
  EXPECT_LT(e8, 0.1);
  EXPECT_LT(e8, e4);
  EXPECT_LT(e4, e3);
  EXPECT_GT(e8, 0.0);  // quantization did happen
  EXPECT_LT(kv8, 0.1);
  // fp16 rounds each operand to 11 significant bits: far closer than int8, but not float32.
  EXPECT_GT(h32, 0.0);
  EXPECT_LT(h32, e8 / 4);
  EXPECT_LT(h, e8 / 4);
}

TEST(Reference, KvFormatsDiffer) {
  ModelSpec m = test::small_model();
  FloatWeights w = synthetic_weights(m, 8);
  std::vector<std::vector<float>> last;
  for (int kv : {32, 16, 8}) {
    ModelSpec q = m;
    q.quant.kv_bits = kv;
    Reference r(q, w);
    for (int pos = 0; pos < 4; ++pos)
      logits_of(r, pos + 3, pos);
    last.push_back(logits_of(r, 1, 4));
  }
  EXPECT_NE(last[0], last[1]);
  EXPECT_NE(last[1], last[2]);
}

TEST(Reference, GreedyProducesRequestedTokens) {
  ModelSpec m = test::small_model();
  Reference r(m, synthetic_weights(m, 2));
  int calls = 0;
  std::vector<int> prompt = {1, 2, 3};
  auto out = run_sequence(r, prompt, 5,
                          [&](int pos, int, std::span<const float>) { EXPECT_EQ(pos, calls++); });
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(calls, 3 + 5 - 1);
}

TEST(Reference, OutOfRangeInputsAreBugsNotCrashes) {
  ModelSpec m = test::small_model();
  Reference r(m, synthetic_weights(m, 2), 4);
  EXPECT_THROW(r.forward(97, 0), InternalError);
  EXPECT_THROW(r.forward(0, 4), InternalError);
}
