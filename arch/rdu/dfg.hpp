#pragma once
// The RDU compiler's dataflow graph (DFG) and its lowering from one decoder layer's ops.
//
// Models: what each tile of a pipelined section does and the streams between them. One node is
// one tile (a PCU, a PMU or an AGCU); one edge is a stream of vectors of `lanes` elements, each
// element `elem_bits` wide (a weight or KV stream may pack p narrow elements into one lane,
// `packing`: elem_bits = p x their bits). A node's work is
// `busy_cycles` for the whole pass (one vector per cycle through its pipeline, so
// cycles_per_vector() = busy / vectors_in), after a pipeline fill of `latency_cycles`.
// Not modelled: control tokens, the order elements arrive in, bank conflicts, and the float
// arithmetic itself (the functional path is a later step).
//
// Lowering rules (V(x) = ceil(x / lanes) vectors; t = tokens of the pass (x batch); node names
// are "<op>.<role>[i]"):
// - A tensor read by the layer but written before it (the layer input) enters through one
//   mem_read AGCU "in.<tensor>"; a tensor written by the layer and read by none of its ops (its
//   output) leaves through one mem_write AGCU "out.<tensor>". Inside the layer, every node
//   producing an op's output streams its whole output to every node consuming that tensor
//   (a buffer split over several PMUs receives an equal share on each).
// - A PCU map runs `stages` stage ops per element and one tail op (exp, rsqrt, reciprocal) at
//   one vector per cycle; a map needing s stage ops and u tail ops takes
//   max(ceil(s / stages), u) PCUs chained one after another, each busy V(elements) cycles.
// - A reduce (max or sum) takes one PCU: its cross-lane tree folds a vector per cycle, the
//   accumulator keeps one value per row, the tail may finish it (rsqrt, reciprocal). Busy
//   V(elements) cycles, V(rows) vectors out.
// - A buffer takes ceil(bytes / pmu_bytes) PMUs, each holding an equal slice; a PMU writes one
//   vector and reads `addresses_per_cycle` vectors per cycle.
// - rmsnorm (rows t): square-map (1 stage op), sum-reduce (tail rsqrt), a buffer holding the row
//   and the gains (2 x dim x 4 bytes) for the second pass, scale-map (2 stage ops: x r g).
// - matmul / gemv / attn_score / attn_value (GEMM view m, n, k, count): count x ceil(n / lanes)
//   column blocks of `lanes` outputs, spread round-robin over P = min(blocks, matmul_pcus)
//   matmul_tile PCUs. With `packing`, a B element of b < 32 bits shares a 32-bit lane with
//   p - 1 others (p = floor(32 / b) consecutive k of its column), else p = 1: a block of k is
//   Vk = ceil(k / p) B vectors. A PCU takes one B vector (a weight or KV row slice) and meets
//   the m rows of A with each of its p k's, `stages` of those p x m pairs a cycle (its
//   lanes x stages MACs, SN40L's systolic mode): busy = its blocks x Vk x ceil(p m / stages)
//   cycles (its MACs / (lanes x stages) when n fills the lanes and p m the stages), B vectors
//   in = its blocks x Vk, outputs m x its blocks vectors (a block narrower than `lanes`
//   columns still sends whole vectors). A (one row: count x k elements, streamed in at the
//   op's act width, the producer casting in its tail) sits in a double-buffered PMU buffer that
//   sends each PCU the m rows of the matrices its blocks belong to, m x V(k) vectors each (wo's
//   buffer gathers every attention head's output). B streams from memory through S = min(P,
//   matmul_streams) mem_read AGCUs, PCU j fed by stream j mod S (bytes: the op's weight or KV bytes
//   split evenly). An attention op's B is its own half of the cache (attn_score: K, attn_value:
//   V; K once and V once a layer), b = the cache's kv_bits (an int8 / int4 cache's per-position
//   scales are in the bytes, not in b).
// - rope: a map (3 stage ops) and a PMU holding one position's cos/sin table (head_size x 4 B).
// - kv_append: one mem_write AGCU storing K and V into the KV cache (per-head attention: all
//   the heads' caches through the one AGCU, its tier the first cache's).
// - softmax (rows t x heads): max-reduce, a buffer of the scores (one token's row, all heads,
//   x 4 B), exp-map (1 stage op: x - max; tail exp), sum-reduce (tail reciprocal), a buffer of the
//   exponentials, divide (1 stage op: e x 1/sum). The scores are materialized (the naive SDPA).
// - add: a map (1 stage op). silu_mul: a map of 4 stage ops and 2 tail ops (exp, reciprocal).
// embedding and classifier are outside the decoder layer and are not lowered.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/rdu/spec.hpp"
#include "workloads/ops.hpp"
#include "workloads/spec.hpp"

