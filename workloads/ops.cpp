#include "workloads/ops.hpp"

#include "sim/base/error.hpp"

namespace qaccel {

std::string_view to_string(OpKind k) {
  switch (k) {
    case OpKind::embedding:
      return "embedding";
    case OpKind::rmsnorm:
      return "rmsnorm";
    case OpKind::matmul:
      return "matmul";
    case OpKind::gemv:
      return "gemv";
    case OpKind::rope:
      return "rope";
    case OpKind::kv_append:
      return "kv_append";
    case OpKind::attn_score:
      return "attn_score";
    case OpKind::softmax:
      return "softmax";
    case OpKind::attn_value:
      return "attn_value";
    case OpKind::add:
      return "add";
    case OpKind::silu_mul:
      return "silu_mul";
    case OpKind::classifier:
      return "classifier";
  }
  return "?";
}

bool is_gemm(OpKind k) {
  return k == OpKind::matmul || k == OpKind::gemv || k == OpKind::classifier ||
         k == OpKind::attn_score || k == OpKind::attn_value;
}

bool has_weights(OpKind k) {
  return k == OpKind::matmul || k == OpKind::gemv || k == OpKind::classifier;
}

OpTotals& OpTotals::operator+=(const OpTotals& o) {
  ops += o.ops, macs += o.macs, flops += o.flops, weight_bytes += o.weight_bytes;
  act_read_bytes += o.act_read_bytes, act_write_bytes += o.act_write_bytes;
  kv_read_bytes += o.kv_read_bytes, kv_write_bytes += o.kv_write_bytes;
  return *this;
}

OpTotals totals(const std::vector<Op>& ops) {
  OpTotals t;
  for (const Op& o : ops)
    t += OpTotals{1,
                  o.macs,
                  o.flops,
                  o.weight_bytes,
                  o.act_read_bytes,
                  o.act_write_bytes,
                  o.kv_read_bytes,
                  o.kv_write_bytes};
  return t;
}

namespace {

using i64 = std::int64_t;
constexpr i64 kF32 = 4;

struct Lowering {
  const ModelSpec& m;
  const QuantSpec& q;
  i64 B, T, start;  // batch, tokens in this pass, position of the first one
  std::vector<Op> ops;

  i64 weight_bytes(i64 rows, i64 cols) const {
    if (!q.quantized()) return rows * cols * kF32;
    i64 bits = weight_bits(q.weights);
    return (rows * cols * bits + 7) / 8 + rows * (cols / q.group_for(int(cols))) * kF32;
  }
  i64 act_bytes(i64 rows, i64 cols) const {
    if (!q.quantized()) return rows * cols * kF32;
    i64 scales =
        q.act_granularity == ActGranularity::token ? rows : rows * (cols / q.group_for(int(cols)));
    return rows * cols * (q.act_bits / 8) + scales * kF32;
  }
  i64 kv_bytes(i64 vectors) const {  // `vectors` head vectors of head_size
    i64 hs = m.head_size();
    if (q.kv_bits == 8) return vectors * (hs + kF32);
    return vectors * hs * (q.kv_bits / 8);
  }

  Op& add(std::string name, OpKind kind, int layer) {
    Op& o = ops.emplace_back();
    o.name = std::move(name), o.kind = kind, o.layer = layer;
    return o;
  }
  void linear(const std::string& name, int layer, i64 rows_m, i64 n, i64 k, OpKind kind) {
    Op& o = add(name, kind == OpKind::matmul && rows_m == 1 ? OpKind::gemv : kind, layer);
    o.m = rows_m, o.n = n, o.k = k;
    o.dtype = q.quantized() ? q.name() : "fp32";
    if (q.quantized())
      o.weight_bits = weight_bits(q.weights), o.act_bits = q.act_bits,
      o.group = q.group_for(int(k));
    o.macs = rows_m * n * k, o.flops = 2 * o.macs;
    o.weight_bytes = weight_bytes(n, k);
    o.act_read_bytes = act_bytes(rows_m, k);
    o.act_write_bytes = rows_m * n * kF32;
  }
  void elementwise(const std::string& name, OpKind kind, int layer, i64 elements, i64 flops_per,
                   i64 reads_per, i64 writes_per = 1) {
    Op& o = add(name, kind, layer);
    o.elements = elements, o.flops = elements * flops_per, o.dtype = "fp32";
    o.act_read_bytes = elements * reads_per * kF32;
    o.act_write_bytes = elements * writes_per * kF32;
  }

