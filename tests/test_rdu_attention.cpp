// Streaming attention on the RDU fabric (arch/rdu/attention.hpp): the naive mapping bit-exact
// with the reference, the online one within its documented bound, the pipelines' values equal
// to the functional ones, their cycles equal to hand-worked numbers and to the closed form,
// flat (online) against linear (naive) intermediate storage.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include "arch/rdu/attention.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "test_util.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;
using namespace qaccel::rdu;

namespace {

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Random q, k, v with scores spread by `spread` (the dot of unit-ish vectors times spread).
SdpaInputs random_inputs(int P, int hs, std::uint32_t seed, float spread = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  SdpaInputs in;
  in.head_size = hs, in.positions = P;
  for (int i = 0; i < hs; ++i)
    in.q.push_back(n(g) * spread);
  for (std::size_t i = 0; i < std::size_t(P) * hs; ++i)
    in.k.push_back(n(g)), in.v.push_back(n(g));
  return in;
}

std::vector<float> naive(const SdpaInputs& in) {
  std::vector<float> o(std::size_t(in.head_size));
  sdpa_naive(in, o);
  return o;
}
std::vector<float> online(const SdpaInputs& in) {
  std::vector<float> o(std::size_t(in.head_size));
  sdpa_online(in, o);
  return o;
}

// The online order with the rescale forgotten: what the bound must catch.
std::vector<float> online_without_rescale(const SdpaInputs& in) {
  std::vector<float> acc(std::size_t(in.head_size), 0.0f);
  float m = 0.0f, l = 0.0f;
  for (int t = 0; t < in.positions; ++t) {
    const float s = sdpa_score(in, t);
    m = t == 0 ? s : std::max(m, s);
    const float p = std::exp(s - m);
    l += p;
    for (int i = 0; i < in.head_size; ++i)
      acc[i] += p * in.v_row(t)[i];
  }
  for (float& a : acc)
    a /= l;
  return acc;
}

// max_i |online - reference| / (P * 2^-23 * max_t |v_t[i]|): the bound allows 8.
double ulps_per_position(const SdpaInputs& in, const std::vector<float>& got) {
  const std::vector<float> ref = naive(in);
  double worst = 0;
  for (int i = 0; i < in.head_size; ++i) {
    const double unit = sdpa_online_bound(in, i) / 8.0;
    if (unit > 0) worst = std::max(worst, std::fabs(double(got[i]) - ref[i]) / unit);
  }
  return worst;
}

// Adversarial inputs: q = (1, 0, ...), so score_t = k_t[0] / sqrt(hs); k_t[0] set per case.
SdpaInputs shaped(int P, int hs, std::uint32_t seed, float (*k0)(int t, int P)) {
  SdpaInputs in = random_inputs(P, hs, seed);
  std::fill(in.q.begin(), in.q.end(), 0.0f);
  in.q[0] = 1.0f;
  for (int t = 0; t < P; ++t)
    in.k[std::size_t(t) * hs] = k0(t, P);
  return in;
}

SdpaFabric fabric(int lanes = 16) {
  SdpaFabric f;
  f.link.lanes = lanes;
  return f;
}

// "cycles vectors peak cpp" of a SystemC run, in a child process (one elaboration each), with
// its output checked against the functional result bit for bit.
std::string run_in_child(SdpaMapping m, const SdpaInputs& in, const SdpaFabric& f) {
  return test::in_child([&] {
    const SdpaRun r = run_sdpa_systemc(m, in, f);
    const std::vector<float> want = m == SdpaMapping::online ? online(in) : naive(in);
    std::ostringstream os;
    os << r.stats.total_cycles << " " << r.stats.vectors_moved << " " << r.stats.peak_buffer_bytes
       << " " << r.stats.cycles_per_position << " "
       << (same_bits(r.out, want) ? "exact" : "DIFFERENT");
    return os.str();
  });
}
std::string expected(const SdpaStats& s) {
  std::ostringstream os;
  os << s.total_cycles << " " << s.vectors_moved << " " << s.peak_buffer_bytes << " "
     << s.cycles_per_position << " exact";
  return os.str();
}

}  // namespace

