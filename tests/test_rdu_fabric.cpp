// The RDU fabric simulation (arch/rdu/fabric): sections of tiles streaming through credit-based
// links, against cycle counts worked out by hand from the rules in fabric.hpp and link.hpp, and
// the plain engine against the SystemC one (each SystemC case in its own TEST: one elaboration
// per process).
#include "arch/rdu/fabric.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "test_util.hpp"

using namespace qaccel;
using namespace qaccel::rdu;

namespace {

// A section built by hand: nodes in order, edges with a route of `hops` hops (only its length
// matters to the fabric).
struct Builder {
  Section sec;
  int node(const std::string& name, NodeKind k, i64 busy, int latency = 0) {
    Node n;
    n.name = name, n.kind = k, n.tile = tile_kind(k), n.busy_cycles = busy,
    n.latency_cycles = latency;
    sec.tile.push_back(Coord{0, int(sec.graph.nodes.size())});
    sec.origin.push_back(int(sec.graph.nodes.size()));
    return sec.graph.add_node(n);
  }
  void edge(int a, int b, i64 vectors, int hops = 1) {
    sec.graph.add_edge(a, b, 32, vectors);
    std::vector<Coord> r;
    for (int h = 0; h <= hops; ++h)
      r.push_back(Coord{0, h});
    sec.route.push_back(r);
  }
};

RduSpec spec(int capacity) {
  RduSpec s;
  s.link_capacity_vectors = capacity;
  return s;
}

// source (N vectors, one per cycle) -> map (latency 2) -> sink taking one every k cycles.
Section chain(i64 n, i64 k) {
  Builder b;
  const int a = b.node("src", NodeKind::mem_read, n);
  const int m = b.node("map", NodeKind::map, n, 2);
  const int c = b.node("sink", NodeKind::mem_write, n * k);
  b.edge(a, m, n);
  b.edge(m, c, n);
  return b.sec;
}

}  // namespace

// src sends vector j at cycle j; the AB link (L = 1 hop + 0 fill) shows it at j + 1, the map
// takes it then and sends it at j + 1; the BC link (L = 1 + 2 fill) shows it at j + 4; the sink
// takes it at j + 4 and is busy till j + 5. Last vector j = N - 1: N + 4 cycles.
TEST(RduFabric, ChainHandWorked) {
  const FabricResult r = simulate_section(chain(4, 1), spec(4), FabricEngine::plain);
  EXPECT_EQ(r.cycles, 8);
  EXPECT_EQ(r.vectors_moved, 8);
  EXPECT_EQ(r.vector_hops, 8);
  EXPECT_EQ(r.link_specs[1].latency_cycles, 3);
  EXPECT_EQ(r.link_specs[1].capacity_vectors, 6);
  EXPECT_EQ(r.links[0].producer_stall_cycles, 0);
  EXPECT_EQ(simulate_section(chain(100, 1), spec(4), FabricEngine::plain).cycles, 104);
}

// A sink slowed to one vector every k cycles takes vector 0 at cycle 4 (as above) and each next
// one k cycles later, busy till 4 + k N: the pipeline is slower by N (k - 1), and the
// back-pressure reaches the producers (their sends stall once the links are full).
TEST(RduFabric, BackPressure) {
  const i64 n = 50, k = 3;
  const FabricResult r = simulate_section(chain(n, k), spec(4), FabricEngine::plain);
  EXPECT_EQ(r.cycles, 4 + k * n);
  EXPECT_EQ(r.cycles - simulate_section(chain(n, 1), spec(4), FabricEngine::plain).cycles,
            n * (k - 1));
  EXPECT_GT(r.links[1].producer_stall_cycles, 0);
  EXPECT_GT(r.links[0].producer_stall_cycles, 0);
  EXPECT_EQ(r.links[1].max_occupancy, 6);
}

// One link of capacity C over 3 hops (L = 3, R = 1) from a source to a sink: C = 1 sends vector
// j at 4j, dequeued at 4j + 3: 4N cycles. C = 2: sends pairs 4 cycles apart, vector j dequeued
// at 3 + 4 (j / 2) + j % 2; N = 10: 20, so 21 cycles. C = 4 >= L + R: N + 3.
TEST(RduFabric, UnderBufferedLink) {
  auto one = [](i64 n) {
    Builder b;
    const int a = b.node("src", NodeKind::mem_read, n);
    const int c = b.node("sink", NodeKind::mem_write, n);
    b.edge(a, c, n, 3);
    return b.sec;
  };
  EXPECT_EQ(simulate_section(one(10), spec(1), FabricEngine::plain).cycles, 40);
  EXPECT_EQ(simulate_section(one(10), spec(2), FabricEngine::plain).cycles, 21);
  EXPECT_EQ(simulate_section(one(10), spec(4), FabricEngine::plain).cycles, 13);
  EXPECT_EQ(simulate_section(one(10), spec(4), FabricEngine::plain).vector_hops, 30);
}