  void layer(int l) {
    const std::string p = "L" + std::to_string(l) + ".";
    const i64 d = m.dim, h = m.hidden_dim, kvd = m.kv_dim(), hs = m.head_size();
    const i64 nh = m.n_heads, nkv = m.n_kv_heads, grp = m.kv_group(), BT = B * T;
    // Sum over this pass's queries of their context length (causal: position p sees p + 1).
    const i64 ctx_sum = T * start + T * (T + 1) / 2, ctx_max = start + T;

    elementwise(p + "rmsnorm_att", OpKind::rmsnorm, l, BT * d, 4, 1);
    ops.back().act_read_bytes += d * kF32;  // norm weights
    linear(p + "wq", l, BT, d, d, OpKind::matmul);
    linear(p + "wk", l, BT, kvd, d, OpKind::matmul);
    linear(p + "wv", l, BT, kvd, d, OpKind::matmul);
    elementwise(p + "rope", OpKind::rope, l, BT * (d + kvd), 3, 1);
    {
      Op& o = add(p + "kv_append", OpKind::kv_append, l);
      o.elements = 2 * BT * kvd, o.dtype = "kv" + std::to_string(q.kv_bits);
      o.act_read_bytes = o.elements * kF32;
      o.kv_write_bytes = 2 * kv_bytes(BT * nkv);
    }
    {
      Op& o = add(p + "attn_score", OpKind::attn_score, l);
      o.m = T * grp, o.n = ctx_max, o.k = hs, o.count = B * nkv;
      o.dtype = "fp32 x kv" + std::to_string(q.kv_bits);
      o.macs = B * nh * ctx_sum * hs, o.flops = 2 * o.macs;
      o.act_read_bytes = BT * d * kF32;
      o.kv_read_bytes = kv_bytes(B * nkv * ctx_max);
      o.act_write_bytes = B * nh * ctx_sum * kF32;
    }
    elementwise(p + "softmax", OpKind::softmax, l, B * nh * ctx_sum, 5, 1);
    {
      Op& o = add(p + "attn_value", OpKind::attn_value, l);
      o.m = T * grp, o.n = hs, o.k = ctx_max, o.count = B * nkv;
      o.dtype = "fp32 x kv" + std::to_string(q.kv_bits);
      o.macs = B * nh * ctx_sum * hs, o.flops = 2 * o.macs;
      o.act_read_bytes = B * nh * ctx_sum * kF32;
      o.kv_read_bytes = kv_bytes(B * nkv * ctx_max);
      o.act_write_bytes = BT * d * kF32;
    }
    linear(p + "wo", l, BT, d, d, OpKind::matmul);
    elementwise(p + "residual_att", OpKind::add, l, BT * d, 1, 2);
    elementwise(p + "rmsnorm_ffn", OpKind::rmsnorm, l, BT * d, 4, 1);
    ops.back().act_read_bytes += d * kF32;
    linear(p + "w1", l, BT, h, d, OpKind::matmul);
    linear(p + "w3", l, BT, h, d, OpKind::matmul);
    elementwise(p + "silu_mul", OpKind::silu_mul, l, BT * h, 6, 2);
    linear(p + "w2", l, BT, d, h, OpKind::matmul);
    elementwise(p + "residual_ffn", OpKind::add, l, BT * d, 1, 2);
  }
};

}  // namespace

Op gemm_op(std::string name, std::int64_t m, std::int64_t n, std::int64_t k, int weight_bits,
           int act_bits) {
  Op o;
  o.name = std::move(name);
  o.kind = m == 1 ? OpKind::gemv : OpKind::matmul;
  o.m = m, o.n = n, o.k = k;
  o.weight_bits = weight_bits, o.act_bits = act_bits, o.group = 0;
  o.dtype = "w" + std::to_string(weight_bits) + "a" + std::to_string(act_bits);
  o.macs = m * n * k, o.flops = 2 * o.macs;
  o.weight_bytes = (n * k * weight_bits + 7) / 8;
  o.act_read_bytes = (m * k * act_bits + 7) / 8;
  o.act_write_bytes = m * n * 4;
  return o;
}

std::vector<Op> lower_forward(const ModelSpec& m, const WorkloadSpec& w, int step) {
  QACCEL_ASSERT(m.problems().empty(), "lowering an invalid model");
  const bool prefill = w.phase == Phase::prefill;
  QACCEL_ASSERT(step >= 0 && (prefill ? step == 0 : step < std::max(1, w.generated_tokens)),
                "step out of range");
  Lowering lw{m, m.quant, w.batch, w.pass_tokens(), prefill ? 0 : w.context_len + step, {}};
  const i64 d = m.dim, BT = lw.B * lw.T;
  {
    Op& o = lw.add("embedding", OpKind::embedding, -1);
    o.elements = BT * d, o.dtype = m.quant.quantized() ? m.quant.name() : "fp32";
    o.weight_bytes = BT * lw.weight_bytes(1, d);
    o.act_write_bytes = BT * d * kF32;
  }
  for (int l = 0; l < m.n_layers; ++l)
    lw.layer(l);
  const i64 rows = prefill && w.logits == LogitsFor::last ? lw.B : BT;
  lw.elementwise("final.rmsnorm", OpKind::rmsnorm, -1, rows * d, 4, 1);
  lw.ops.back().act_read_bytes += d * kF32;
  lw.linear("classifier", -1, rows, m.vocab_size, d, OpKind::classifier);
  return std::move(lw.ops);
}

}  // namespace qaccel
