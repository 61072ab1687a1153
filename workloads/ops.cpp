#include "workloads/ops.hpp"

#include "sim/base/checked.hpp"
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

std::string_view to_string(TensorKind k) {
  switch (k) {
    case TensorKind::weight:
      return "weight";
    case TensorKind::activation:
      return "activation";
    case TensorKind::kv_cache:
      return "kv_cache";
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

std::int64_t Op::total_bytes() const {
  return checked::add("op " + name + ": total bytes", weight_bytes, act_read_bytes, act_write_bytes,
                      kv_read_bytes, kv_write_bytes);
}

std::int64_t OpTotals::total_bytes() const {
  return checked::add("total bytes of the ops", weight_bytes, act_read_bytes, act_write_bytes,
                      kv_read_bytes, kv_write_bytes);
}

OpTotals& OpTotals::operator+=(const OpTotals& o) {
  using checked::accumulate;
  accumulate(ops, o.ops, "op count");
  accumulate(macs, o.macs, "total MACs");
  accumulate(flops, o.flops, "total FLOPs");
  accumulate(weight_bytes, o.weight_bytes, "total weight bytes");
  accumulate(act_read_bytes, o.act_read_bytes, "total activation read bytes");
  accumulate(act_write_bytes, o.act_write_bytes, "total activation write bytes");
  accumulate(kv_read_bytes, o.kv_read_bytes, "total KV-cache read bytes");
  accumulate(kv_write_bytes, o.kv_write_bytes, "total KV-cache write bytes");
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
// Every count below is checked: shapes inside the accepted ranges can multiply past 2^63.
// lower_forward names the op being lowered in the message.
using checked::mul;

struct Lowering {
  const ModelSpec& m;
  const QuantSpec& q;
  i64 B, T, start;  // batch, tokens in this pass, position of the first one
  int step;
  AttentionOps attention;
  std::vector<Op> ops;
  std::string current;  // the op being lowered (for overflow messages)

  i64 weight_bytes(i64 rows, i64 cols) const {
    const char* what = "weight bytes";
    if (!q.quantized()) return mul(what, rows, cols, kF32);
    return q.weight_bytes(rows, cols);
  }
  i64 act_bytes(i64 rows, i64 cols) const {
    const char* what = "activation bytes";
    if (!q.quantized()) return mul(what, rows, cols, kF32);
    if (q.act == ActFormat::fp16 || q.act == ActFormat::bf16) return mul(what, rows, cols, 2);
    i64 scales = q.act_granularity == ActGranularity::token
                     ? rows
                     : mul(what, rows, cols / q.group_for(int(cols)));
    return checked::add(what, mul(what, rows, cols, q.act_bits() / 8), mul(what, scales, kF32));
  }
  i64 kv_bytes(i64 vectors) const {  // `vectors` head vectors of head_size
    const char* what = "KV-cache bytes";
    i64 hs = m.head_size();
    if (q.kv_bits <= 8)
      return mul(what, vectors, checked::add(what, checked::ceil_div(hs * q.kv_bits, 8), kF32));
    return mul(what, vectors, hs, q.kv_bits / 8);
  }
  // Tensor names: activations are per step, weights and KV caches are shared by all steps.
  std::string act(const std::string& n) const { return "s" + std::to_string(step) + "." + n; }
  static TensorRef in(std::string name, i64 bytes) {
    return {std::move(name), TensorKind::activation, bytes};
  }
  // A KV cache: K and V of `seqs` sequences and `heads` KV heads over the model's seq_len.
  TensorRef kv(std::string name, i64 seqs, i64 heads) const {
    return {std::move(name), TensorKind::kv_cache,
            mul("KV-cache bytes", 2, kv_bytes(mul("KV-cache bytes", seqs, heads, m.seq_len)))};
  }

  Op& add(std::string name, OpKind kind, int layer) {
    Op& o = ops.emplace_back();
    o.name = std::move(name), o.kind = kind, o.layer = layer;
    current = o.name;
    return o;
  }
  // A weight matmul from activation `x` to activation `y`; `weights` names the weight tensor.
  void linear(const std::string& name, int layer, i64 rows_m, i64 n, i64 k, OpKind kind,
              const std::string& x, const std::string& y, std::string weights = "") {
    Op& o = add(name, kind == OpKind::matmul && rows_m == 1 ? OpKind::gemv : kind, layer);
    o.m = rows_m, o.n = n, o.k = k;
    o.dtype = q.name();
    o.wformat = q.weights, o.aformat = q.act;
    if (q.quantized())
      o.weight_bits = weight_bits(q.weights), o.act_bits = q.act_bits(),
      o.group = q.group_for(int(k));
    o.macs = mul("MACs", rows_m, n, k), o.flops = mul("FLOPs", 2, o.macs);
    o.weight_bytes = weight_bytes(n, k);
    o.act_read_bytes = act_bytes(rows_m, k);
    o.act_write_bytes = mul("activation bytes", rows_m, n, kF32);
    o.reads = {{weights.empty() ? "W." + name : weights, TensorKind::weight, o.weight_bytes},
               in(act(x), o.act_read_bytes)};
    o.writes = {in(act(y), o.act_write_bytes)};
  }
  void elementwise(const std::string& name, OpKind kind, int layer, i64 elements, i64 flops_per,
                   i64 reads_per, std::vector<std::string> xs, std::vector<std::string> ys) {
    Op& o = add(name, kind, layer);
    o.elements = elements, o.flops = mul("FLOPs", elements, flops_per), o.dtype = "fp32";
    const i64 bytes = mul("activation bytes", elements, kF32);
    o.act_read_bytes = mul("activation bytes", bytes, reads_per);
    o.act_write_bytes = mul("activation bytes", bytes, i64(ys.size()));
    for (const auto& x : xs)
      o.reads.push_back(in(act(x), bytes));
    for (const auto& y : ys)
      o.writes.push_back(in(act(y), bytes));
  }

  // Attention of `seqs` sequences and `kv_heads` KV heads as one group of ops (score, softmax,
  // value), reading cache `cache` and writing activation `out`.
  void attention_ops(const std::string& p, const std::string& suffix, int l, i64 seqs, i64 kv_heads,
                     const TensorRef& cache, const std::string& out) {
    const i64 hs = m.head_size(), grp = m.kv_group(), heads = kv_heads * grp;
    // Query-key pairs over the pass's T tokens (causal: token t sees start + t + 1 keys).
    const i64 ctx_sum = checked::add("attention pairs", mul("attention pairs", T, start),
                                     mul("attention pairs", T, T + 1) / 2),
              ctx_max = start + T;
    const i64 macs = mul("MACs", seqs, heads, ctx_sum, hs);
    const i64 qkv_bytes = mul("activation bytes", seqs, T, heads, hs, kF32);
    const i64 score_bytes = mul("activation bytes", seqs, heads, ctx_sum, kF32);
    const i64 kv_read = kv_bytes(mul("KV-cache bytes", seqs, kv_heads, ctx_max));
    const std::string scores = p + "scores" + suffix, probs = p + "probs" + suffix;
    {
      Op& o = add(p + "attn_score" + suffix, OpKind::attn_score, l);
      o.m = mul("GEMM rows", T, grp), o.n = ctx_max, o.k = hs, o.count = seqs * kv_heads;
      o.dtype = "fp32 x kv" + std::to_string(q.kv_bits), o.kv_bits = q.kv_bits;
      o.macs = macs, o.flops = mul("FLOPs", 2, macs);
      o.act_read_bytes = qkv_bytes;
      o.kv_read_bytes = kv_read;
      o.act_write_bytes = score_bytes;
      o.reads = {in(act(p + "q_rot"), o.act_read_bytes), cache};
      o.writes = {in(act(scores), o.act_write_bytes)};
    }
    elementwise(p + "softmax" + suffix, OpKind::softmax, l, mul("elements", seqs, heads, ctx_sum),
                5, 1, {scores}, {probs});
    {
      Op& o = add(p + "attn_value" + suffix, OpKind::attn_value, l);
      o.m = mul("GEMM rows", T, grp), o.n = hs, o.k = ctx_max, o.count = seqs * kv_heads;
      o.dtype = "fp32 x kv" + std::to_string(q.kv_bits), o.kv_bits = q.kv_bits;
      o.macs = macs, o.flops = mul("FLOPs", 2, macs);
      o.act_read_bytes = score_bytes;
      o.kv_read_bytes = kv_read;
      o.act_write_bytes = qkv_bytes;
      o.reads = {in(act(probs), o.act_read_bytes), cache};
      o.writes = {in(act(out), o.act_write_bytes)};
    }
  }

  void layer(int l, const std::string& x_in, const std::string& x_out) {
    const std::string p = "L" + std::to_string(l) + ".";
    const i64 d = m.dim, h = m.hidden_dim, kvd = m.kv_dim();
    const i64 nkv = m.n_kv_heads, BT = mul("tokens", B, T);
    const i64 BTd = mul("elements", BT, d), BTh = mul("elements", BT, h);
    const i64 q_bytes = mul("activation bytes", BTd, kF32);
    const i64 k_bytes = mul("activation bytes", BT, kvd, kF32);

    elementwise(p + "rmsnorm_att", OpKind::rmsnorm, l, BTd, 4, 1, {x_in}, {p + "xn_att"});
    checked::accumulate(ops.back().act_read_bytes, d * kF32, "activation bytes");  // norm weights
    linear(p + "wq", l, BT, d, d, OpKind::matmul, p + "xn_att", p + "q");
    linear(p + "wk", l, BT, kvd, d, OpKind::matmul, p + "xn_att", p + "k");
    linear(p + "wv", l, BT, kvd, d, OpKind::matmul, p + "xn_att", p + "v");
    {
      // RoPE rotates q and k together (one op over d + kv_dim elements per token).
      Op& o = add(p + "rope", OpKind::rope, l);
      o.elements = mul("elements", BT, d + kvd), o.flops = mul("FLOPs", 3, o.elements);
      o.dtype = "fp32";
      o.act_read_bytes = o.act_write_bytes = mul("activation bytes", o.elements, kF32);
      o.reads = {in(act(p + "q"), q_bytes), in(act(p + "k"), k_bytes)};
      o.writes = {in(act(p + "q_rot"), q_bytes), in(act(p + "k_rot"), k_bytes)};
    }
    std::vector<TensorRef> caches;
    current = p + "kv_append (its KV-cache tensors)";  // sized before the op exists
    if (attention == AttentionOps::per_layer)
      caches.push_back(kv("KV.L" + std::to_string(l), B, nkv));
    else
      for (i64 b = 0; b < B; ++b)
        for (i64 kh = 0; kh < nkv; ++kh)
          caches.push_back(
              kv("KV.L" + std::to_string(l) + ".b" + std::to_string(b) + ".h" + std::to_string(kh),
                 1, 1));
    {
      Op& o = add(p + "kv_append", OpKind::kv_append, l);
      o.elements = mul("elements", 2, BT, kvd), o.dtype = "kv" + std::to_string(q.kv_bits);
      o.kv_bits = q.kv_bits;
      o.act_read_bytes = mul("activation bytes", o.elements, kF32);
      o.kv_write_bytes = mul("KV-cache bytes", 2, kv_bytes(mul("KV-cache bytes", BT, nkv)));
      o.reads = {in(act(p + "k_rot"), k_bytes), in(act(p + "v"), k_bytes)};
      o.writes = caches;
    }
    std::vector<TensorRef> attn_outs;
    if (attention == AttentionOps::per_layer) {
      attention_ops(p, "", l, B, nkv, caches[0], p + "attn");
      attn_outs.push_back(ops.back().writes[0]);
    } else {
      for (i64 b = 0; b < B; ++b)
        for (i64 kh = 0; kh < nkv; ++kh) {
          const std::string sfx = ".b" + std::to_string(b) + ".h" + std::to_string(kh);
          attention_ops(p, sfx, l, 1, 1, caches[std::size_t(b * nkv + kh)], p + "attn" + sfx);
          attn_outs.push_back(ops.back().writes[0]);
        }
    }
    linear(p + "wo", l, BT, d, d, OpKind::matmul, p + "attn", p + "o");
    ops.back().reads.pop_back();  // wo reads the attention output(s) as written
    ops.back().reads.insert(ops.back().reads.end(), attn_outs.begin(), attn_outs.end());
    elementwise(p + "residual_att", OpKind::add, l, BTd, 1, 2, {x_in, p + "o"}, {p + "x_att"});
    elementwise(p + "rmsnorm_ffn", OpKind::rmsnorm, l, BTd, 4, 1, {p + "x_att"}, {p + "xn_ffn"});
    checked::accumulate(ops.back().act_read_bytes, d * kF32, "activation bytes");
    linear(p + "w1", l, BT, h, d, OpKind::matmul, p + "xn_ffn", p + "h1");
    linear(p + "w3", l, BT, h, d, OpKind::matmul, p + "xn_ffn", p + "h3");
    elementwise(p + "silu_mul", OpKind::silu_mul, l, BTh, 6, 2, {p + "h1", p + "h3"}, {p + "hg"});
    linear(p + "w2", l, BT, d, h, OpKind::matmul, p + "hg", p + "f");
    elementwise(p + "residual_ffn", OpKind::add, l, BTd, 1, 2, {p + "x_att", p + "f"}, {x_out});
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
  const bool ints = weight_bits >= 2 && weight_bits <= 8;
  o.wformat =
      ints ? static_cast<WeightFormat>(static_cast<int>(WeightFormat::int2) + weight_bits - 2)
      : weight_bits == 16 ? WeightFormat::fp16
                          : WeightFormat::fp32;
  o.aformat = o.wformat == WeightFormat::fp16 ? ActFormat::fp16
              : act_bits == 16                ? ActFormat::int16
                                              : ActFormat::int8;
  // Checked: a layer list's shapes are the user's (the message names the layer).
  const std::string what = "layer " + o.name + ": ";
  o.macs = checked::mul(what + "MACs", m, n, k);
  o.flops = checked::mul(what + "FLOPs", 2, o.macs);
  o.weight_bytes = checked::ceil_div(checked::mul(what + "weight bits", n, k, weight_bits), 8);
  o.act_read_bytes = checked::ceil_div(checked::mul(what + "activation bits", m, k, act_bits), 8);
  o.act_write_bytes = checked::mul(what + "output bytes", m, n, 4);
  o.reads = {{"W." + o.name, TensorKind::weight, o.weight_bytes}};
  o.writes = {{o.name + ".out", TensorKind::activation, o.act_write_bytes}};
  return o;
}

std::int64_t count_ops(const ModelSpec& m, const WorkloadSpec& w, AttentionOps attention) {
  // Per layer: 14 ops, plus score, softmax and value per attention group; 3 outside the layers.
  const std::int64_t groups =
      attention == AttentionOps::per_head ? std::int64_t(w.batch) * m.n_kv_heads : 1;
  const std::int64_t per_pass = 3 + std::int64_t(m.n_layers) * (14 + 3 * groups);
  return per_pass * w.passes();
}

std::vector<Op> lower_forward(const ModelSpec& m, const WorkloadSpec& w, int step,
                              AttentionOps attention) {
  QACCEL_ASSERT(m.problems().empty(), "lowering an invalid model");
  const bool prefill = w.prefill_pass(step);
  QACCEL_ASSERT(step >= 0 && step < std::max(1, w.passes()), "step out of range");
  WorkloadSpec one = w;
  one.phase = prefill ? Phase::prefill : Phase::decode;
  one.generated_tokens = prefill ? 0 : 1;
  if (const std::int64_t n = count_ops(m, one, attention); n > kMaxOps)
    throw ConfigError("model '" + m.name + "', workload '" + w.name + "': " + std::to_string(n) +
                      " ops in one pass, more than one run may hold (" + std::to_string(kMaxOps) +
                      "); use per_layer attention or a smaller batch");
  Lowering lw{m,         m.quant, w.batch, w.pass_tokens(step), w.pass_context(step), step,
              attention, {},      {}};
  try {
    const i64 d = m.dim, BT = mul("tokens", lw.B, lw.T), BTd = mul("elements", BT, d);
    const std::string table = "W.embedding";
    {
      Op& o = lw.add("embedding", OpKind::embedding, -1);
      o.elements = BTd, o.dtype = m.quant.name();
      o.weight_bytes = mul("weight bytes", BT, lw.weight_bytes(1, d));
      o.act_write_bytes = mul("activation bytes", BTd, kF32);
      // The tokens: the prompt's, or the previous step's logits (greedy decoding).
      o.reads = {{table, TensorKind::weight, lw.weight_bytes(m.vocab_size, d)},
                 Lowering::in(step == 0 ? "tokens" : "s" + std::to_string(step - 1) + ".logits",
                              mul("activation bytes", BT, 4))};
      o.writes = {Lowering::in(lw.act("x"), o.act_write_bytes)};
    }
    std::string x = "x";
    for (int l = 0; l < m.n_layers; ++l) {
      std::string next = "L" + std::to_string(l) + ".x";
      lw.layer(l, x, next);
      x = next;
    }
    const i64 rows = prefill && w.logits == LogitsFor::last ? lw.B : BT;
    lw.elementwise("final.rmsnorm", OpKind::rmsnorm, -1, mul("elements", rows, d), 4, 1, {x},
                   {"xf"});
    checked::accumulate(lw.ops.back().act_read_bytes, d * kF32, "activation bytes");
    lw.linear("classifier", -1, rows, m.vocab_size, d, OpKind::classifier, "xf", "logits",
              m.shared_classifier ? table : "");
  } catch (const OverflowError& e) {
    throw OverflowError("model '" + m.name + "', workload '" + w.name + "' (batch " +
                        std::to_string(w.batch) + ", " + std::to_string(w.pass_tokens(step)) +
                        " tokens per pass): op " + lw.current + ": " + e.what());
  }
  return std::move(lw.ops);
}

}  // namespace qaccel
