// The RDU compiler (arch/rdu/spec, dfg, place): the spec's validation, the lowering of a decoder
// layer, placement and routing, sections, memory tiers and fused versus per-op mapping, each
// checked against numbers worked out by hand from the rules in the headers.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <string>

#include "arch/rdu/attention.hpp"
#include "arch/rdu/place.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/config/yaml_reader.hpp"
#include "test_util.hpp"

using namespace qaccel;
using namespace qaccel::rdu;
using i64 = std::int64_t;

namespace {

// Decode at a context of `context` tokens, batch 1.
WorkloadSpec decode(int context) {
  WorkloadSpec w;
  w.name = "d";
  w.phase = Phase::decode;
  w.context_len = context, w.generated_tokens = 1, w.batch = 1;
  return w;
}

// A one-layer float32 model small enough to count by hand: dim 32, hidden 64, 2 heads of 16.
ModelSpec tiny_model() {
  ModelSpec m;
  m.name = "tiny";
  m.dim = 32, m.hidden_dim = 64, m.n_layers = 1, m.n_heads = 2, m.n_kv_heads = 2;
  m.vocab_size = 16, m.seq_len = 16;
  return m;
}

// The hand counts below lower attention the naive way (score and value matmul tiles, the
// scores materialized); the online mapping has its own test.
RduSpec tiny_spec() {
  RduSpec s;
  s.sdpa = SdpaMapping::naive;
  s.lanes = 16, s.stages = 2, s.matmul_pcus = 2, s.matmul_streams = 1, s.pmu_kib = 1;
  s.rows = 10, s.cols = 8, s.agcus = 12;
  return s;
}

// A spec for hand-made graphs: HBM fast enough never to bound, no reconfiguration cost.
RduSpec grid(int rows, int cols, int agcus) {
  RduSpec s;
  s.rows = rows, s.cols = cols, s.agcus = agcus, s.lanes = 16;
  s.hbm_bytes_per_cycle = 1e9, s.reconfig_cycles = 0;
  return s;
}

int add(Dfg& g, const std::string& name, NodeKind k, int op, i64 busy = 0, int latency = 0) {
  Node n;
  n.name = name, n.kind = k, n.op = op, n.busy_cycles = busy, n.latency_cycles = latency;
  return g.add_node(n);
}

const Node& named(const Dfg& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return n;
  ADD_FAILURE() << "no node " << name;
  return g.nodes.front();
}

ModelSpec model(const std::string& name) {
  return config::load_model(test::source_dir() + "/configs/models/" + name + ".yaml");
}

std::string load_error(const std::string& yaml) {
  try {
    load_spec(YAML::Load(yaml), "s.yaml", "system.units.rdu0");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// Defaults, derived counts and the checkerboard: a 3 x 5 grid has 15 tiles, PCUs where row +
// column is odd (columns 1..5): rows 0 and 2 at columns 1, 3, 5, row 1 at 2, 4: 8 PCUs, 7 PMUs.
TEST(RduSpec, LoadsAndCountsTiles) {
  RduSpec s = load_spec(YAML::Load("{rows: 3, cols: 5, agcus: 6, pmu_kib: 2, fusion: op}"),
                        "s.yaml", "system.units.rdu0");
  EXPECT_EQ(s.pcus(), 8);
  EXPECT_EQ(s.pmus(), 7);
  EXPECT_EQ(s.sram_bytes(), 7 * 2048);
  EXPECT_EQ(s.fusion, Fusion::op);
  EXPECT_EQ(s.lanes, 16);
  EXPECT_EQ(s.where, "s.yaml: system.units.rdu0");
  EXPECT_EQ(tiles(s, TileKind::pcu).size(), 8u);
  EXPECT_EQ(tiles(s, TileKind::pmu).size(), 7u);
  EXPECT_EQ(tiles(s, TileKind::pcu).front(), (Coord{0, 1}));
  EXPECT_EQ(tiles(s, TileKind::pmu).front(), (Coord{0, 2}));
  // AGCUs alternate west (column 0) and east (column cols + 1), a row per pair.
  const auto a = tiles(s, TileKind::agcu);
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0], (Coord{0, 0}));
  EXPECT_EQ(a[1], (Coord{0, 6}));
  EXPECT_EQ(a[5], (Coord{2, 6}));
}

TEST(RduSpec, BadValuesNameTheKey) {
  EXPECT_NE(load_error("{rows: 4, cols: 4, lanes: 0}").find("s.yaml:1:"), std::string::npos);
  EXPECT_NE(load_error("{rows: 4, cols: 4, lanes: 0}").find("system.units.rdu0.lanes"),
            std::string::npos);
  EXPECT_NE(load_error("{rows: 4, cols: 4, link_capacity_vectors: 0}")
                .find("system.units.rdu0.link_capacity_vectors"),
            std::string::npos);
  // 9 AGCUs on a 4-row grid: the two edge columns hold 8.
  const std::string e = load_error("{rows: 4, cols: 4, agcus: 9}");
  EXPECT_NE(e.find("system.units.rdu0.agcus"), std::string::npos) << e;
  EXPECT_NE(e.find("do not fit the grid"), std::string::npos) << e;
  EXPECT_EQ(load_error("{rows: 4, cols: 4, agcus: 8}"), "");
  EXPECT_NE(load_error("{cols: 4}").find("system.units.rdu0: missing required key 'rows'"),
            std::string::npos);
  EXPECT_NE(load_error("{rows: 4, cols: 4, lane: 8}").find("did you mean"), std::string::npos);
  EXPECT_NE(load_error("{rows: 4, cols: 4, fusion: kernel}").find("system.units.rdu0.fusion"),
            std::string::npos);
  EXPECT_NE(load_error("{rows: 4, cols: 4, hbm_gib: 0, ddr_gib: 0}").find("hbm_gib"),
            std::string::npos);
  // The unit registry's path: declared values in, the same cross-check out.
  config::Diagnostics d("u.yaml");
  config::MapReader r(YAML::Load("{rows: 2, cols: 4, agcus: 5}"), "u", d);
  const ParamValues v = rdu_params().read(r);
  ASSERT_TRUE(d.ok());
  try {
    from_params(v, "system.units.fab");
    FAIL() << "5 AGCUs on 2 rows accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("system.units.fab.agcus"), std::string::npos);
  }
}

// The tiny layer at lanes 16, stages 2, matmul_pcus 2, matmul_streams 1, 1 KiB PMUs, decode at
// context 3 (4 keys). Per op (PCUs / PMUs / AGCUs):
//   layer input x: 0/0/1
//   rmsnorm_att: square, sum, scale (2 stage ops = 1 PCU at 2 stages) 3; row buffer 256 B 1
//   wq, wk, wv: ceil(32/16) = 2 blocks, 2 PCUs; A buffer 2 x 32 x 4 B 1; 1 stream   2/1/1 each
//   rope: 3 stage ops at 2 stages = 2 PCUs; table 64 B 1                        2/1/0
//   kv_append: 1 AGCU                                                            0/0/1
//   attn_score: 2 heads x ceil(4/16) = 2 blocks, 2 PCUs; A 2 x 2 x 16 x 4 B     2/1/1
//   softmax: max, exp (1 stage + tail), sum, divide 4; scores and exps buffers 2 4/2/0
//   attn_value: 2 heads x ceil(16/16) = 2 blocks                                 2/1/1
//   wo 2/1/1; residual_att 1/0/0; rmsnorm_ffn 3/1/0
//   w1, w3: 4 blocks on 2 PCUs 2/1/1 each; silu_mul: 4 stage ops, 2 tail ops = 2 PCUs 2/0/0
//   w2: 2 blocks 2/1/1 (A: 2 x 64 x 4 = 512 B); residual_ffn 1/0/0; layer output 0/0/1
// PCUs 3+6+2+2+4+2+2+1+3+4+2+2+1 = 34, PMUs 1+3+1+1+2+1+1+1+2+1 = 14, AGCUs 12.
TEST(RduLowering, TinyLayerCountsByHand) {
  const Dfg g = lower_layer(tiny_model(), decode(3), 0, tiny_spec());
  EXPECT_EQ(g.count(TileKind::pcu), 34);
  EXPECT_EQ(g.count(TileKind::pmu), 14);
  EXPECT_EQ(g.count(TileKind::agcu), 12);
  EXPECT_EQ(g.count(NodeKind::matmul_tile), 18);  // 9 GEMM ops x 2 PCUs
  EXPECT_EQ(g.count(NodeKind::mem_read), 1 + 9);
  EXPECT_EQ(g.count(NodeKind::mem_write), 2);
  EXPECT_EQ(g.op_names.size(), 17u);
  // wq: one block of 16 columns x K = 32 per PCU, one weight vector per cycle: 32 cycles each,
  // together MACs / lanes = 32 x 32 / 16 = 64.
  EXPECT_EQ(named(g, "L0.wq.mm0").busy_cycles, 32);
  EXPECT_EQ(named(g, "L0.wq.mm1").busy_cycles, 32);
  // w1: 4 blocks on 2 PCUs, 2 x 32 = 64 cycles; its stream carries 4 x 32 weight vectors.
  EXPECT_EQ(named(g, "L0.w1.mm1").busy_cycles, 64);
  EXPECT_EQ(named(g, "L0.w1.b").vectors_out, 128);
  EXPECT_EQ(named(g, "L0.w1.b").bytes, 64 * 32 * 4);
  // Each wq PCU: 32 weight vectors + the input row V(32) = 2; out one vector.
  EXPECT_EQ(named(g, "L0.wq.mm0").vectors_in, 34);
  EXPECT_EQ(named(g, "L0.wq.mm0").vectors_out, 1);
  // attn_score: each of its 2 PCUs holds one head's block (n = 4 positions in one block of
  // lanes), so it takes that head's query row only (V(16) = 1 vector, not both heads' 2) and
  // one K vector per k (k = head size 16, float32: no packing): 16 + 1.
  EXPECT_EQ(named(g, "L0.attn_score.mm0").vectors_in, 16 + 1);
  EXPECT_EQ(named(g, "L0.attn_score.mm1").vectors_in, 16 + 1);
  // Multicasts: the layer input goes whole to rmsnorm's square and row buffer and to the
  // residual (one payload); wq's A buffer sends both PCUs the same row (one payload); the score
  // op's A buffer sends each PCU its own head's row (none).
  std::map<std::string, std::set<int>> payloads;
  for (const Edge& e : g.edges)
    payloads[g.nodes[std::size_t(e.src)].name].insert(e.payload);
  EXPECT_EQ(payloads["in.s0.x"].size(), 1u);
  EXPECT_GE(*payloads["in.s0.x"].begin(), 0);
  EXPECT_EQ(payloads["L0.wq.a"].size(), 1u);
  EXPECT_GE(*payloads["L0.wq.a"].begin(), 0);
  EXPECT_EQ(payloads["L0.attn_score.a"], std::set<int>{-1});
  // The layer input feeds rmsnorm's square and row buffer and the residual: 3 x V(32).
  EXPECT_EQ(named(g, "in.s0.x").vectors_out, 6);
  EXPECT_EQ(named(g, "L0.silu_mul.silu_mul1").tile, TileKind::pcu);
  for (const Edge& e : g.edges)
    EXPECT_LT(e.src, e.dst);

  // Six stages: rope fits one PCU; silu_mul still needs two (one tail op each).
  RduSpec six = tiny_spec();
  six.stages = 6;
  const Dfg h = lower_layer(tiny_model(), decode(3), 0, six);
  EXPECT_EQ(h.count(TileKind::pcu), 33);
  // One matmul PCU allowed: every block folds onto it (w1: 4 blocks x 32 = 128 cycles).
  RduSpec one = tiny_spec();
  one.matmul_pcus = 1;
  EXPECT_EQ(named(lower_layer(tiny_model(), decode(3), 0, one), "L0.w1.mm0").busy_cycles, 128);

  // Attention per head: two score / softmax / value groups of one head each (1 block, 1 PCU);
  // wo's input buffer takes both heads' outputs, one vector each.
  const Dfg ph =
      lower_layer(layer_ops(lower_forward(tiny_model(), decode(3), 0, AttentionOps::per_head), 0),
                  layer_shape(tiny_model(), decode(3)), tiny_spec());
  EXPECT_EQ(ph.op_names.size(), 20u);
  EXPECT_EQ(named(ph, "L0.wo.a").vectors_in, 2);
  EXPECT_EQ(named(ph, "L0.attn_value.b0.h1.mm0").busy_cycles, 4);  // K = 4 keys, m = 1

  // A 5-token prefill: a PCU meets `stages` rows of A per weight vector, so a wq PCU (1 block
  // x K = 32) takes 32 x ceil(5 / 2) = 96 cycles at 2 stages and 32 at 6; it still takes its
  // 32 weight vectors once and the 5 rows of A, V(32) = 2 vectors each.
  WorkloadSpec pre;
  pre.name = "p", pre.phase = Phase::prefill, pre.prompt_len = 5, pre.batch = 1;
  const Dfg p2 = lower_layer(tiny_model(), pre, 0, tiny_spec());
  EXPECT_EQ(named(p2, "L0.wq.mm0").busy_cycles, 96);
  EXPECT_EQ(named(p2, "L0.wq.mm0").vectors_in, 32 + 5 * 2);
  EXPECT_EQ(named(p2, "L0.wq.mm0").vectors_out, 5);
  EXPECT_EQ(named(lower_layer(tiny_model(), pre, 0, six), "L0.wq.mm0").busy_cycles, 32);

  // 4-bit weights (w4a8, group 32 = K): a lane carries p = 8 of them, so a wq block of K = 32 is
  // 4 weight vectors of 32-bit lanes; at 2 stages a vector's 8 (k, row) pairs take 4 cycles:
  // busy 16 in decode, and 4 x ceil(8 x 5 / 2) = 80 in the 5-token prefill. Without packing:
  // 32 vectors of one weight a lane, busy 32 x ceil(1 / 2) = 32 (decode).
  ModelSpec w4 = tiny_model();
  w4.quant = parse_scheme("w4a8-g32");
  const Dfg q = lower_layer(w4, decode(3), 0, tiny_spec());
  EXPECT_EQ(named(q, "L0.wq.mm0").busy_cycles, 16);
  EXPECT_EQ(named(q, "L0.wq.b").vectors_out, 2 * 4);  // both PCUs' blocks
  for (const Edge& e : q.edges)
    if (q.nodes[std::size_t(e.src)].name == "L0.wq.b") {
      EXPECT_EQ(e.elem_bits, 32);  // 8 x 4 bits
    }
  EXPECT_EQ(named(lower_layer(w4, pre, 0, tiny_spec()), "L0.wq.mm0").busy_cycles, 80);
  RduSpec unpacked = tiny_spec();
  unpacked.packing = false;
  const Dfg u = lower_layer(w4, decode(3), 0, unpacked);
  EXPECT_EQ(named(u, "L0.wq.mm0").busy_cycles, 32);
  EXPECT_EQ(named(u, "L0.wq.b").vectors_out, 2 * 32);
}

// The online SDPA lowered into the layer (tiny, decode at context 3: 2 query rows, one a KV
// head, 4 positions; float32 cache, head size 16 = one vector a K or V row). Np = min(8, 2) = 2
// pipelines of one row and 4 pairs each. attn_score: a q buffer (2 x 16 x 4 = 128 B: 1 PMU),
// one K reader (matmul_streams 1; the K half of the float32 cache, 2 heads x 4 positions x 16
// x 4 B = 512 B; one element a lane, so 4 pairs x 1 vector x 2 pipelines = 8 vectors of 16 x 4
// B, the 512 B) and a score PCU a pipeline (busy 4 x 1, in 4 K + 1 q vectors, 4 scores out);
// softmax: a running max / sum PCU a pipeline (busy 4, 4 in, 4 out); attn_value: one V reader
// (the V half, 512 B) and an accumulator a pipeline (busy 4, in 4 messages + 4 V vectors, out
// V(16) = 1). Against the naive lowering's attention (8 PCUs, 4 PMUs, 2 AGCUs): 6 PCUs, 1 PMU,
// 2 AGCUs.
TEST(RduLowering, OnlineAttentionCountsByHand) {
  RduSpec s = tiny_spec();
  s.sdpa = SdpaMapping::online;
  const Dfg g = lower_layer(tiny_model(), decode(3), 0, s);
  EXPECT_EQ(g.count(TileKind::pcu), 34 - 8 + 6);
  EXPECT_EQ(g.count(TileKind::pmu), 14 - 4 + 1);
  EXPECT_EQ(g.count(TileKind::agcu), 12);
  for (const char* j : {"0", "1"}) {
    const Node& sc = named(g, std::string("L0.attn_score.score") + j);
    EXPECT_EQ(sc.busy_cycles, 4);
    EXPECT_EQ(sc.vectors_in, 4 + 1);
    EXPECT_EQ(sc.vectors_out, 4);
    const Node& sm = named(g, std::string("L0.softmax.online") + j);
    EXPECT_EQ(sm.busy_cycles, 4);
    EXPECT_EQ(sm.vectors_out, 4);
    const Node& acc = named(g, std::string("L0.attn_value.acc") + j);
    EXPECT_EQ(acc.busy_cycles, 4);
    EXPECT_EQ(acc.vectors_in, 4 + 4);
    EXPECT_EQ(acc.vectors_out, 1);
  }
  EXPECT_EQ(named(g, "L0.attn_score.k").bytes, 512);
  EXPECT_EQ(named(g, "L0.attn_score.k").vectors_out, 8);
  EXPECT_EQ(named(g, "L0.attn_value.v").bytes, 512);
  EXPECT_EQ(named(g, "L0.attn_score.q").bytes, 128);
  for (const Edge& e : g.edges)
    EXPECT_LT(e.src, e.dst);
  // The layer maps and simulates like any other (tested in test_rdu_fabric.cpp).
  EXPECT_EQ(map_layer(g, s, Fusion::layer).sections.size(), 1u);
}

// Both attention mappings stream the cache once a layer: the score's readers K, the value's V,
// at the cache's element width. Per position and KV head a K (or V) row of head size h costs
// 4h B (float32), 2h (binary16), h + 4 (int8: h bytes and a float32 scale) or h / 2 + 4 (int4).
// Tiny (h = 16, 2 KV heads, decode at context 3: 4 positions): a half is 2 x 4 = 8 rows of 64,
// 32, 20 or 12 B: 512, 256, 160, 96 B, the layer twice that. LLaMA-2-7B (kv16 in its config;
// h = 128, 32 KV heads, context 32: 33 positions): 32 x 33 x 256 = 270,336 B a half. LLaMA-3-8B
// (kv8, GQA: 8 KV heads; context 31: 32 positions): 8 x 32 x 132 = 33,792 B a half.
// Without packing every KV stream's element is one cache element (32, 16, 8 or 4 bits); with it
// a 32-bit lane carries 32 / bits of them (1, 2, 4, 8 elements: 32 bits).
TEST(RduLowering, AttentionStreamsTheCacheOnceAtItsWidth) {
  struct Case {
    std::string model;
    int kv_bits, context;
    i64 half;
  };
  const std::vector<Case> cases = {
      {"tiny", 32, 3, 512}, {"tiny", 16, 3, 256},           {"tiny", 8, 3, 160},
      {"tiny", 4, 3, 96},   {"llama-2-7b", 16, 32, 270336}, {"llama-3-8b", 8, 31, 33792}};
  for (const Case& c : cases)
    for (SdpaMapping sdpa : {SdpaMapping::naive, SdpaMapping::online})
      for (bool packing : {false, true}) {
        SCOPED_TRACE(c.model + " kv" + std::to_string(c.kv_bits) + " " +
                     std::string(to_string(sdpa)) + (packing ? " packed" : " unpacked"));
        ModelSpec m = c.model == "tiny" ? tiny_model() : model(c.model);
        m.quant.kv_bits = c.kv_bits;
        RduSpec s = tiny_spec();
        s.sdpa = sdpa, s.packing = packing;
        const Dfg g = lower_layer(m, decode(c.context), 0, s);
        i64 k_bytes = 0, v_bytes = 0;
        std::set<int> kv_edge_bits;
        for (const Node& n : g.nodes)
          if (n.kind == NodeKind::mem_read && n.tensor_kind == TensorKind::kv_cache) {
            const std::string& op = g.op_names.at(std::size_t(n.op));
            ASSERT_TRUE(op == "L0.attn_score" || op == "L0.attn_value") << n.name;
            (op == "L0.attn_score" ? k_bytes : v_bytes) += n.bytes;
          }
        for (const Edge& e : g.edges) {
          const Node& from = g.nodes[std::size_t(e.src)];
          if (from.kind == NodeKind::mem_read && from.tensor_kind == TensorKind::kv_cache)
            kv_edge_bits.insert(e.elem_bits);
        }
        EXPECT_EQ(k_bytes, c.half);
        EXPECT_EQ(v_bytes, c.half);
        EXPECT_EQ(kv_edge_bits, std::set<int>{packing ? 32 : c.kv_bits});
      }
}

// A 2 x 2 grid: PCUs (0,1), (1,2); PMUs (0,2), (1,1); AGCUs (0,0), (0,3). The chain read -> a
// -> b -> write plus read -> b, 10 vectors each. Greedy: read (0,0); a nearest read (0,1);
// b the other PCU (1,2); write the free AGCU (0,3). XY routes: read->a 1 hop, a->b
// (0,1)(0,2)(1,2) 2, b->write (1,2)(1,3)(0,3) 2, read->b 3: max 3, mean 8/4 = 2.
// The read (a different slice to each consumer: no payload) sends 20 vectors (busy 20) over
// link (0,0)->(0,1): the section takes 20 cycles, every stream runs at 0.5 vectors/cycle and
// that link carries exactly 1.0.
TEST(RduPlace, ChainHopsAndLinkLoads) {
  Dfg g;
  int rd = add(g, "read", NodeKind::mem_read, 0);
  int a = add(g, "a", NodeKind::map, 0, 10);
  int b = add(g, "b", NodeKind::map, 0, 10);
  int wr = add(g, "write", NodeKind::mem_write, 0);
  g.add_edge(rd, a, 32, 10);
  g.add_edge(a, b, 32, 10);
  g.add_edge(b, wr, 32, 10);
  g.add_edge(rd, b, 32, 10);
  const RduSpec s = grid(2, 2, 2);
  g.finish(s);
  const Mapping m = map_layer(g, s, Fusion::layer);
  ASSERT_EQ(m.sections.size(), 1u);
  const Section& sec = m.sections[0];
  EXPECT_EQ(sec.tile[std::size_t(rd)], (Coord{0, 0}));
  EXPECT_EQ(sec.tile[std::size_t(a)], (Coord{0, 1}));
  EXPECT_EQ(sec.tile[std::size_t(b)], (Coord{1, 2}));
  EXPECT_EQ(sec.tile[std::size_t(wr)], (Coord{0, 3}));
  EXPECT_EQ(sec.route[1], (std::vector<Coord>{{0, 1}, {0, 2}, {1, 2}}));
  EXPECT_EQ(sec.route[2], (std::vector<Coord>{{1, 2}, {1, 3}, {0, 3}}));
  EXPECT_EQ(sec.max_hops(), 3);
  EXPECT_DOUBLE_EQ(sec.mean_hops(), 2.0);
  EXPECT_EQ(sec.cycles, 20);
  EXPECT_DOUBLE_EQ(sec.graph.edges[0].rate_vpc, 0.5);
  EXPECT_DOUBLE_EQ(m.max_link_load, 1.0);
  // Links: (0,0)->(0,1) read->a and read->b; (0,1)->(0,2) and (0,2)->(1,2) a->b and read->b;
  // (1,2)->(1,3) and (1,3)->(0,3) b->write.
  const auto loads = link_loads(sec);
  ASSERT_EQ(loads.size(), 5u);
  for (const LinkLoad& l : loads) {
    const bool to_write = l.from == Coord{1, 2} || l.from == Coord{1, 3};
    EXPECT_DOUBLE_EQ(l.vectors_per_cycle, to_write ? 0.5 : 1.0)
        << l.from.row << "," << l.from.col << " -> " << l.to.row << "," << l.to.col;
  }
  EXPECT_TRUE(check_section(sec, s).empty());
  EXPECT_EQ(m.pcus_used, 2);
  EXPECT_EQ(m.intermediate_offchip_bytes, 0);

  // Half the link bandwidth: 20 vectors over (0,0)->(0,1) take 40 cycles.
  RduSpec slow = s;
  slow.link_vectors_per_cycle = 0.5;
  const Mapping ms = map_layer(g, slow, Fusion::layer);
  EXPECT_EQ(ms.sections[0].cycles, 40);
  EXPECT_EQ(ms.sections[0].bound_cycles, 40);
  EXPECT_TRUE(check_section(ms.sections[0], slow).empty());

  // If the read sends the same vectors to a and b (one payload: an activation read whole by
  // both), the switch copies them, so (0,0)->(0,1) carries them once (0.5 vectors/cycle);
  // a->b and read->b still share the next two links (1.0: 20 vectors, 40 cycles at half
  // bandwidth).
  g.edges[0].payload = g.edges[3].payload = 0;
  for (const LinkLoad& l : link_loads(map_layer(g, s, Fusion::layer).sections[0])) {
    const bool shared = l.from == Coord{0, 1} || l.from == Coord{0, 2};
    EXPECT_DOUBLE_EQ(l.vectors_per_cycle, shared ? 1.0 : 0.5)
        << l.from.row << "," << l.from.col << " -> " << l.to.row << "," << l.to.col;
  }
  EXPECT_EQ(map_layer(g, slow, Fusion::layer).sections[0].bound_cycles, 40);
}

// The placer's ring search picks what a full scan of the free tiles picks (least cost, first in
// row-major order on a tie): compared with that scan, written here, on whole layers.
TEST(RduPlace, RingSearchEqualsTheFullScan) {
  struct Case {
    const char* model;
    int rows, cols, agcus;
    Fusion fusion;
  };
  for (Case c :
       {Case{"stories15M", 10, 8, 12, Fusion::layer}, Case{"stories15M", 40, 40, 80, Fusion::layer},
        Case{"stories15M", 9, 7, 10, Fusion::op}, Case{"llama-2-7b", 33, 31, 60, Fusion::layer}}) {
    SCOPED_TRACE(c.model + std::string(" ") + std::to_string(c.rows));
    RduSpec s;
    s.rows = c.rows, s.cols = c.cols, s.agcus = c.agcus;
    const Mapping m = map_layer(lower_layer(model(c.model), decode(32), 0, s), s, c.fusion);
    for (const Section& sec : m.sections) {
      std::map<TileKind, std::vector<Coord>> free;
      for (TileKind k : {TileKind::pcu, TileKind::pmu, TileKind::agcu})
        free[k] = tiles(s, k);
      const auto ins = sec.graph.in_edges();
      for (std::size_t v = 0; v < sec.graph.nodes.size(); ++v) {
        auto& cand = free[sec.graph.nodes[v].tile];
        std::size_t best = 0;
        long best_cost = -1;
        for (std::size_t i = 0; i < cand.size(); ++i) {
          long cost = 0;
          for (int e : ins[v])
            cost += distance(cand[i], sec.tile[std::size_t(sec.graph.edges[std::size_t(e)].src)]);
          if (best_cost < 0 || cost < best_cost) best_cost = cost, best = i;
        }
        ASSERT_EQ(sec.tile[v], cand[best]) << sec.graph.nodes[v].name;
        cand.erase(cand.begin() + long(best));
      }
    }
  }
}

// The checker catches each kind of illegal placement.
TEST(RduPlace, CheckerFindsIllegalPlacements) {
  Dfg g;
  int rd = add(g, "read", NodeKind::mem_read, 0);
  int a = add(g, "a", NodeKind::map, 0, 10);
  int b = add(g, "b", NodeKind::map, 0, 10);
  g.add_edge(rd, a, 32, 10);
  g.add_edge(a, b, 32, 10);
  const RduSpec s = grid(2, 2, 2);
  g.finish(s);
  const Section good = map_layer(g, s, Fusion::layer).sections.at(0);
  ASSERT_TRUE(check_section(good, s).empty());
  auto problem = [&](Section sec) {
    auto p = check_section(sec, s);
    return p.empty() ? std::string() : p.front();
  };
  Section two = good;
  two.tile[std::size_t(b)] = two.tile[std::size_t(a)];
  two.route[1] = {two.tile[std::size_t(a)], two.tile[std::size_t(b)]};
  EXPECT_NE(problem(two).find("holds two nodes"), std::string::npos);
  Section kind = good;
  kind.tile[std::size_t(b)] = {1, 1};  // a PMU
  kind.route[1] = xy_route(kind.tile[std::size_t(a)], {1, 1});
  EXPECT_NE(problem(kind).find("a pmu"), std::string::npos);
  Section jump = good;
  jump.route[1] = {jump.tile[std::size_t(a)], jump.tile[std::size_t(b)]};  // (0,1) to (1,2)
  EXPECT_NE(problem(jump).find("not neighbours"), std::string::npos);
  Section over = good;
  over.graph.edges[0].rate_vpc = 1.5;
  EXPECT_NE(problem(over).find("above its"), std::string::npos);
}

// A chain read -> m0 .. m4 -> write, 8 vectors of 32 bits (512 bytes) per edge, one op per map,
// on 2 x 2 (2 PCUs) with 4 AGCUs. Section 1: read, m0, m1 (m2 would be a third PCU); its spill
// write for m1 makes 2 AGCUs. Section 2: m2, m3 (a spill read and write). Section 3: m4 and
// the write (a spill read, the write). Spilled: m1 -> m2 and m3 -> m4, each 512 written and
// 512 read: 2048 bytes. Cycles: each node busy 8 at latency 0, spill nodes latency 1:
// section 1 ends with the spill write at 8 + 1, section 2 likewise 9, section 3 8: 26 cycles,
// plus 3 reconfigurations of 100.
TEST(RduSections, ChainCutWhenTheGridIsTooSmall) {
  Dfg g;
  int prev = add(g, "read", NodeKind::mem_read, -1);
  g.nodes.back().bytes = 512;
  for (int i = 0; i < 5; ++i) {
    int m = add(g, "m" + std::to_string(i), NodeKind::map, i, 8);
    g.add_edge(prev, m, 32, 8, "t" + std::to_string(i));
    prev = m;
  }
  int wr = add(g, "write", NodeKind::mem_write, -1);
  g.nodes.back().bytes = 512;
  g.add_edge(prev, wr, 32, 8, "t5");
  g.op_names = {"op0", "op1", "op2", "op3", "op4"};
  RduSpec s = grid(2, 2, 4);
  s.reconfig_cycles = 100;
  g.finish(s);
  const Mapping m = map_layer(g, s, Fusion::layer);
  ASSERT_EQ(m.sections.size(), 3u);
  EXPECT_EQ(m.sections[0].origin, (std::vector<int>{0, 1, 2, -1}));
  EXPECT_EQ(m.sections[1].origin, (std::vector<int>{-1, 3, 4, -1}));
  EXPECT_EQ(m.sections[2].origin, (std::vector<int>{-1, 5, 6}));
  EXPECT_EQ(m.sections[1].graph.nodes[0].name, "spill.r.op1");
  EXPECT_EQ(m.sections[1].graph.nodes[3].name, "spill.w.op3");
  EXPECT_EQ(m.reconfigurations, 3);
  EXPECT_EQ(m.reconfig_cycles, 300);
  EXPECT_EQ(m.intermediate_offchip_bytes, 2048);
  EXPECT_EQ(m.sections[0].cycles, 9);
  EXPECT_EQ(m.sections[1].cycles, 9);
  EXPECT_EQ(m.sections[2].cycles, 8);
  EXPECT_EQ(m.total_cycles, 326);
  for (const Section& sec : m.sections)
    EXPECT_TRUE(check_section(sec, s).empty());

  // A grid large enough: one section, nothing spilled. Per op: [read m0] [m1] [m2] [m3]
  // [m4 write], 4 cuts of 1024 bytes each.
  RduSpec big = grid(4, 4, 8);
  const Mapping fused = map_layer(g, big, Fusion::layer);
  EXPECT_EQ(fused.sections.size(), 1u);
  EXPECT_EQ(fused.intermediate_offchip_bytes, 0);
  const Mapping per_op = map_layer(g, big, Fusion::op);
  EXPECT_EQ(per_op.sections.size(), 5u);
  EXPECT_EQ(per_op.intermediate_offchip_bytes, 4096);
}

// Blocking producers and back-pressure in a section's time: read x (8 vectors) -> reduce (busy
// 8, latency 2) -> mm (a matmul tile, busy 50) <- weights (100 vectors); mm -> write (1 vector).
// reduce ends at max(8, 8) + 2 = 10; mm waits for it (a reduction emits at its end) and starts
// at 10; the weight stream cannot run ahead of mm, so it runs 10..110; mm ends at
// max(10 + 50, 110) = 110; the write waits for mm (blocking) and ends at 110 + 1 = 111.
TEST(RduSections, DependenceChainAndBackPressure) {
  Dfg g;
  int x = add(g, "x", NodeKind::mem_read, 0);
  int red = add(g, "reduce", NodeKind::reduce, 0, 8, 2);
  int w = add(g, "weights", NodeKind::mem_read, 0);
  int mm = add(g, "mm", NodeKind::matmul_tile, 0, 50);
  int wr = add(g, "write", NodeKind::mem_write, 0);
  g.add_edge(x, red, 32, 8);
  g.add_edge(red, mm, 32, 1);
  g.add_edge(w, mm, 32, 100);
  g.add_edge(mm, wr, 32, 1);
  const RduSpec s = grid(4, 4, 4);
  g.finish(s);
  EXPECT_EQ(map_layer(g, s, Fusion::layer).sections.at(0).cycles, 111);
}

// Two AGCUs cannot serve the tiny layer even one node at a time: rope's first PCU reads q, k
// and its table from three earlier sections' spills and must spill its own output.
TEST(RduSections, NodeThatFitsNoSectionIsAConfigError) {
  const Dfg g = lower_layer(tiny_model(), decode(3), 0, tiny_spec());
  RduSpec s = tiny_spec();
  s.rows = 1, s.cols = 2, s.agcus = 2, s.where = "s.yaml: system.units.rdu0";
  try {
    map_layer(g, s, Fusion::layer);
    FAIL() << "placed on 1 PCU, 1 PMU and 2 AGCUs";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot be placed even in sections"), std::string::npos) << m;
    EXPECT_NE(m.find("s.yaml: system.units.rdu0.agcus"), std::string::npos) << m;
  }
  // Four AGCUs on 2 x 2: it runs, in many sections, every layer node in exactly one of them.
  s.rows = 2, s.cols = 2, s.agcus = 4;
  const Mapping m = map_layer(g, s, Fusion::layer);
  EXPECT_GE(m.sections.size(), 17u);  // 34 PCUs, 2 at a time
  std::vector<int> seen(g.nodes.size(), 0);
  for (const Section& sec : m.sections) {
    EXPECT_TRUE(check_section(sec, s).empty());
    for (int o : sec.origin)
      if (o >= 0) ++seen[std::size_t(o)];
  }
  for (int n : seen)
    EXPECT_EQ(n, 1);
}

// First fit over SRAM, HBM, DDR in order.
TEST(RduTiers, FirstTierWithRoom) {
  RduSpec s;
  s.hbm_gib = 1000.0 / double(1LL << 30);  // 1000 bytes
  s.ddr_gib = 5000.0 / double(1LL << 30);
  const std::vector<TensorRef> t = {{"a", TensorKind::weight, 300},
                                    {"b", TensorKind::weight, 800},
                                    {"c", TensorKind::kv_cache, 900},
                                    {"d", TensorKind::weight, 200},
                                    {"e", TensorKind::weight, 4500}};
  // SRAM 500: a (left 200); b to HBM (left 200); c to DDR (left 4100); d fits SRAM's 200.
  const auto p = plan_tiers({t.begin(), t.end() - 1}, s, 500);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].tier, Tier::sram);
  EXPECT_EQ(p[1].tier, Tier::hbm);
  EXPECT_EQ(p[2].tier, Tier::ddr);
  EXPECT_EQ(p[3].tier, Tier::sram);
  // e: 4500 bytes, above the 4100 of DDR left.
  EXPECT_THROW(plan_tiers(t, s, 500), ConfigError);
}

