#include "arch/rdu/dfg.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::rdu {

using i64 = std::int64_t;

const char* to_string(NodeKind k) {
  switch (k) {
    case NodeKind::map:
      return "map";
    case NodeKind::reduce:
      return "reduce";
    case NodeKind::scan:
      return "scan";
    case NodeKind::matmul_tile:
      return "matmul_tile";
    case NodeKind::max_reduce:
      return "max_reduce";
    case NodeKind::exp_map:
      return "exp_map";
    case NodeKind::sum_reduce:
      return "sum_reduce";
    case NodeKind::divide:
      return "divide";
    case NodeKind::mem_read:
      return "mem_read";
    case NodeKind::mem_write:
      return "mem_write";
    case NodeKind::buffer:
      return "buffer";
  }
  return "?";
}

const char* to_string(TileKind k) {
  switch (k) {
    case TileKind::pcu:
      return "pcu";
    case TileKind::pmu:
      return "pmu";
    case TileKind::agcu:
      return "agcu";
  }
  return "?";
}

TileKind tile_kind(NodeKind k) {
  if (k == NodeKind::buffer) return TileKind::pmu;
  if (k == NodeKind::mem_read || k == NodeKind::mem_write) return TileKind::agcu;
  return TileKind::pcu;
}

int Dfg::add_node(Node n) {
  n.tile = tile_kind(n.kind);
  nodes.push_back(std::move(n));
  return int(nodes.size()) - 1;
}

void Dfg::add_edge(int src, int dst, int elem_bits, i64 vectors, std::string tensor, int payload) {
  QACCEL_ASSERT(
      src >= 0 && src < dst && dst < int(nodes.size()),
      "DFG edge against the node order: " + std::to_string(src) + " -> " + std::to_string(dst));
  Edge e;
  e.src = src, e.dst = dst, e.elem_bits = elem_bits, e.vectors = vectors;
  e.tensor = std::move(tensor);
  e.payload = payload;
  edges.push_back(e);
}

void Dfg::finish(const RduSpec& s) {
  for (Node& n : nodes)
    n.vectors_in = n.vectors_out = 0;
  for (const Edge& e : edges)
    nodes[std::size_t(e.src)].vectors_out += e.vectors,
        nodes[std::size_t(e.dst)].vectors_in += e.vectors;
  for (Node& n : nodes) {
    if (n.kind == NodeKind::buffer)
      n.busy_cycles = std::max(n.vectors_in,
                               (n.vectors_out + s.addresses_per_cycle - 1) / s.addresses_per_cycle);
    else if (n.kind == NodeKind::mem_read)
      n.busy_cycles = n.vectors_out;
    else if (n.kind == NodeKind::mem_write)
      n.busy_cycles = n.vectors_in;
  }
}

int Dfg::count(TileKind t) const {
  return int(std::count_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.tile == t; }));
}

int Dfg::count(NodeKind k) const {
  return int(std::count_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.kind == k; }));
}

std::vector<std::vector<int>> Dfg::in_edges() const {
  std::vector<std::vector<int>> r(nodes.size());
  for (std::size_t i = 0; i < edges.size(); ++i)
    r[std::size_t(edges[i].dst)].push_back(int(i));
  return r;
}

std::vector<std::vector<int>> Dfg::out_edges() const {
  std::vector<std::vector<int>> r(nodes.size());
  for (std::size_t i = 0; i < edges.size(); ++i)
    r[std::size_t(edges[i].src)].push_back(int(i));
  return r;
}

LayerShape layer_shape(const ModelSpec& m, const WorkloadSpec& w) {
  LayerShape s;
  s.tokens = w.pass_tokens() * w.batch;
  s.dim = m.dim, s.heads = m.n_heads, s.head_size = m.head_size();
  return s;
}

std::vector<Op> layer_ops(const std::vector<Op>& ops, int layer) {
  std::vector<Op> r;
  for (const Op& o : ops)
    if (o.layer == layer) r.push_back(o);
  return r;
}

