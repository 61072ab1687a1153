#include <gtest/gtest.h>

#include <limits>

#include "sim/base/checked.hpp"
#include "sim/config/config.hpp"
#include "test_util.hpp"
#include "workloads/graph.hpp"
#include "workloads/ops.hpp"

using namespace qaccel;

namespace {

ModelSpec model(const std::string& name) {
  return config::load_model(test::source_dir() + "/configs/models/" + name + ".yaml");
}

WorkloadSpec decode(int context, int batch = 1) {
  WorkloadSpec w;
  w.name = "d";
  w.phase = Phase::decode;
  w.context_len = context, w.batch = batch, w.generated_tokens = 1;
  return w;
}

WorkloadSpec prefill(int p, LogitsFor logits = LogitsFor::last) {
  WorkloadSpec w;
  w.name = "p";
  w.phase = Phase::prefill;
  w.prompt_len = p, w.logits = logits, w.generated_tokens = 0;
  return w;
}

std::int64_t sum_macs(const std::vector<Op>& ops, bool attention) {
  std::int64_t s = 0;
  for (const Op& o : ops)
    if ((o.kind == OpKind::attn_score || o.kind == OpKind::attn_value) == attention) s += o.macs;
  return s;
}

}  // namespace

// LLaMA-2-7B, one decode step at batch 1: the projections are 4 d^2 + 3 d h per layer, plus the
// d x vocab classifier: 32 (4*4096^2 + 3*4096*11008) + 4096*32000 = 6,607,077,376 MACs.
TEST(Ops, Llama2DecodeMatmulMacs) {
  ModelSpec m = model("llama-2-7b");
  auto ops = lower_forward(m, decode(2048));
  EXPECT_EQ(sum_macs(ops, false), 6607077376LL);
  // 1 embedding + 17 ops per layer + final norm + classifier.
  EXPECT_EQ(ops.size(), 1u + 17u * 32u + 2u);
}

// Attention MACs of one decode step: layers * heads * head_size * (L + 1) for scores and
// again for values; linear in the context length.
TEST(Ops, AttentionGrowsLinearlyWithContext) {
  ModelSpec m = model("llama-2-7b");
  for (int L : {0, 1, 511, 2048, 4000}) {
    std::int64_t expect = 2LL * 32 * 32 * 128 * (L + 1);
    EXPECT_EQ(sum_macs(lower_forward(m, decode(L)), true), expect) << L;
  }
  // Batch multiplies every MAC count.
  EXPECT_EQ(sum_macs(lower_forward(m, decode(100, 8)), true),
            8 * sum_macs(lower_forward(m, decode(100)), true));
  EXPECT_EQ(sum_macs(lower_forward(m, decode(100, 8)), false),
            8 * sum_macs(lower_forward(m, decode(100)), false));
}

// Causal prefill of P tokens: sum_{p=0}^{P-1} (p+1) = P(P+1)/2 key positions per head.
TEST(Ops, CausalPrefillAttention) {
  ModelSpec m = model("stories15M");
  const std::int64_t P = 64, hs = 48;
  std::int64_t expect = 2 * 6 * 6 * hs * P * (P + 1) / 2;
  auto ops = lower_forward(m, prefill(P));
  EXPECT_EQ(sum_macs(ops, true), expect);
  // Classifier on the last token only, or on every token.
  EXPECT_EQ(ops.back().m, 1);
  EXPECT_EQ(lower_forward(m, prefill(P, LogitsFor::all)).back().m, P);
  // Projections: P rows through every layer.
  EXPECT_EQ(sum_macs(ops, false), P * 6 * (4 * 288 * 288 + 3 * 288 * 768) + 288 * 32000);
}