// Every head of every layer and position of the tiny model, for each KV format: the naive
// mapping on the reference's own q and KV cache is memcmp-equal to the reference's output;
// the online one within its bound.
TEST(RduAttention, NaiveIsTheReferenceBitForBit) {
  for (int kv_bits : {32, 16, 8, 4}) {
    ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
    m.quant.kv_bits = kv_bits;
    Reference ref(m, synthetic_weights(m, 7));
    const int hs = m.head_size();
    int heads_checked = 0;
    double worst = 0;
    ref.set_attention_hook([&](int layer, int pos, std::span<const float> q, const KVCache& kv,
                               std::span<const float> out) {
      for (int h = 0; h < m.n_heads; ++h) {
        const SdpaInputs in = sdpa_inputs_from_cache(q.subspan(std::size_t(h) * hs, hs), kv, layer,
                                                     h / m.kv_group(), pos + 1);
        const auto want = out.subspan(std::size_t(h) * hs, hs);
        EXPECT_TRUE(same_bits(naive(in), want))
            << "kv" << kv_bits << " L" << layer << " pos " << pos << " head " << h;
        worst = std::max(worst, ulps_per_position(in, online(in)));
        ++heads_checked;
      }
    });
    for (int pos = 0; pos < 24; ++pos)
      ref.forward((pos * 37 + 5) % m.vocab_size, pos);
    EXPECT_EQ(heads_checked, 24 * m.n_layers * m.n_heads);
    std::printf("kv%d: online worst %.3f ulps of max|v| per position\n", kv_bits, worst);
    EXPECT_LE(worst, 8.0);
  }
}

// The online order's difference from the reference, measured, against the documented bound
// (8 float32 ulps of max|v| per position); the rescale-less variant breaks it.
TEST(RduAttention, OnlineWithinItsBound) {
  struct Case {
    const char* name;
    SdpaInputs in;
  };
  std::vector<Case> cases;
  for (int P : {1, 7, 100, 1000, 4096})
    cases.push_back({"random", random_inputs(P, 64, 11u + P)});
  cases.push_back({"random wide scores", random_inputs(1000, 64, 3, 8.0f)});
  // The max grows at every position: every step rescales.
  cases.push_back({"growing max", shaped(2000, 32, 5, [](int t, int) { return 0.02f * t; })});
  cases.push_back({"growing max fast", shaped(300, 32, 6, [](int t, int) { return 0.5f * t; })});
  // The max creeps up by a few ulps a step: alpha rounds to just below 1 every time, so acc
  // and l are rescaled (and rounded) at every one of the positions without decaying.
  cases.push_back(
      {"creeping max", shaped(4096, 32, 10, [](int t, int) { return 10.0f + 2e-5f * t; })});
  // Scores over a range of about 113 (expf underflows for most of them).
  cases.push_back({"large range", shaped(1000, 32, 7, [](int t, int P) {
                     return 640.0f * (float(t) / float(P) - 0.5f);
                   })});
  cases.push_back({"equal scores", shaped(4096, 32, 8, [](int, int) { return 1.0f; })});
  cases.push_back({"zigzag", shaped(2000, 32, 9, [](int t, int) {
                     return (t % 2 ? 1.0f : -1.0f) * 0.001f * t;
                   })});
  for (const Case& c : cases) {
    const double u = ulps_per_position(c.in, online(c.in));
    std::printf("%-20s P=%5d  online: %.4f ulps/position (%.2f ulps of max|v| in all)\n", c.name,
                c.in.positions, u, u * c.in.positions);
    EXPECT_LE(u, 8.0) << c.name;
  }
  // Forgetting the rescale is an error of order max|v|, beyond the bound by far.
  for (int k : {6, 7}) {
    const double u = ulps_per_position(cases[k].in, online_without_rescale(cases[k].in));
    std::printf("without rescale (%s): %.0f ulps/position\n", cases[k].name, u);
    EXPECT_GT(u, 2 * 8.0);
  }
}

// Hand-worked, P = 2, head_size 16 on 16 lanes (V = 1), C = 2, L = R = 1, ls = 2, lx = 3,
// la = 1, lp = 2, lr = 4.
//  online: K vectors sent 0, 1, taken 1, 2; scores sent 1, 2 (latency 1 + 2) seen 4, 5 by the
//    softmax PCU; messages sent 4, 5 (latency 1 + 3) taken 8, 9 by the accumulator with V rows
//    0, 1 (visible since 1, 2); the output sent 9 (latency 1 + 1) taken 11: 12 cycles.
//  naive: scores written 4, 5; pass 1 read at 6 (latency 1 + 2) taken 9, max known 13; pass 2
//    read 7 taken 13, sum known 17; pass 3 read 8 taken 17; probabilities (latency 1 + 3)
//    taken 21 with V row 0, V row 1 at 22; output sent 22 taken 24: 25 cycles.
SdpaFabric hand_fabric() {
  SdpaFabric f = fabric(16);
  f.link.capacity_vectors = 2, f.link.latency_cycles = 1, f.link.credit_latency_cycles = 1;
  f.score_latency_cycles = 2, f.softmax_latency_cycles = 3, f.acc_latency_cycles = 1;
  f.pmu_read_latency_cycles = 2, f.reduce_latency_cycles = 4;
  return f;
}