namespace {

i64 ceil_div(i64 a, i64 b) {
  return (a + b - 1) / b;
}

// One producer node of a tensor and the vectors it sends to each consumer.
struct Producer {
  int node;
  i64 vectors;
};

class Lowering {
 public:
  Lowering(const LayerShape& shape, const RduSpec& s) : shape_(shape), s_(s) {}

  Dfg run(const std::vector<Op>& ops) {
    QACCEL_ASSERT(!ops.empty(), "lowering an empty layer");
    for (std::size_t i = 0; i < ops.size(); ++i) {
      QACCEL_ASSERT(
          ops[i].layer == ops[0].layer && ops[i].layer >= 0,
          "op '" + ops[i].name + "' is not in decoder layer " + std::to_string(ops[0].layer));
      g_.op_names.push_back(ops[i].name);
    }
    for (std::size_t i = 0; i < ops.size(); ++i) {
      op_ = int(i);
      const Op& o = ops[i];
      // The layer's inputs enter first, so every edge runs forward in node order.
      for (const TensorRef& t : o.reads)
        if (t.kind == TensorKind::activation && !producers_.count(t.name) &&
            !inputs_.count(t.name)) {
          Node n;
          n.name = "in." + t.name, n.kind = NodeKind::mem_read, n.op = -1;
          n.tensor = t.name, n.bytes = t.bytes;
          inputs_[t.name] = g_.add_node(n);
        }
      lower(o);
      for (const TensorRef& t : o.reads)
        unread_.erase(t.name);
      for (const TensorRef& t : o.writes)
        if (t.kind == TensorKind::activation) unread_[t.name] = t.bytes;
    }
    op_ = -1;
    for (const auto& [name, bytes] : unread_) {
      Node n;
      n.name = "out." + name, n.kind = NodeKind::mem_write;
      n.tensor = name, n.bytes = bytes;
      connect(name, {g_.add_node(n)}, 32, false);
    }
    g_.finish(s_);
    return std::move(g_);
  }

 private:
  i64 vec(i64 elements) const { return ceil_div(elements, s_.lanes); }
  // Bits per K or V element of an attention op: the cache's width, not kv_read_bytes over the
  // elements (that would count an int8 / int4 cache's per-position scale in).
  static int cache_bits(const Op& o) { return o.kv_bits; }
  // Elements of `bits` one 32-bit lane carries (`packing`), else 1.
  i64 pack(int bits) const { return s_.packing && bits > 0 && bits < 32 ? 32 / bits : 1; }

  Node make(const std::string& name, NodeKind kind) const {
    Node n;
    n.name = name, n.kind = kind, n.op = op_;
    return n;
  }

  // A PCU computing `stage_ops` stage ops and `tail_ops` tail ops per element of `elements`:
  // max(ceil(stage_ops / stages), tail_ops, 1) PCUs chained, each at one vector per cycle.
  std::vector<int> pcu_chain(const std::string& name, NodeKind kind, int stage_ops, int tail_ops,
                             i64 elements) {
    const int n = std::max({int(ceil_div(stage_ops, s_.stages)), tail_ops, 1});
    std::vector<int> ids;
    int left = stage_ops;
    for (int i = 0; i < n; ++i) {
      Node x = make(n == 1 ? name : name + std::to_string(i), kind);
      x.stage_ops = std::min(left, int(ceil_div(stage_ops, n)));
      left -= x.stage_ops;
      x.busy_cycles = vec(elements);
      x.latency_cycles = x.stage_ops + (i < tail_ops ? 1 : 0);
      ids.push_back(g_.add_node(x));
      if (i > 0) g_.add_edge(ids[std::size_t(i) - 1], ids.back(), 32, vec(elements));
    }
    return ids;
  }

  // A reduce PCU over `elements` with one result per row (`rows`), tail op optional.
  int reduce(const std::string& name, NodeKind kind, i64 elements) {
    Node x = make(name, kind);
    x.stage_ops = 1;
    x.busy_cycles = vec(elements);
    int depth = 0;
    while ((1 << depth) < s_.lanes)
      ++depth;
    x.latency_cycles = 2 + depth;  // accumulate, tail, and the cross-lane tree
    return g_.add_node(x);
  }