namespace qaccel::rdu {

enum class NodeKind {
  map,
  reduce,
  scan,
  matmul_tile,
  max_reduce,
  exp_map,
  sum_reduce,
  divide,
  mem_read,
  mem_write,
  buffer
};
const char* to_string(NodeKind k);

enum class TileKind { pcu, pmu, agcu };
const char* to_string(TileKind k);
TileKind tile_kind(NodeKind k);

struct Node {
  std::string name;
  NodeKind kind = NodeKind::map;
  TileKind tile = TileKind::pcu;
  int op = -1;                   // index in the layer's op list; -1: layer input / output
  std::int64_t vectors_in = 0;   // sum over the incoming edges
  std::int64_t vectors_out = 0;  // sum over the outgoing edges
  std::int64_t busy_cycles = 0;  // work of the whole pass, one vector per cycle
  int latency_cycles = 0;        // pipeline fill: stages used (+1 for the tail), or 1
  int stage_ops = 0;             // PCU: stage ops used per element (<= stages)
  std::int64_t bytes = 0;        // buffer: bytes held; mem_read / mem_write: bytes moved
  std::string tensor;            // mem nodes: the tensor read or written
  TensorKind tensor_kind = TensorKind::activation;

  double cycles_per_vector() const {
    return vectors_in ? double(busy_cycles) / double(vectors_in) : 0.0;
  }
};

struct Edge {
  int src = 0, dst = 0;  // node indices; src < dst (node order is topological)
  int elem_bits = 32;
  std::int64_t vectors = 0;
  double rate_vpc = 0;  // vectors per cycle at the section's pace (set by the placer)
  std::string tensor;   // the op tensor carried between ops ("" inside an op)
  // Edges of one source with the same payload >= 0 carry the same vectors (a PCU's output to
  // each consumer, a buffer read whole by several): a multicast. -1: this edge's own data.
  int payload = -1;

  std::int64_t bytes(int lanes) const { return vectors * lanes * elem_bits / 8; }
};

struct Dfg {
  std::vector<Node> nodes;  // topological order
  std::vector<Edge> edges;
  std::vector<std::string> op_names;  // the ops lowered, by Node::op

  int add_node(Node n);
  void add_edge(int src, int dst, int elem_bits, std::int64_t vectors, std::string tensor = "",
                int payload = -1);
  // Sets every node's vectors_in / vectors_out from the edges, and a buffer's busy cycles.
  void finish(const RduSpec& s);
  int count(TileKind t) const;
  int count(NodeKind k) const;
  // Nodes' incoming / outgoing edge indices.
  std::vector<std::vector<int>> in_edges() const;
  std::vector<std::vector<int>> out_edges() const;
};

// What the lowering needs from the model and the pass besides the ops.
struct LayerShape {
  int tokens = 1;  // rows of the pass: pass tokens x batch
  int dim = 0, heads = 0, head_size = 0;
};
LayerShape layer_shape(const ModelSpec& m, const WorkloadSpec& w);

// Lowers the ops of one decoder layer (in program order; ops of other layers are refused) by
// the rules above. Throws InternalError for an op kind a decoder layer never holds.
Dfg lower_layer(const std::vector<Op>& ops, const LayerShape& shape, const RduSpec& s);
// The ops of layer `layer` of lower_forward(m, w), lowered.
Dfg lower_layer(const ModelSpec& m, const WorkloadSpec& w, int layer, const RduSpec& s);
// The ops of layer `layer` in `ops` (program order kept).
std::vector<Op> layer_ops(const std::vector<Op>& ops, int layer);

}  // namespace qaccel::rdu