// stories15M (int8 g32: wq 288 x 288 + 2592 scales x 4 = 93,312 B; w1 248,832 B; KV.L0 2 x 6
// heads x 256 x 48 x 2 B = 294,912 B; the embedding table 10,368,000 B) on 32 x 32 with 1 KiB
// PMUs. The fused layer's buffers then take 22 PMUs (rmsnorm rows 2304 B: 3 each; A buffers
// wq, wk, wv, wo, w1, w3 576 B: 1 each; attn_score 2304 B: 3; attn_value 1584 B: 2; w2 1536 B:
// 2; rope table, scores, exps: 1 each), leaving 490 KiB = 501,760 B of SRAM; HBM 1 MiB.
// First-use order: the embedding (DDR), L0's wq, wk, wv (SRAM, 221,824 left), KV.L0 (HBM,
// 753,664 left), wo (SRAM, 128,512 left), w1, w3, w2 (HBM, 7,168 left), L1's wq (SRAM, 35,200
// left), L1's wk (DDR) ...
TEST(RduTiers, ModelOverflowsSramThenHbm) {
  RduSpec s;
  s.sdpa = SdpaMapping::naive;  // the buffers counted above
  s.rows = 32, s.cols = 32, s.agcus = 64, s.pmu_kib = 1;
  s.hbm_gib = 1.0 / 1024;
  const ModelSpec m = model("stories15M");
  const Mapping map = compare_fusion(m, decode(32), 0, s).layer;
  EXPECT_EQ(map.pmus_used, 22);
  EXPECT_EQ(map.tier_of("W.embedding"), Tier::ddr);
  EXPECT_EQ(map.tier_of("W.L0.wq"), Tier::sram);
  EXPECT_EQ(map.tier_of("W.L0.wv"), Tier::sram);
  EXPECT_EQ(map.tier_of("KV.L0"), Tier::hbm);
  EXPECT_EQ(map.tier_of("W.L0.wo"), Tier::sram);
  EXPECT_EQ(map.tier_of("W.L0.w1"), Tier::hbm);
  EXPECT_EQ(map.tier_of("W.L0.w2"), Tier::hbm);
  EXPECT_EQ(map.tier_of("W.L1.wq"), Tier::sram);
  EXPECT_EQ(map.tier_of("W.L1.wk"), Tier::ddr);
  EXPECT_EQ(map.tier_of("KV.L5"), Tier::ddr);
  // 256 KiB PMUs: the 498 PMUs no section uses (512 - 14) hold 127.5 MiB, all of the model.
  s.pmu_kib = 256;
  const Mapping big = compare_fusion(m, decode(32), 0, s).layer;
  EXPECT_EQ(big.pmus_used, 14);
  for (const TensorPlacement& t : big.tensors)
    EXPECT_EQ(t.tier, Tier::sram) << t.name;
}