  // ceil(bytes / pmu_bytes) PMUs holding equal slices.
  std::vector<int> buffer(const std::string& name, i64 bytes) {
    const i64 n = std::max<i64>(1, ceil_div(bytes, s_.pmu_bytes()));
    std::vector<int> ids;
    for (i64 i = 0; i < n; ++i) {
      Node x = make(n == 1 ? name : name + std::to_string(i), NodeKind::buffer);
      x.bytes = bytes / n + (i < bytes % n ? 1 : 0);
      x.latency_cycles = 1;
      ids.push_back(g_.add_node(x));
    }
    return ids;
  }

  // Streams tensor `t` from its producers (or the layer input) to `to`; a buffer group shares
  // each producer's output, anything else receives all of it.
  void connect(const std::string& t, const std::vector<int>& to, int bits, bool shared) {
    std::vector<Producer> from;
    if (auto it = producers_.find(t); it != producers_.end())
      from = it->second;
    else if (auto in = inputs_.find(t); in != inputs_.end())
      from = {{in->second, vec(ceil_div(g_.nodes[std::size_t(in->second)].bytes, 4))}};
    QACCEL_ASSERT(!from.empty(), "tensor '" + t + "' has no producer in the layer");
    for (const Producer& p : from)
      for (int c : to)
        g_.add_edge(p.node, c, bits, shared ? ceil_div(p.vectors, i64(to.size())) : p.vectors, t,
                    shared && to.size() > 1 ? -1 : payload(p.node, t));
  }

  // One payload id per (source node, what it sends whole).
  int payload(int node, const std::string& what) {
    return payloads_.try_emplace({node, what}, int(payloads_.size())).first->second;
  }
  std::map<std::pair<int, std::string>, int> payloads_;

  // A buffer group's `total` vectors read out to `to`, an equal share from each slice;
  // `whole`: every reader of the group gets the same vectors (a multicast).
  void read_out(const std::vector<int>& buf, int to, int bits, i64 total, bool whole = false) {
    for (int b : buf)
      g_.add_edge(b, to, bits, ceil_div(total, i64(buf.size())), "",
                  whole ? payload(b, ".read") : -1);
  }

  static const TensorRef& read_of(const Op& o, TensorKind k) {
    for (const TensorRef& t : o.reads)
      if (t.kind == k) return t;
    QACCEL_ASSERT(false, "op '" + o.name + "' reads no " + std::string(to_string(k)) + " tensor");
    return o.reads.front();
  }
  static std::vector<std::string> act_reads(const Op& o) {
    std::vector<std::string> r;
    for (const TensorRef& t : o.reads)
      if (t.kind == TensorKind::activation) r.push_back(t.name);
    return r;
  }