TEST(RduAttention, HandWorkedOnline) {
  const SdpaRun r = run_sdpa_systemc(SdpaMapping::online, random_inputs(2, 16, 1), hand_fabric());
  EXPECT_EQ(r.stats.total_cycles, 12);
  EXPECT_EQ(r.stats.vectors_moved, 2 + 2 + 2 + 2 + 1);  // K, V, scores, messages, output
  EXPECT_EQ(r.stats.peak_buffer_bytes, 4 * 16 + 8);
  EXPECT_EQ(sdpa_head_cost(SdpaMapping::online, 2, 16, hand_fabric()).total_cycles, 12);
}

TEST(RduAttention, HandWorkedNaive) {
  const SdpaRun r = run_sdpa_systemc(SdpaMapping::naive, random_inputs(2, 16, 1), hand_fabric());
  EXPECT_EQ(r.stats.total_cycles, 25);
  EXPECT_EQ(r.stats.vectors_moved, 2 + 2 + 2 + 3 + 1 + 1);  // K, V, scores, passes, probs, out
  EXPECT_EQ(r.stats.peak_buffer_bytes, 4 * 2 + 4 * 16 + 8);
  EXPECT_EQ(sdpa_head_cost(SdpaMapping::naive, 2, 16, hand_fabric()).total_cycles, 25);
}

// The pipeline's output is the functional result bit for bit, and at full rate: one position
// per V = ceil(64 / 16) = 4 cycles at the accumulator, and 4 more cycles per extra position.
TEST(RduAttention, OnlinePipelineExactAtFullRate) {
  const SdpaInputs in = random_inputs(500, 64, 21, 3.0f);
  const SdpaRun r = run_sdpa_systemc(SdpaMapping::online, in, fabric());
  EXPECT_TRUE(same_bits(r.out, online(in)));
  EXPECT_EQ(r.stats.cycles_per_position, 4);
  EXPECT_EQ(
      r.stats.total_cycles - sdpa_head_cost(SdpaMapping::online, 250, 64, fabric()).total_cycles,
      250 * 4);
}

TEST(RduAttention, NaivePipelineIsTheReferenceOrder) {
  const SdpaInputs in = random_inputs(300, 40, 22, 3.0f);  // 40 = 2 full vectors + 8 lanes
  const SdpaRun r = run_sdpa_systemc(SdpaMapping::naive, in, fabric());
  EXPECT_TRUE(same_bits(r.out, naive(in)));
  EXPECT_EQ(r.stats.cycles_per_position, 3);
}

// Peak intermediate storage as the tiles held it: online flat at 4 * 64 + 8 = 264 bytes;
// naive 4 bytes more per position (one float32 score each).
TEST(RduAttention, OnlineStorageFlatNaiveLinear) {
  long long prev_p = 0, prev_on = 0, prev_nv = 0;
  for (int P : {16, 64, 256, 1024}) {
    const SdpaInputs in = random_inputs(P, 64, 30u + P);
    const auto on = run_in_child(SdpaMapping::online, in, fabric());
    const auto nv = run_in_child(SdpaMapping::naive, in, fabric());
    std::printf("P=%4d online: %s  naive: %s\n", P, on.c_str(), nv.c_str());
    EXPECT_EQ(std::stoll(on.substr(on.find(' ', on.find(' ') + 1))), 264) << on;
    EXPECT_EQ(std::stoll(nv.substr(nv.find(' ', nv.find(' ') + 1))), 264 + 4 * P) << nv;
    // Full rate: each extra position costs the online pipeline V = 4 cycles; the naive one
    // 2V (its two streaming phases) plus 2 vectors of scores per 16 positions (passes 1, 2).
    if (prev_p) {
      EXPECT_EQ(std::stoll(on) - prev_on, 4 * (P - prev_p));
      EXPECT_EQ(std::stoll(nv) - prev_nv, 8 * (P - prev_p) + 2 * (P - prev_p) / 16);
    }
    prev_p = P, prev_on = std::stoll(on), prev_nv = std::stoll(nv);
  }
}