// Weight bytes at the stored width plus one float32 scale per group: W4 g128 for LLaMA-2-7B
// is n * k / 2 + n * k / 128 * 4 per projection.
TEST(Ops, WeightBytesFollowTheFormat) {
  ModelSpec m = model("llama-2-7b");
  auto ops = lower_forward(m, decode(10));
  std::int64_t w = 0;
  for (const Op& o : ops)
    if (has_weights(o.kind)) w += o.weight_bytes;
  std::int64_t params = 32LL * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 4096LL * 32000;
  EXPECT_EQ(w, params / 2 + params / 128 * 4);
  m.quant = parse_scheme("w3a8-g64");
  w = 0;
  for (const Op& o : lower_forward(m, decode(10)))
    if (has_weights(o.kind)) w += o.weight_bytes;
  EXPECT_EQ(w, params * 3 / 8 + params / 64 * 4);
}

// GQA: LLaMA-3-8B reads 8 KV heads, not 32; int8 KV adds a float32 scale per (pos, head).
TEST(Ops, GqaKvTraffic) {
  ModelSpec m = model("llama-3-8b");  // kv_bits 8
  auto ops = lower_forward(m, decode(1023));
  std::int64_t kv_read = 0;
  for (const Op& o : ops)
    kv_read += o.kv_read_bytes;
  // K and V, 32 layers, 8 heads, 1024 positions, 128 bytes + 4-byte scale each.
  EXPECT_EQ(kv_read, 2LL * 32 * 8 * 1024 * (128 + 4));
  // Each attention op reads one half (score: K, value: V) and carries the cache's element width.
  for (const Op& o : ops)
    if (o.kind == OpKind::attn_score || o.kind == OpKind::attn_value) {
      EXPECT_EQ(o.kv_read_bytes, 8LL * 1024 * (128 + 4)) << o.name;
      EXPECT_EQ(o.kv_bits, 8) << o.name;
    } else if (o.kind == OpKind::kv_append) {
      EXPECT_EQ(o.kv_bits, 8) << o.name;
    }
  m.quant.kv_bits = 16;
  kv_read = 0;
  for (const Op& o : lower_forward(m, decode(1023)))
    kv_read += o.kv_read_bytes;
  EXPECT_EQ(kv_read, 2LL * 32 * 8 * 1024 * 128 * 2);
}

TEST(Ops, GemvForSingleRowsAndIntensity) {
  ModelSpec m = model("stories15M");
  auto ops = lower_forward(m, decode(5));
  int gemv = 0, matmul = 0;
  for (const Op& o : ops)
    gemv += o.kind == OpKind::gemv, matmul += o.kind == OpKind::matmul;
  EXPECT_EQ(gemv, 7 * 6);
  EXPECT_EQ(matmul, 0);
  auto pre = lower_forward(m, prefill(32));
  // Prefill reuses each weight 32 times: its projections have far higher intensity.
  auto find = [](const std::vector<Op>& v, const std::string& n) {
    for (const Op& o : v)
      if (o.name == n) return o;
    return Op{};
  };
  EXPECT_GT(find(pre, "L0.w1").intensity(), 10 * find(ops, "L0.w1").intensity());
  OpTotals t = totals(ops);
  EXPECT_EQ(t.flops % 2, 0);
  EXPECT_EQ(t.ops, std::int64_t(ops.size()));
}

