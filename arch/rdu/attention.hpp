#pragma once
// Streaming attention on the RDU fabric (issue 15): scaled dot-product attention (SDPA) of one
// query head over one KV head's cache positions 0 .. P-1, in two mappings.
//
// FUNCTIONAL.
//  - naive: the reference's own order and float32 operations (workloads/QUANTIZATION.md,
//    "Attention"): score_t = dot(q, k_t) (i ascending from 0.0f) / sqrtf(head_size);
//    m = max_t; e_t = expf(score_t - m); sum t ascending; a_t = e_t / sum;
//    out[i] = sum_t a_t * v_t[i] (t ascending, from 0.0f). Bit-exact with the reference.
//  - online (FlashAttention-style reordering): per position, m' = max(m, s_t),
//    alpha = expf(m - m') (0 at t = 0), p = expf(s_t - m'), l = l * alpha + p,
//    acc[i] = acc[i] * alpha + p * v_t[i]; after the last position out[i] = acc[i] / l.
//    The scores (dot products) and the K/V rows (the cache's dequantization, (float)q * s for
//    int8/int4) are bit-exact with the reference; only the softmax and weighted sum differ.
//    THE BOUND. |out_online[i] - out_ref[i]| <= 8 * P * 2^-23 * max_t |v_t[i]| (P positions).
//    Both are a convex combination of the v_t[i]; with u = 2^-24 (float32's unit roundoff), to
//    first order: the reference's weights carry expf (<= 2u), the sum ((P - 1)u) and the
//    division (u), its weighted sum P multiply-adds (<= 2Pu of max|v|): <= (3P + 3)u max|v|.
//    The online order's acc takes three roundings a position and l two, compounding over the
//    P rescales (alpha's own error is common to acc and l and cancels in acc / l, as p's does
//    to first order), plus the division: <= (5P + 3)u max|v|. Their difference is below
//    (8P + 6)u <= 16P u = 8P * 2^-23 for P >= 1 (and 0 at P = 1, where both give v_0 exactly).
//    Measured (tests/test_rdu_attention.cpp): at most ~0.5 ulp of max|v| per position on the
//    tiny model's layers, far less on long random and adversarial sequences (growing, creeping
//    and widely spread maxima, equal scores); forgetting the rescale breaks the bound by 17x to
//    470x.
//
// THE PIPELINES (tiles are SC_THREADs, links are LinkChannel from link.hpp, no clock). Every
// link has the fabric's LinkSpec (C, L, R); a tile's pipeline depth D is modelled as D extra
// cycles of latency and D extra slots on its output link (the stages are a FIFO of D
// registers), so a tile consumes its inputs in the cycle they arrive and sends in that same
// cycle. V = ceil(head_size / lanes) vectors per K or V row. Rules per tile:
//  - AGCU (K reader, V reader): sends one vector of a row per cycle from cycle 0 (row t,
//    piece c is vector t*V + c); back-pressure only stalls it.
//  - score PCU: consumes one K vector per cycle; after a row's last vector sends the score
//    (one-element vector) in that cycle, output latency L + score_latency. Its reduction adds
//    the products in element order (a chained, not a tree, reduction: the reference's bits).
//  - online softmax PCU: consumes one score per cycle and sends (alpha, p, l) in the same
//    cycle (latency L + softmax_latency). Its recurrence (a compare, a multiply-add) is taken
//    to close within a cycle.
//  - accumulator PCU: for row t takes the row's message (online: alpha, p, l; naive: the
//    vector of `lanes` probabilities holding a_t, taken every `lanes` rows), then V row t one
//    vector per cycle; the last row's vectors (online: divided by l in the tail stage) go to
//    the writer in the cycle they are processed (latency L + acc_latency). The per-element
//    recurrence on acc is taken to close within the V cycles between rows.
//  - naive score-buffer PMU: writes each score in the cycle it arrives; from the cycle after
//    the last write it reads the buffer three times, one vector of `lanes` scores per cycle
//    (S = ceil(P / lanes) vectors a pass; read latency pmu_read_latency on its output link).
//  - naive softmax PCU: pass 1 max-reduce, pass 2 exp and sum, pass 3 expf again and divide
//    (expf is deterministic, so recomputing e_t gives the bits the reference stored), sending
//    one probability vector per pass-3 vector. A pass's reduction is known reduce_latency
//    cycles after its last vector; the next pass's first vector is taken no earlier (and no
//    earlier than the next cycle).
//  - writer AGCU: takes the output vectors; the run ends in the cycle it takes the last one.
// total_cycles = cycle of the last output vector's dequeue + 1.
//
// CLOSED FORM (full-rate links, C >= L + R, so a link never delays a consumer beyond its
// producer's own pace: see the proof in attention.cpp), with ls, lx, la, lp, lr the latencies:
//   online: P*V + V - 1 + 4L + ls + lx + la
//   naive:  2*P*V + 2*S + 5L + ls + lp + lx + la + 2*max(1, lr) - 2
// Vectors moved: online 2PV + 2P + V; naive 2PV + P + 4S + V.
// Intermediate storage (tracked by the tiles as they allocate; held until the head's output
// is written): online: acc (4 * head_size bytes) + m + l (8) — independent of P; naive: the
// score buffer (4 bytes per position) + acc + m + sum, i.e. 4 * P + 4 * head_size + 8.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "arch/rdu/link.hpp"
#include "arch/rdu/spec.hpp"