  void lower(const Op& o) {
    const std::string& p = o.name;
    const i64 E = o.elements;
    switch (o.kind) {
      case OpKind::rmsnorm: {
        const i64 rows = E / shape_.dim;
        auto sq = pcu_chain(p + ".square", NodeKind::map, 1, 0, E);
        int red = reduce(p + ".sum", NodeKind::reduce, E);
        auto buf = buffer(p + ".row", i64(2) * shape_.dim * 4);
        auto scale = pcu_chain(p + ".scale", NodeKind::map, 2, 0, E);
        const std::string x = act_reads(o).at(0);
        connect(x, {sq.front()}, 32, false);
        connect(x, buf, 32, true);
        g_.add_edge(sq.back(), red, 32, vec(E));
        g_.add_edge(red, scale.front(), 32, vec(rows));
        read_out(buf, scale.front(), 32, vec(E));
        producers_[o.writes.at(0).name] = {{scale.back(), vec(E)}};
        break;
      }
      case OpKind::attn_score:
      case OpKind::attn_value:
        if (s_.sdpa == SdpaMapping::online) {
          online_attention(o);
          break;
        }
        [[fallthrough]];
      case OpKind::matmul:
      case OpKind::gemv: {
        const bool attn = o.kind == OpKind::attn_score || o.kind == OpKind::attn_value;
        const TensorRef& b = read_of(o, attn ? TensorKind::kv_cache : TensorKind::weight);
        // An attention op's kv_read_bytes are its own half of the cache (score: K, value: V).
        const i64 b_bytes = attn ? o.kv_read_bytes : o.weight_bytes;
        const int b_bits = attn ? cache_bits(o) : o.weight_bits;
        const int a_bits = o.act_bits;
        const i64 blocks = o.count * ceil_div(o.n, s_.lanes);
        // Packing: a 32-bit lane carries p narrow B elements (p consecutive k of its column).
        const i64 pk = pack(b_bits);
        const i64 kv = ceil_div(i64(o.k), pk);  // B vectors per column block
        const i64 P = std::min<i64>(blocks, s_.matmul_pcus);
        const i64 S = std::min<i64>(P, s_.matmul_streams);
        auto abuf = buffer(p + ".a", ceil_div(i64(2) * o.count * o.k * a_bits, 8));
        for (const std::string& t : act_reads(o))  // wo reads every head's output
          connect(t, abuf, a_bits, true);
        std::vector<int> streams;
        for (i64 i = 0; i < S; ++i) {
          Node x = make(S == 1 ? p + ".b" : p + ".b" + std::to_string(i), NodeKind::mem_read);
          x.tensor = b.name, x.tensor_kind = b.kind;
          x.bytes = b_bytes / S + (i < b_bytes % S ? 1 : 0);
          x.latency_cycles = 1;
          streams.push_back(g_.add_node(x));
        }
        std::vector<Producer> out;
        for (i64 j = 0; j < P; ++j) {
          const i64 my_blocks = blocks / P + (j < blocks % P ? 1 : 0);
          Node x = make(p + ".mm" + std::to_string(j), NodeKind::matmul_tile);
          x.stage_ops = 2;  // multiply, accumulate
          // The PCU as a lanes x stages array: the p x m (k, row) pairs a B vector meets take
          // `stages` a cycle.
          x.busy_cycles = my_blocks * kv * ceil_div(pk * o.m, s_.stages);
          x.latency_cycles = 2;
          const int id = g_.add_node(x);
          g_.add_edge(streams[std::size_t(j % S)], id, int(b_bits * pk), my_blocks * kv);
          // A: the m rows of each of the op's `count` matrices this PCU's blocks belong to
          // (blocks j, j + P, ...; ceil(n / lanes) blocks a matrix).
          i64 mats = 0;
          for (i64 b = j, last = -1; b < blocks; b += P)
            if (b / ceil_div(o.n, s_.lanes) != last) ++mats, last = b / ceil_div(o.n, s_.lanes);
          read_out(abuf, id, a_bits, o.m * mats * vec(o.k), o.count == 1);
          out.push_back({id, o.m * my_blocks});
        }
        producers_[o.writes.at(0).name] = out;
        break;
      }
      case OpKind::rope: {
        auto table = buffer(p + ".table", i64(shape_.head_size) * 4);
        auto chain = pcu_chain(p + ".rotate", NodeKind::map, 3, 0, E);
        for (const std::string& t : act_reads(o))
          connect(t, {chain.front()}, 32, false);
        read_out(table, chain.front(), 32, vec(E));
        for (const TensorRef& t : o.writes)
          producers_[t.name].push_back({chain.back(), vec(t.bytes / 4)});
        break;
      }
      case OpKind::kv_append: {
        Node x = make(p + ".store", NodeKind::mem_write);
        x.tensor = o.writes.at(0).name, x.tensor_kind = TensorKind::kv_cache;
        x.bytes = o.kv_write_bytes;
        x.latency_cycles = 1;
        const int id = g_.add_node(x);
        for (const std::string& t : act_reads(o))
          connect(t, {id}, 32, false);
        break;
      }
      case OpKind::softmax: {
        if (s_.sdpa == SdpaMapping::online) {
          online_attention(o);
          break;
        }
        const i64 rows = i64(shape_.tokens) * shape_.heads;
        const i64 row_bytes = ceil_div(E, shape_.tokens) * 4;
        int mx = reduce(p + ".max", NodeKind::max_reduce, E);
        auto scores = buffer(p + ".scores", row_bytes);
        auto ex = pcu_chain(p + ".exp", NodeKind::exp_map, 1, 1, E);
        int sum = reduce(p + ".sum", NodeKind::sum_reduce, E);
        auto exps = buffer(p + ".exps", row_bytes);
        auto dv = pcu_chain(p + ".divide", NodeKind::divide, 1, 0, E);
        const std::string x = act_reads(o).at(0);
        connect(x, {mx}, 32, false);
        connect(x, scores, 32, true);
        g_.add_edge(mx, ex.front(), 32, vec(rows));
        read_out(scores, ex.front(), 32, vec(E));
        g_.add_edge(ex.back(), sum, 32, vec(E));
        for (int b : exps)
          g_.add_edge(ex.back(), b, 32, ceil_div(vec(E), i64(exps.size())));
        g_.add_edge(sum, dv.front(), 32, vec(rows));
        read_out(exps, dv.front(), 32, vec(E));
        producers_[o.writes.at(0).name] = {{dv.back(), vec(E)}};
        break;
      }
      case OpKind::add:
      case OpKind::silu_mul: {
        const bool silu = o.kind == OpKind::silu_mul;
        auto chain = pcu_chain(p + (silu ? ".silu_mul" : ".add"), NodeKind::map, silu ? 4 : 1,
                               silu ? 2 : 0, E);
        for (const std::string& t : act_reads(o))
          connect(t, {chain.front()}, 32, false);
        producers_[o.writes.at(0).name] = {{chain.back(), vec(E)}};
        break;
      }
      case OpKind::embedding:
      case OpKind::classifier:
        QACCEL_ASSERT(false, "op '" + o.name + "' (" + std::string(to_string(o.kind)) +
                                 ") is not part of a decoder layer");
    }
  }