// Shapes inside the accepted ranges can multiply past 2^63: every count is checked and an
// overflow names the op and the quantity (it once wrapped to negative bytes with exit 0).
TEST(Ops, CountsPast64BitsAreAnErrorNamingTheOp) {
  ModelSpec m;
  m.name = "max";
  m.dim = m.hidden_dim = m.vocab_size = m.seq_len = 1 << 20;
  m.n_layers = m.n_heads = m.n_kv_heads = 4096;
  WorkloadSpec w = prefill(1 << 20);
  w.batch = 1 << 16;
  try {
    lower_forward(m, w);
    FAIL() << "overflow not detected";
  } catch (const OverflowError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model 'max', workload 'p' (batch 65536, 1048576 tokens per pass): op "
                       "L0.wq: MACs does not fit in 64 bits"),
              std::string::npos)
        << msg;
  }
  // Smaller shapes that still fit give exact counts.
  w.batch = 1, w.prompt_len = 1 << 10, m.n_layers = 1;
  std::vector<Op> ops = lower_forward(m, w);
  EXPECT_EQ(ops[1].kind, OpKind::rmsnorm);
  EXPECT_EQ(ops[2].macs, std::int64_t(1) << 50);  // wq: 2^10 x 2^20 x 2^20
  // A totals sum past 2^63 is caught too.
  Op big = ops[2];
  big.macs = std::numeric_limits<std::int64_t>::max() / 2 + 1;
  EXPECT_THROW(totals({big, big}), OverflowError);
  // A layer list's GEMM (gemm_op) names the layer.
  try {
    gemm_op("huge", std::int64_t(1) << 21, std::int64_t(1) << 21, std::int64_t(1) << 21);
    FAIL() << "overflow not detected";
  } catch (const OverflowError& e) {
    EXPECT_NE(std::string(e.what()).find("layer huge: MACs does not fit in 64 bits"),
              std::string::npos)
        << e.what();
  }
}

// A run keeps every op: a workload with more ops than kMaxOps is refused before lowering.
TEST(Ops, TooManyOpsAreRefusedBeforeLowering) {
  ModelSpec m = model("tiny");
  WorkloadSpec w = decode(1);
  w.generated_tokens = 60;
  EXPECT_EQ(count_ops(m, w), std::int64_t(lower_workload(m, w).size()));
  EXPECT_EQ(count_ops(m, w, AttentionOps::per_head),
            std::int64_t(lower_workload(m, w, AttentionOps::per_head).size()));
  m.n_layers = 4096, m.seq_len = 1 << 20, w.generated_tokens = 1 << 19;
  EXPECT_THROW(lower_workload(m, w), ConfigError);
  w.generated_tokens = 1, w.batch = 1 << 16, m.n_kv_heads = m.n_heads;
  EXPECT_THROW(lower_forward(m, w, 0, AttentionOps::per_head), ConfigError);
}

// A prefill with generated tokens is the whole request: its pass 0 is the prefill alone and
// pass s > 0 the decode step at context prompt_len + s - 1, op for op; the graph holds all.
TEST(Ops, PrefillThenGenerate) {
  ModelSpec m = model("stories15M");
  WorkloadSpec w = prefill(12);
  w.generated_tokens = 3;
  EXPECT_EQ(w.passes(), 4);
  EXPECT_EQ(w.processed_tokens(), 15);
  EXPECT_EQ(w.end_position(), 15);
  auto same = [](const std::vector<Op>& a, const std::vector<Op>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].name, b[i].name);
      EXPECT_EQ(a[i].macs, b[i].macs) << a[i].name;
      EXPECT_EQ(a[i].kv_read_bytes, b[i].kv_read_bytes) << a[i].name;
      EXPECT_EQ(a[i].m, b[i].m) << a[i].name;
    }
  };
  same(lower_forward(m, w, 0), lower_forward(m, prefill(12)));
  for (int s = 1; s <= 3; ++s) {
    WorkloadSpec d = decode(12 + s - 1);
    auto ops = lower_forward(m, w, s);
    auto want = lower_forward(m, d, 0);
    // The decode step reads the previous pass's logits, as decode step s of a decode does.
    EXPECT_EQ(ops[0].reads[1].name, "s" + std::to_string(s - 1) + ".logits");
    same(ops, want);
  }
  OpGraph g = lower_workload(m, w);
  EXPECT_EQ(std::int64_t(g.size()), count_ops(m, w));
  EXPECT_EQ(g.size(),
            lower_forward(m, prefill(12)).size() + 3 * lower_forward(m, decode(12)).size());
  // The last position must fit the model: prompt_len + generated_tokens <= seq_len.
  w.generated_tokens = m.seq_len - 12 + 1;
  ASSERT_FALSE(w.problems(m).empty());
  EXPECT_NE(w.problems(m)[0].find("prompt_len + generated_tokens"), std::string::npos);
}