namespace qaccel {
class KVCache;
}

namespace qaccel::rdu {

std::string_view to_string(SdpaMapping m);  // SdpaMapping: arch/rdu/spec.hpp
// "online" | "naive"; ConfigError naming `where` otherwise.
SdpaMapping parse_sdpa_mapping(std::string_view s, const std::string& where);

// ---- functional (plain C++) ---------------------------------------------------------------

// One head's inputs: q[head_size], and the K and V rows of positions 0 .. positions-1 as read
// back from the cache (row-major, positions x head_size).
struct SdpaInputs {
  int head_size = 0, positions = 0;
  std::vector<float> q, k, v;
  const float* k_row(int t) const { return k.data() + std::size_t(t) * head_size; }
  const float* v_row(int t) const { return v.data() + std::size_t(t) * head_size; }
};

// Head `q` (head_size floats) against KV head `kv_head` of `layer`, positions 0 .. positions-1,
// the rows read back with the cache's own KVCache::load (its dequantization).
SdpaInputs sdpa_inputs_from_cache(std::span<const float> q, const KVCache& kv, int layer,
                                  int kv_head, int positions);

// score_t = dot(q, k_t) / sqrtf(head_size), i ascending: the reference's score.
float sdpa_score(const SdpaInputs& in, int t);
// out[head_size].
void sdpa_naive(const SdpaInputs& in, std::span<float> out);
void sdpa_online(const SdpaInputs& in, std::span<float> out);
// The documented bound of |online - reference| for element i: 8 * P * 2^-23 * max_t |v_t[i]|.
float sdpa_online_bound(const SdpaInputs& in, int i);

// ---- the pipelines ------------------------------------------------------------------------

struct SdpaFabric {
  LinkSpec link;                   // every link of the pipeline; lanes = the PCU's SIMD width
  i64 score_latency_cycles = 6;    // score PCU: last K vector to score out
  i64 softmax_latency_cycles = 6;  // softmax PCU: score in to message out
  i64 acc_latency_cycles = 6;      // accumulator PCU: V vector in to output out
  i64 pmu_read_latency_cycles = 2;
  i64 reduce_latency_cycles = 4;  // naive: a pass's max or sum after its last vector
  int pipelines = 1;              // copies of the pipeline an attention op's heads share
  void validate(const std::string& where) const;
};

struct SdpaStats {
  i64 total_cycles = 0;
  i64 vectors_moved = 0;        // over every link, K/V rows and output included
  i64 peak_buffer_bytes = 0;    // intermediate storage, as the tiles held it
  i64 cycles_per_position = 0;  // steady state: rows' spacing at the accumulator (2nd half)
  double positions_per_cycle() const { return cycles_per_position ? 1.0 / cycles_per_position : 0; }
};

struct SdpaRun {
  SdpaStats stats;
  std::vector<float> out;  // head_size
};

// Runs one head's pipeline as SystemC processes carrying the real values. Elaborates and runs
// the SystemC kernel: at most once per process.
SdpaRun run_sdpa_systemc(SdpaMapping m, const SdpaInputs& in, const SdpaFabric& f);

// The closed form above for one head (requires full-rate links: C >= L + R; ConfigError
// naming `where` otherwise). cycles_per_position = V.
SdpaStats sdpa_head_cost(SdpaMapping m, int positions, int head_size, const SdpaFabric& f,
                         const std::string& where = "sdpa");

// A whole attention op: `heads` query heads over `context_positions` each, on f.pipelines
// copies of the pipeline, a copy running its heads one after another (a head drains before the
// next starts). cycles = ceil(heads / pipelines) * head cycles; peak_buffer_bytes =
// min(heads, pipelines) * the head's peak (the copies hold theirs at once); vectors = heads *
// the head's.
struct SdpaCost {
  i64 cycles = 0, vectors_moved = 0, peak_buffer_bytes = 0;
  SdpaStats head;
};
SdpaCost sdpa_cost(SdpaMapping m, int context_positions, int head_size, int heads,
                   const SdpaFabric& f, const std::string& where = "sdpa");

}  // namespace qaccel::rdu
