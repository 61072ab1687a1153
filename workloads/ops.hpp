#pragma once
// Lowering of one forward pass to an ordered operator list with shapes, work and traffic.
//
// Conventions (one source of truth for every later consumer: mapper, roofline, reports):
// - GEMM view: out[m][n] = sum_k a[m][k] * b[k][n], done `count` times (attention: once per
//   batch element and KV head). MACs are exact: causal attention counts only unmasked pairs.
// - FLOPs: 2 per MAC; rmsnorm 4, rope 3, softmax 5, silu_mul 6, add 1 per element; embedding,
//   kv_append 0 (data movement).
// - Bytes: weights at their stored width (bits/8 per value, packed) plus one float32 scale per
//   group; matmul inputs at the activation width plus float32 scales (one per token, or per
//   group); everything else float32; KV cache at kv_bits (int8 adds one float32 scale per
//   position and KV head). Attention reads each KV head's cache once per query group (GQA):
//   attn_score's kv_read_bytes are the K half of the positions it reads, attn_value's the V half.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/spec.hpp"

namespace qaccel {

enum class OpKind {
  embedding,
  rmsnorm,
  matmul,
  gemv,
  rope,
  kv_append,
  attn_score,
  softmax,
  attn_value,
  add,
  silu_mul,
  classifier
};
std::string_view to_string(OpKind k);
// True for kinds with a GEMM view (matmul, gemv, classifier, attn_score, attn_value).
bool is_gemm(OpKind k);
// True for the weight-bearing projections (matmul, gemv, classifier).
bool has_weights(OpKind k);

// A tensor an op reads or writes: weights, activations (one per pass and op output) and KV
// caches. The op graph's edges follow from them (workloads/graph.hpp); the bytes size the
// tensor in the memory map.
enum class TensorKind { weight, activation, kv_cache };
std::string_view to_string(TensorKind k);
struct TensorRef {
  std::string name;  // "W.L0.wq", "s0.L0.q", "KV.L0"
  TensorKind kind = TensorKind::activation;
  std::int64_t bytes = 0;
};

struct Op {
  std::string name;  // e.g. "L0.wq", "L3.attn_score", "final.rmsnorm"
  OpKind kind = OpKind::add;
  int layer = -1;                               // -1 outside the decoder layers
  std::int64_t m = 0, n = 0, k = 0, count = 1;  // GEMM view (is_gemm kinds)
  std::int64_t elements = 0;                    // element count (other kinds)
  std::string dtype;                            // "w4a8-g64", "fp32", "kv16", ...
  int weight_bits = 32, act_bits = 32;          // operand widths (32 = float32)
  int kv_bits = 32;                             // K / V element width (attention ops, kv_append)
  WeightFormat wformat = WeightFormat::int8;    // weight-bearing ops: the element formats
  ActFormat aformat = ActFormat::int8;
  std::int64_t group = 0;  // quantization group along K (0 = K)
  std::int64_t macs = 0, flops = 0;
  std::int64_t weight_bytes = 0, act_read_bytes = 0, act_write_bytes = 0;
  std::int64_t kv_read_bytes = 0, kv_write_bytes = 0;
  std::vector<TensorRef> reads, writes;

  std::int64_t total_bytes() const;  // checked: throws OverflowError
  // FLOPs per byte moved (0 when nothing moves).
  double intensity() const { return total_bytes() ? double(flops) / double(total_bytes()) : 0.0; }
};

struct OpTotals {
  std::int64_t ops = 0, macs = 0, flops = 0, weight_bytes = 0, act_read_bytes = 0,
               act_write_bytes = 0, kv_read_bytes = 0, kv_write_bytes = 0;
  std::int64_t total_bytes() const;  // checked: throws OverflowError
  OpTotals& operator+=(const OpTotals& o);
};
OpTotals totals(const std::vector<Op>& ops);

// A plain integer GEMM layer (from a layer list): out[m][n] = sum_k a[m][k] b[k][n] with
// weight_bits-wide weights b, act_bits-wide activations and 32-bit outputs, one group of K.
Op gemm_op(std::string name, std::int64_t m, std::int64_t n, std::int64_t k, int weight_bits = 8,
           int act_bits = 8);

// How attention is cut into ops: one op per layer (the default), or one per sequence of the
// batch and KV head, so the heads are independent ops a scheduler can spread over units.
enum class AttentionOps { per_layer, per_head };

// The ops of every pass of a workload (lower_workload), computed without lowering. At most 2^20
// tokens x (3 + 4096 layers x (14 + 3 x 2^16 x 4096 heads)): far inside 64 bits.
std::int64_t count_ops(const ModelSpec& m, const WorkloadSpec& w,
                       AttentionOps attention = AttentionOps::per_layer);
// A whole graph (lower_workload) holds every op with its tensors (about 1.6 KiB each with its
// record: 16 GiB at the limit): more than this many ops is refused rather than left to exhaust
// memory. A simulated run lowers pass by pass instead (sim/simulate.hpp has its limits).
constexpr std::int64_t kMaxOps = 10'000'000;

// One forward pass of workload step `step` (decode: step s runs at context L + s; prefill has
// one step). Activation tensors are named per step ("s3.L0.q"); weights and KV caches are
// shared by every step. Step s > 0 reads the logits of step s - 1 (the next token).
std::vector<Op> lower_forward(const ModelSpec& m, const WorkloadSpec& w, int step = 0,
                              AttentionOps attention = AttentionOps::per_layer);

}  // namespace qaccel