  // The online SDPA (arch/rdu/attention.hpp's pipelines) lowered into the section: the query
  // rows (count x m) round-robin over Np = min(sdpa_pipelines, rows) pipelines; pipeline j
  // takes rows_j rows and their q_j = pairs x rows_j / rows query-key pairs (pairs = MACs /
  // head size, the remainder to the first). Per pipeline, with Vk = ceil(head_size / (lanes x
  // p)) vectors a K or V row (p: packing of the cache's elements):
  //  - attn_score: a score PCU (map: busy q_j Vk, one score out per pair) fed the q rows (a
  //    PMU buffer, rows_j V(head_size) vectors) and q_j Vk K vectors from K reader j mod S
  //    (S = min(Np, matmul_streams) AGCUs, the op's KV bytes, the K half, split evenly);
  //  - softmax: the running max / sum PCU (exp_map: busy q_j, one (alpha, p, l) message a pair);
  //  - attn_value: the accumulator PCU (map: busy q_j Vk) taking the messages and q_j Vk V
  //    vectors (V reader j mod S, as the K readers), sending rows_j V(head_size) output vectors
  //    to the op's consumers.
  struct Pipeline {
    i64 rows = 0, pairs = 0;
    int score = -1, softmax = -1;
  };
  std::vector<Pipeline> online_;