// src (8 vectors at 0..7) -> reduce (latency 1, blocking) -> sink. The reduce takes vector j at
// j + 1, its last step runs in cycle 8, it sends its one vector at 9 (L = 1 + 1) and the sink
// takes it at 11, busy till 12. A streaming map in its place would pass vector 0 on at once.
TEST(RduFabric, BlockingReductionInTheMiddle) {
  Builder b;
  const int a = b.node("src", NodeKind::mem_read, 8);
  const int r = b.node("red", NodeKind::reduce, 8, 1);
  const int c = b.node("sink", NodeKind::mem_write, 1);
  b.edge(a, r, 8);
  b.edge(r, c, 1);
  const FabricResult f = simulate_section(b.sec, spec(4), FabricEngine::plain);
  EXPECT_EQ(f.cycles, 12);
  EXPECT_EQ(f.nodes[1].busy_cycles, 8);
  EXPECT_EQ(f.nodes[1].end_cycle, 10);
}

// A fork that comes back together: src -> F (map) -> R (blocking reduce) -> J, and F -> J
// straight. J needs R's one vector before its first step, so F's vectors to J have to wait;
// with 2-entry links F would stall on J with R starved (a deadlock), so F -> J gets a stage
// buffer of its whole stream (8 vectors). Worked by hand (all latencies 0, every route 1 hop,
// so L = 1, R = 1): F takes vector i at i + 1 and sends it at i + 1 to R and J; R takes it at
// i + 2, its last step ends at 10, it sends at 10 and J dequeues it at 11. J has 9 steps
// (8 + 1 vectors in): step 0 takes F's vector 0 (visible at 2) and R's (at 11) and runs at 11;
// steps 1..7 each take one more of F's at 12..18 and send one vector at 12..18 (floor((i+1)
// 8 / 9) sent after step i); step 8 takes nothing, runs at 19 and sends the last. The sink
// takes them at 13..20: 21 cycles.
Section fork_join() {
  Builder b;
  const int src = b.node("src", NodeKind::mem_read, 8);
  const int f = b.node("F", NodeKind::map, 8);
  const int r = b.node("R", NodeKind::reduce, 8);
  const int j = b.node("J", NodeKind::map, 9);
  const int sink = b.node("sink", NodeKind::mem_write, 8);
  b.edge(src, f, 8);
  b.edge(f, r, 8);
  b.edge(f, j, 8);
  b.edge(r, j, 1);
  b.edge(j, sink, 8);
  return b.sec;
}

TEST(RduFabric, ReconvergingStreamsGetAStageBuffer) {
  const FabricResult r = simulate_section(fork_join(), spec(2), FabricEngine::plain);
  EXPECT_EQ(r.cycles, 21);
  EXPECT_EQ(r.stage_buffers, 1);  // F -> J only: R -> J comes from a PCU too, but 1 vector fits
  EXPECT_EQ(r.link_specs[2].capacity_vectors, 8);
  EXPECT_EQ(r.link_specs[1].capacity_vectors, 2);
  EXPECT_EQ(r.stage_buffer_bytes, 8 * 16 * 4);
  EXPECT_EQ(r.nodes[3].end_cycle, 20);     // J's last step runs in cycle 19
  EXPECT_EQ(r.links[2].max_occupancy, 7);  // F's vectors 1..7 wait there in cycle 8
}