// The closed form equals the SystemC pipeline (values bit-exact) on many shapes.
TEST(RduAttention, ClosedFormEqualsPipeline) {
  struct Shape {
    int P, hs, lanes;
    i64 C, L, R, ls, lx, la, lp, lr;
  };
  const Shape shapes[] = {
      {1, 16, 16, 2, 1, 1, 0, 0, 0, 0, 0},   {1, 1, 16, 2, 1, 0, 6, 6, 6, 2, 4},
      {2, 16, 16, 2, 1, 1, 2, 3, 1, 2, 4},   {17, 16, 16, 2, 1, 1, 6, 6, 6, 2, 4},
      {33, 64, 16, 2, 1, 1, 6, 6, 6, 2, 4},  {100, 64, 8, 4, 2, 2, 3, 9, 1, 0, 1},
      {64, 128, 32, 5, 3, 2, 0, 0, 0, 0, 0}, {65, 100, 16, 3, 2, 1, 10, 1, 5, 7, 2},
      {200, 48, 16, 8, 4, 4, 1, 2, 3, 4, 5}, {31, 7, 4, 1, 1, 0, 2, 2, 2, 2, 0},
      {129, 64, 64, 2, 1, 1, 6, 6, 6, 2, 4}, {10, 300, 16, 6, 5, 1, 0, 20, 0, 3, 8},
  };
  for (const Shape& s : shapes) {
    SdpaFabric f = fabric(s.lanes);
    f.link.capacity_vectors = s.C, f.link.latency_cycles = s.L, f.link.credit_latency_cycles = s.R;
    f.score_latency_cycles = s.ls, f.softmax_latency_cycles = s.lx, f.acc_latency_cycles = s.la;
    f.pmu_read_latency_cycles = s.lp, f.reduce_latency_cycles = s.lr;
    const SdpaInputs in = random_inputs(s.P, s.hs, 40u + s.P, 2.0f);
    for (SdpaMapping m : {SdpaMapping::online, SdpaMapping::naive})
      EXPECT_EQ(run_in_child(m, in, f), expected(sdpa_head_cost(m, s.P, s.hs, f)))
          << to_string(m) << " P=" << s.P << " hs=" << s.hs << " lanes=" << s.lanes;
  }
}

// An under-buffered link (C = 1 < L + R = 2) carries one vector every 2 cycles (link.hpp's
// min(1, C / (L + R))): the online pipeline then takes 2V cycles per position, and the closed
// form refuses the fabric.
TEST(RduAttention, UnderBufferedLinkHalvesTheRate) {
  SdpaFabric f = fabric(16);
  f.link.capacity_vectors = 1;
  const SdpaInputs in = random_inputs(200, 64, 50);
  const SdpaRun r = run_sdpa_systemc(SdpaMapping::online, in, f);
  EXPECT_TRUE(same_bits(r.out, online(in)));
  EXPECT_EQ(r.stats.cycles_per_position, 2 * 4);
  EXPECT_THROW(sdpa_head_cost(SdpaMapping::online, 200, 64, f), ConfigError);
}

// A whole op: 8 heads on 2 pipeline copies run 4 heads each, one after another.
TEST(RduAttention, OpCost) {
  SdpaFabric f = fabric(16);
  f.pipelines = 2;
  for (SdpaMapping m : {SdpaMapping::online, SdpaMapping::naive}) {
    const SdpaStats h = sdpa_head_cost(m, 512, 64, f);
    const SdpaCost c = sdpa_cost(m, 512, 64, 8, f);
    EXPECT_EQ(c.cycles, 4 * h.total_cycles);
    EXPECT_EQ(c.peak_buffer_bytes, 2 * h.peak_buffer_bytes);
    EXPECT_EQ(c.vectors_moved, 8 * h.vectors_moved);
  }
  EXPECT_EQ(sdpa_cost(SdpaMapping::online, 512, 64, 8, f).peak_buffer_bytes, 2 * 264);
  EXPECT_EQ(sdpa_cost(SdpaMapping::naive, 512, 64, 1, f).peak_buffer_bytes, 264 + 4 * 512);
  EXPECT_EQ(parse_sdpa_mapping("naive", "x"), SdpaMapping::naive);
  EXPECT_THROW(parse_sdpa_mapping("flash", "system.units.rdu.sdpa"), ConfigError);
  f.pipelines = 0;
  EXPECT_THROW(sdpa_cost(SdpaMapping::online, 512, 64, 8, f), ConfigError);
}