  void online_attention(const Op& o) {
    const std::string& p = o.name;
    if (o.kind == OpKind::attn_score) {
      const i64 rows = o.count * o.m, pairs = o.macs / std::max<i64>(1, o.k);
      const i64 np = std::max<i64>(1, std::min<i64>(s_.sdpa_pipelines, rows));
      const int bits = cache_bits(o);
      const i64 pk = pack(bits);
      kv_vectors_ = ceil_div(o.k, s_.lanes * pk);
      online_.assign(std::size_t(np), {});
      for (i64 j = 0; j < np; ++j) {
        Pipeline& q = online_[std::size_t(j)];
        q.rows = rows / np + (j < rows % np ? 1 : 0);
        const i64 share = checked::mul("attention pairs", pairs, q.rows);
        q.pairs = share / rows + (j < share % rows ? 1 : 0);
      }
      auto qbuf = buffer(p + ".q", rows * o.k * 4);
      for (const std::string& t : act_reads(o))
        connect(t, qbuf, 32, true);
      const std::vector<int> kr = kv_readers(o, p + ".k", np);
      for (i64 j = 0; j < np; ++j) {
        Pipeline& q = online_[std::size_t(j)];
        Node x = make(p + ".score" + std::to_string(j), NodeKind::map);
        x.stage_ops = 2, x.busy_cycles = q.pairs * kv_vectors_, x.latency_cycles = 2;
        q.score = g_.add_node(x);
        g_.add_edge(kr[std::size_t(j) % kr.size()], q.score, int(bits * pk), q.pairs * kv_vectors_);
        read_out(qbuf, q.score, 32, q.rows * vec(o.k));
        producers_[o.writes.at(0).name].push_back({q.score, q.pairs});  // joined pipeline-wise
      }
    } else if (o.kind == OpKind::softmax) {
      QACCEL_ASSERT(!online_.empty(), "online softmax before its scores: " + o.name);
      const std::string in = act_reads(o).at(0);
      for (std::size_t j = 0; j < online_.size(); ++j) {
        Pipeline& q = online_[j];
        Node x = make(p + ".online" + std::to_string(j), NodeKind::exp_map);
        x.stage_ops = 2, x.busy_cycles = q.pairs, x.latency_cycles = 2;
        q.softmax = g_.add_node(x);
        g_.add_edge(q.score, q.softmax, 32, q.pairs, in);
        producers_[o.writes.at(0).name].push_back({q.softmax, q.pairs});
      }
    } else {
      QACCEL_ASSERT(!online_.empty() && online_[0].softmax >= 0,
                    "online attention value before its softmax: " + o.name);
      const std::string in = act_reads(o).at(0);
      const int bits = cache_bits(o);
      const i64 pk = pack(bits);
      const std::vector<int> vr = kv_readers(o, p + ".v", i64(online_.size()));
      std::vector<Producer> out;
      for (std::size_t j = 0; j < online_.size(); ++j) {
        const Pipeline& q = online_[j];
        Node x = make(p + ".acc" + std::to_string(j), NodeKind::map);
        x.stage_ops = 2, x.busy_cycles = q.pairs * kv_vectors_, x.latency_cycles = 2;
        const int acc = g_.add_node(x);
        g_.add_edge(q.softmax, acc, 32, q.pairs, in);
        g_.add_edge(vr[j % vr.size()], acc, int(bits * pk), q.pairs * kv_vectors_);
        out.push_back({acc, q.rows * vec(o.n)});
      }
      producers_[o.writes.at(0).name] = out;
      online_.clear();
    }
  }
  i64 kv_vectors_ = 0;

  // S = min(np, matmul_streams) readers of the op's KV bytes (its half: K or V).
  std::vector<int> kv_readers(const Op& o, const std::string& name, i64 np) {
    const TensorRef& cache = read_of(o, TensorKind::kv_cache);
    const i64 S = std::max<i64>(1, std::min<i64>(np, s_.matmul_streams)), bytes = o.kv_read_bytes;
    std::vector<int> r;
    for (i64 i = 0; i < S; ++i) {
      Node x = make(S == 1 ? name : name + std::to_string(i), NodeKind::mem_read);
      x.tensor = cache.name, x.tensor_kind = cache.kind, x.latency_cycles = 1;
      x.bytes = bytes / S + (i < bytes % S ? 1 : 0);
      r.push_back(g_.add_node(x));
    }
    return r;
  }

  LayerShape shape_;
  const RduSpec& s_;
  Dfg g_;
  int op_ = -1;
  std::map<std::string, std::vector<Producer>> producers_;
  std::map<std::string, int> inputs_;
  std::map<std::string, i64> unread_;  // activations written and not read since
};

}  // namespace

Dfg lower_layer(const std::vector<Op>& ops, const LayerShape& shape, const RduSpec& s) {
  return Lowering(shape, s).run(ops);
}

Dfg lower_layer(const ModelSpec& m, const WorkloadSpec& w, int layer, const RduSpec& s) {
  return lower_layer(layer_ops(lower_forward(m, w), layer), layer_shape(m, w), s);
}

}  // namespace qaccel::rdu