// A PMU buffer serves each consumer on its own: src (4 vectors, at 0..3, visible 1..4) -> buffer
// (written at 1..4) -> a fast sink and a sink taking one vector per 10 cycles. Reader vector j
// needs j + 1 writes (readable from j + 2); two readers on one address port take 2 cycles a
// vector: sends at 2, 4, 6, 8, dequeued at 3, 5, 7, 9 by the fast sink (done at 10) whatever
// the slow one does (3, 13, 23, 33: done at 43). With 2 ports each reader sends every cycle.
TEST(RduFabric, BufferReadersAreIndependent) {
  auto sec = [] {
    Builder b;
    const int src = b.node("src", NodeKind::mem_read, 4);
    const int buf = b.node("buf", NodeKind::buffer, 4);
    const int fast = b.node("fast", NodeKind::mem_write, 4);
    const int slow = b.node("slow", NodeKind::mem_write, 40);
    b.edge(src, buf, 4);
    b.edge(buf, fast, 4);
    b.edge(buf, slow, 4);
    return b.sec;
  };
  RduSpec s = spec(4);
  s.addresses_per_cycle = 1;
  const FabricResult one = simulate_section(sec(), s, FabricEngine::plain);
  EXPECT_EQ(one.nodes[2].end_cycle, 10);
  EXPECT_EQ(one.nodes[3].end_cycle, 43);
  EXPECT_EQ(one.cycles, 43);
  EXPECT_EQ(one.stage_buffers, 0);
  s.addresses_per_cycle = 2;
  const FabricResult two = simulate_section(sec(), s, FabricEngine::plain);
  EXPECT_EQ(two.nodes[2].end_cycle, 7);  // sends at 2..5, dequeued at 3..6
  EXPECT_EQ(two.nodes[3].end_cycle, 43);
}

// Two streams into one buffer share its write port: src A and src B send 4 vectors each at
// 0..3 (visible 1..4); the two writers take one every 2 cycles each, at 1, 3, 5, 7. The reader
// sends one vector, which needs all 8 writes: readable at 8, sent at 8, dequeued at 9 by the
// sink (done at 10). (With a write port per stream the last write would land at 4.)
Section two_writers() {
  Builder b;
  const int a = b.node("srcA", NodeKind::mem_read, 4);
  const int c = b.node("srcB", NodeKind::mem_read, 4);
  const int buf = b.node("buf", NodeKind::buffer, 8);
  const int sink = b.node("sink", NodeKind::mem_write, 1);
  b.edge(a, buf, 4);
  b.edge(c, buf, 4);
  b.edge(buf, sink, 1);
  return b.sec;
}

TEST(RduFabric, BufferWritersShareTheWritePort) {
  const FabricResult r = simulate_section(two_writers(), spec(4), FabricEngine::plain);
  EXPECT_EQ(r.nodes[2].end_cycle, 9);  // the read in cycle 8
  EXPECT_EQ(r.cycles, 10);
}

// A step longer than the calendar's window (1024 cycles): src (2 vectors at 0, 1) -> map (busy
// 6000: 2 steps of 3000) -> sink. Step 0 takes vector 0 at 1, runs 1..3000 and sends at 1
// (dequeued at 2); step 1 takes vector 1 at 3001, sends it at 3001 (dequeued at 3002) and
// runs till 6000: 6001 cycles. A PCU with work and no stream at all still takes its cycles.
Section long_steps() {
  Builder b;
  const int a = b.node("src", NodeKind::mem_read, 2);
  const int m = b.node("map", NodeKind::map, 6000);
  const int c = b.node("sink", NodeKind::mem_write, 2);
  b.node("idle", NodeKind::map, 7000);
  b.edge(a, m, 2);
  b.edge(m, c, 2);
  return b.sec;
}

TEST(RduFabric, LongStepsAndStreamlessWork) {
  const FabricResult r = simulate_section(long_steps(), spec(4), FabricEngine::plain);
  EXPECT_EQ(r.nodes[1].end_cycle, 6001);
  EXPECT_EQ(r.nodes[2].end_cycle, 3003);
  EXPECT_EQ(r.nodes[3].busy_cycles, 7000);
  EXPECT_EQ(r.nodes[3].end_cycle, 7000);
  EXPECT_EQ(r.cycles, 7000);
}