// One decode layer (context 32: 33 keys) fused versus one section per op, lanes 16, 16 PCUs
// per matmul, 8-bit matmul inputs. Per op, every tensor between ops is written once and read
// back once per consuming section (V(x) = ceil(x / 16) vectors, 16 B per vector at 8 bits,
// 64 B at 32 bits). stories15M (dim 288: 18 vectors; hidden 768: 48; 6 heads):
//   xn_att 18 x 16 = 288, read by wq, wk, wv: 4 x 288 = 1152
//   q, k, v: 18 blocks -> 18 vectors x 64 = 1152, x 2 each: 6912
//   rope's q_rot and k_rot: 2 x 1152 x 2 = 4608
//   scores: 6 heads x 3 blocks = 18 vectors x 64 = 1152 x 2 = 2304
//   probs: V(198) = 13 x 64 = 832 x 2 = 1664; attention out 18 x 16 = 288 x 2 = 576
//   wo out 1152 x 2 = 2304; x_att 1152 read by two sections: 3456; xn_ffn 288 x 3 = 864
//   w1, w3 out 48 x 64 = 3072 x 2 each: 12288; silu out 48 x 16 = 768 x 2 = 1536
//   w2 out 1152 x 2 = 2304
// total 39,968 bytes. LLaMA-2-7B (dim 4096: 256 vectors, hidden 11008: 688, 32 heads of 128):
//   4096 x 4 + 3 x 16384 x 2 + 2 x 16384 x 2 + 96 x 64 x 2 + 66 x 64 x 2 + 256 x 16 x 2
//   + 16384 x 2 + 16384 x 3 + 4096 x 3 + 2 x 44032 x 2 + 11008 x 2 + 16384 x 2 = 534,272.
TEST(RduFusion, LayerVersusPerOp) {
  RduSpec s;
  s.sdpa = SdpaMapping::naive;  // the tensors counted above (scores and probabilities spilled)
  s.rows = 32, s.cols = 32, s.agcus = 64, s.reconfig_cycles = 5000;
  struct Case {
    const char* model;
    i64 spill;
  };
  for (Case c : {Case{"stories15M", 39968}, Case{"llama-2-7b", 534272}}) {
    SCOPED_TRACE(c.model);
    const FusionComparison f = compare_fusion(model(c.model), decode(32), 0, s);
    EXPECT_EQ(f.layer.sections.size(), 1u);
    EXPECT_EQ(f.layer.reconfigurations, 1);
    EXPECT_EQ(f.layer.intermediate_offchip_bytes, 0);
    EXPECT_EQ(f.op.sections.size(), 17u);  // the 17 ops of a decoder layer
    EXPECT_EQ(f.op.reconfigurations, 17);
    EXPECT_EQ(f.op.reconfig_cycles, 17 * 5000);
    EXPECT_EQ(f.op.intermediate_offchip_bytes, c.spill);
    // Fused uses more of the grid at once and finishes sooner (independent branches overlap,
    // no spills, one reconfiguration).
    EXPECT_GT(f.layer.pcus_used, f.op.pcus_used);
    EXPECT_LT(f.layer.total_cycles, f.op.total_cycles);
    for (const Mapping* m : {&f.layer, &f.op})
      for (const Section& sec : m->sections)
        EXPECT_TRUE(check_section(sec, s).empty());
  }
}