namespace {

std::vector<Section> layer_sections(const std::string& model, int rows, int cols, int agcus,
                                    Fusion fusion = Fusion::layer) {
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/" + model + ".yaml");
  WorkloadSpec w;
  w.name = "d";
  w.phase = Phase::decode;
  w.context_len = 8, w.generated_tokens = 1, w.batch = 1;
  RduSpec s;
  s.rows = rows, s.cols = cols, s.agcus = agcus, s.reconfig_cycles = 0;
  const Dfg g = lower_layer(m, w, 0, s);
  return map_layer(g, s, fusion).sections;
}

Section layer_section(const std::string& model, int rows, int cols, int agcus) {
  return layer_sections(model, rows, cols, agcus).at(0);
}

void same(const FabricResult& a, const FabricResult& b) {
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.vectors_moved, b.vectors_moved);
  ASSERT_EQ(a.links.size(), b.links.size());
  for (std::size_t e = 0; e < a.links.size(); ++e) {
    EXPECT_EQ(a.links[e].sent, b.links[e].sent) << e;
    EXPECT_EQ(a.links[e].producer_stall_cycles, b.links[e].producer_stall_cycles) << e;
    EXPECT_EQ(a.links[e].consumer_wait_cycles, b.links[e].consumer_wait_cycles) << e;
    EXPECT_EQ(a.links[e].max_occupancy, b.links[e].max_occupancy) << e;
  }
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].end_cycle, b.nodes[i].end_cycle) << i;
    EXPECT_EQ(a.nodes[i].busy_cycles, b.nodes[i].busy_cycles) << i;
  }
}

}  // namespace

TEST(RduFabric, SystemcEqualsPlainOnBackPressuredChain) {
  const Section sec = chain(40, 3);
  same(simulate_section(sec, spec(2), FabricEngine::plain),
       simulate_section(sec, spec(2), FabricEngine::systemc));
}

TEST(RduFabric, SystemcEqualsPlainOnForkJoin) {
  const Section sec = fork_join();
  same(simulate_section(sec, spec(2), FabricEngine::plain),
       simulate_section(sec, spec(2), FabricEngine::systemc));
}

TEST(RduFabric, SystemcEqualsPlainOnTwoWriters) {
  same(simulate_section(two_writers(), spec(4), FabricEngine::plain),
       simulate_section(two_writers(), spec(4), FabricEngine::systemc));
}

TEST(RduFabric, SystemcEqualsPlainOnLongSteps) {
  same(simulate_section(long_steps(), spec(4), FabricEngine::plain),
       simulate_section(long_steps(), spec(4), FabricEngine::systemc));
}

TEST(RduFabric, SystemcEqualsPlainOnStories15MLayer) {
  const Section sec = layer_section("stories15M", 10, 8, 12);
  same(simulate_section(sec, RduSpec{}, FabricEngine::plain),
       simulate_section(sec, RduSpec{}, FabricEngine::systemc));
}

TEST(RduFabric, SystemcEqualsPlainOnTinyLayer) {
  const Section sec = layer_section("tiny", 10, 8, 12);
  const FabricResult p = simulate_section(sec, RduSpec{}, FabricEngine::plain);
  same(p, simulate_section(sec, RduSpec{}, FabricEngine::systemc));
  EXPECT_GT(p.vector_hops, 0);
}

// Real layers run to the end (no deadlock), every section of both fusions: every PCU busy its
// whole work, every stream moved, and a section no shorter than its busiest tile. The residual
// adds join a PCU's stream with a blocking matmul's: stage buffers appear.
TEST(RduFabric, Stories15MLayersRun) {
  // A 10 x 8 grid cuts the layer into sections, 40 x 40 holds it whole.
  for (auto [rows, fusion] :
       {std::pair{10, Fusion::layer}, std::pair{10, Fusion::op}, std::pair{40, Fusion::layer}}) {
    i64 stage = 0;
    const auto secs =
        layer_sections("stories15M", rows, rows == 10 ? 8 : 40, rows == 10 ? 12 : 80, fusion);
    if (rows == 40) {
      EXPECT_EQ(secs.size(), 1u);
    }
    for (const Section& sec : secs) {
      const FabricResult r = simulate_section(sec, RduSpec{}, FabricEngine::plain);
      i64 vectors = 0;
      for (std::size_t e = 0; e < sec.graph.edges.size(); ++e) {
        vectors += sec.graph.edges[e].vectors;
        EXPECT_EQ(r.links[e].received, sec.graph.edges[e].vectors) << e;
      }
      EXPECT_EQ(r.vectors_moved, vectors);
      for (std::size_t i = 0; i < sec.graph.nodes.size(); ++i) {
        EXPECT_EQ(r.nodes[i].busy_cycles, sec.graph.nodes[i].busy_cycles)
            << sec.graph.nodes[i].name;
        EXPECT_GE(r.cycles, sec.graph.nodes[i].busy_cycles);
      }
      stage += r.stage_buffers;
    }
    if (rows == 40) {
      EXPECT_GT(stage, 0);
    }
  }
}
