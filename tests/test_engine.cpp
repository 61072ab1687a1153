// The concurrent core: scheduling (overlap, serial), memory sharing under fcfs and round-robin
// arbitration, prefetch, deadlock reports, and schedule invariants on the shipped configs.
// Every TEST that simulates elaborates SystemC: ctest runs each in its own process, and tests
// that compare several simulations run each in a forked child.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/simulate.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

// Two single-lane vector units with no pipeline latency (an op of F flops takes F cycles),
// a 4x4 WS array, and 64 B/cycle of memory with a 10-cycle latency.
std::string system_yaml(const std::string& extra, const std::string& memory_extra = "") {
  return "system:\n  name: e\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
         "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 1, "
         "bytes_per_cycle_per_channel: 64, latency_cycles: 10" +
         memory_extra + "}\n  global_buffer_kib: 1024\n" + extra +
         "  units:\n    mxu: {impl: systolic, rows: 4, cols: 4}\n"
         "    va: {impl: vector, lanes: 1, latency_cycles: 0}\n"
         "    vb: {impl: vector, lanes: 1, latency_cycles: 0}\n"
         "  mapping: {matmul: mxu, gemv: mxu, classifier: mxu, attn_score: va, attn_value: vb, "
         "softmax: vb, default: va}\n";
}

// A vector op of `flops` cycles reading `dram_bytes` of KV cache; kind picks its unit.
Op vec(const std::string& name, OpKind kind, std::int64_t flops, std::int64_t dram_bytes,
       std::vector<std::string> reads = {}, std::vector<std::string> writes = {}) {
  Op o;
  o.name = name, o.kind = kind, o.flops = flops, o.kv_read_bytes = dram_bytes, o.dtype = "fp32";
  for (auto& r : reads)
    o.reads.push_back({r, TensorKind::activation, 4});
  for (auto& w : writes)
    o.writes.push_back({w, TensorKind::activation, 4});
  return o;
}

// A 1 x 8 x 8 int8 gemv: 4 folds of 11 cycles on the 4x4 array, the last one cycle shorter in
// SCALE-Sim's count (43 compute cycles).
Op gemv(const std::string& name, std::int64_t weight_bytes) {
  Op o;
  o.name = name, o.kind = OpKind::gemv, o.m = 1, o.n = 8, o.k = 8;
  o.weight_bits = 8, o.act_bits = 8, o.group = 0, o.dtype = "w8a8";
  o.macs = 64, o.flops = 128, o.weight_bytes = weight_bytes, o.act_read_bytes = 8,
  o.act_write_bytes = 32;
  o.reads = {{"W." + name, TensorKind::weight, weight_bytes}};
  return o;
}

struct Sim {
  TempDir dir;
  System sys;
  std::vector<OpRecord> recs;
  Sim(const std::string& yaml, const std::vector<Op>& ops)
      : sys(config::load_system(dir.write("s.yaml", yaml))), recs(sys.run(build_graph({ops}))) {}
  const OpRecord& op(const std::string& name) const {
    for (const OpRecord& r : recs)
      if (r.op.name == name) return r;
    throw std::runtime_error("no op " + name);
  }
  std::int64_t makespan() const { return sys.totals(recs).cycles; }
};

const std::vector<Op> kIndependent = {vec("a", OpKind::attn_score, 300, 0),
                                      vec("b", OpKind::attn_value, 500, 0), gemv("g", 0)};

}  // namespace

TEST(Engine, IndependentOpsOnThreeUnitsFinishInTheLongest) {
  Sim r(system_yaml(""), kIndependent);
  EXPECT_EQ(r.op("a").start_cycle, 0);
  EXPECT_EQ(r.op("b").start_cycle, 0);
  EXPECT_EQ(r.op("g").start_cycle, 0);
  EXPECT_EQ(r.op("g").cost.cycles, 43);
  EXPECT_EQ(r.makespan(), 500);  // max(300, 500, 43)
  ASSERT_EQ(r.sys.engine().units.size(), 3u);
  const UnitUsage& va = r.sys.engine().units[1];
  EXPECT_EQ(va.name, "va");
  EXPECT_EQ(va.busy_cycles, 300);
  EXPECT_EQ(va.idle_cycles, 200);
  EXPECT_DOUBLE_EQ(va.utilization, 0.6);
}

TEST(Engine, SerialRunsTheSameOpsBackToBack) {
  Sim r(system_yaml("  schedule: serial\n"), kIndependent);
  EXPECT_EQ(r.op("b").start_cycle, 300);
  EXPECT_EQ(r.op("g").start_cycle, 800);
  EXPECT_EQ(r.op("b").waited_for, "order");
  EXPECT_EQ(r.makespan(), 843);  // 300 + 500 + 43
}

TEST(Engine, AChainNeverOverlaps) {
  Sim r(system_yaml(""), {vec("a", OpKind::attn_score, 300, 0, {}, {"t"}),
                          vec("b", OpKind::attn_value, 500, 0, {"t"}, {"u"}),
                          vec("c", OpKind::attn_score, 7, 0, {"u"}, {})});
  EXPECT_EQ(r.op("b").ready_cycle, 300);
  EXPECT_EQ(r.op("b").start_cycle, 300);
  EXPECT_EQ(r.op("b").waited_for, "input");
  EXPECT_EQ(r.op("a").waited_for, "");
  EXPECT_EQ(r.op("c").start_cycle, 800);
  EXPECT_EQ(r.makespan(), 807);
}

TEST(Engine, OpsOfOneUnitWaitForTheUnit) {
  Sim r(system_yaml(""), {vec("a", OpKind::attn_score, 300, 0), vec("b", OpKind::rope, 50, 0)});
  EXPECT_EQ(r.op("b").ready_cycle, 0);
  EXPECT_EQ(r.op("b").start_cycle, 300);  // both on va; program order breaks the tie
  EXPECT_EQ(r.op("b").waited_for, "unit");
  EXPECT_EQ(r.makespan(), 350);
}

// Memory sharing, derived by hand. va and vb each read 64 KiB (1024 cycles at 64 B/cycle,
// latency 10) with 1 cycle of compute, both from cycle 0.
//  fcfs: one is served whole first: it ends at 1024 + 10, the other at 2048 + 10.
//  round robin, 4 KiB bursts (64 cycles): they alternate, so the first one's 16th burst is the
//  31st of 32: it ends at 31 x 64 + 10 = 1994, the other at 2058.
// Either way every byte moves once and the channel is busy 2048 cycles.
namespace {
void expect_shared(const std::string& arbitration, std::int64_t first, std::int64_t second) {
  Sim r(system_yaml("", ", arbitration: " + arbitration + ", burst_bytes: 4096"),
        {vec("a", OpKind::attn_score, 1, 65536), vec("b", OpKind::attn_value, 1, 65536)});
  std::vector<std::int64_t> ends = {r.op("a").end_cycle, r.op("b").end_cycle};
  std::sort(ends.begin(), ends.end());
  EXPECT_EQ(ends, (std::vector<std::int64_t>{first, second})) << arbitration;
  EXPECT_EQ(r.sys.stats().get("dram.read_bytes"), 131072.0);
  EXPECT_EQ(r.sys.stats().get("dram.busy_cycles"), 2048.0);
  EXPECT_EQ(r.op("a").cost.compute_cycles + r.op("a").cost.stall_cycles, r.op("a").cost.cycles);
}
// The same with b starting at cycle 100 (after a 100-cycle op c on vb it depends on).
//  fcfs: a is served [0, 1024) and ends at 1034; b waits for it: [1024, 2048), ends at 2058.
//  round robin: a takes bursts 0 and 1 alone ([0, 128)); from 128 b and a alternate, b first:
//  a's 14 remaining bursts end at 128 + 28 x 64 = 1920 (+10 = 1930), b's last two at 2048.
void expect_staggered(const std::string& arbitration, std::int64_t a_end, std::int64_t b_end) {
  Sim r(system_yaml("", ", arbitration: " + arbitration + ", burst_bytes: 4096"),
        {vec("a", OpKind::attn_score, 1, 65536), vec("c", OpKind::softmax, 100, 0, {}, {"t"}),
         vec("b", OpKind::attn_value, 1, 65536, {"t"}, {})});
  EXPECT_EQ(r.op("b").start_cycle, 100);
  EXPECT_EQ(r.op("a").end_cycle, a_end) << arbitration;
  EXPECT_EQ(r.op("b").end_cycle, b_end) << arbitration;
  EXPECT_EQ(r.sys.stats().get("dram.read_bytes"), 131072.0);
  EXPECT_EQ(r.sys.stats().get("dram.busy_cycles"), 2048.0);
}
}  // namespace
TEST(EngineMemory, FcfsServesOneRequestWhole) {
  expect_shared("fcfs", 1034, 2058);
}
TEST(EngineMemory, RoundRobinAlternatesBursts) {
  expect_shared("round_robin", 1994, 2058);
}
TEST(EngineMemory, FcfsLateArrivalWaits) {
  expect_staggered("fcfs", 1034, 2058);
}
TEST(EngineMemory, RoundRobinLateArrivalGetsHalf) {
  expect_staggered("round_robin", 1930, 2058);
}

// Prefetch, derived by hand on the 4x4 array with 4 B/cycle of memory (latency 10): two
// independent gemvs with 64 weight bytes each (4 folds of 16 bytes, 11 cycles per fold, the
// last 10) on mxu. g1 alone: fold 0's fetch [0, 4) + 10 -> 14, folds at 14, 25, 36, 47, end 57
// (stall 14).
//  none: g2 repeats that from 57: ends 114.
//  next_op: once g1 issued its last fetch (at 36, [36, 40)) the DMA fetches g2's four folds,
//  [40, 44) + 10 -> 54, then 48, 52, 56: all in before g2 starts at 57, so g2 takes its 43
//  compute cycles and ends at 100.
namespace {
std::string slow_memory(const std::string& extra) {
  return "system:\n  name: p\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
         "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 1, "
         "bytes_per_cycle_per_channel: 4, latency_cycles: 10}\n" +
         extra +
         "  units:\n    mxu: {impl: systolic, rows: 4, cols: 4}\n"
         "    vpu: {impl: vector, lanes: 16}\n  mapping: {gemv: mxu, default: vpu}\n";
}
}  // namespace
TEST(EnginePrefetch, NoneFetchesAtTheStart) {
  Sim r(slow_memory(""), {gemv("g1", 64), gemv("g2", 64)});
  EXPECT_EQ(r.op("g1").end_cycle, 57);
  EXPECT_EQ(r.op("g2").end_cycle, 114);
  EXPECT_EQ(r.op("g2").prefetched_bytes, 0);
}
TEST(EnginePrefetch, NextOpHidesTheNextWeights) {
  Sim r(slow_memory("  prefetch: next_op\n"), {gemv("g1", 64), gemv("g2", 64)});
  EXPECT_EQ(r.op("g1").end_cycle, 57);
  EXPECT_EQ(r.op("g2").start_cycle, 57);
  EXPECT_EQ(r.op("g2").end_cycle, 100);
  EXPECT_EQ(r.op("g2").cost.stall_cycles, 0);
  EXPECT_EQ(r.op("g2").waited_for, "unit");
  EXPECT_EQ(r.op("g1").waited_for, "memory");
  EXPECT_EQ(r.op("g2").prefetched_bytes, 64);
  EXPECT_GT(r.op("g2").hidden_memory_cycles, 0);
  EXPECT_EQ(r.sys.stats().get("mxu.dma.prefetch_bytes"), 64.0);
  EXPECT_EQ(r.sys.stats().get("dram.read_bytes"), 128.0);
}

// A graph whose edges form a cycle (only a bug could build one: loaders reject cycles) must
// end with a report of what each op waits for, not a hang (the CLI raises it: exit 3).
TEST(Engine, DeadlockIsReportedWithWhatEachOpWaitsFor) {
  TempDir dir;
  System sys(config::load_system(dir.write("s.yaml", system_yaml(""))));
  OpGraph g = build_graph({{vec("free", OpKind::rope, 5, 0), vec("x", OpKind::attn_score, 5, 0),
                            vec("y", OpKind::attn_value, 5, 0)}});
  g.preds[1] = {2}, g.preds[2] = {1};
  g.succs[1] = {2}, g.succs[2] = {1};
  sys.run(g);
  const std::string& m = sys.engine().deadlock;
  for (const char* frag :
       {"simulation deadlock: 2 of 3 ops never finished",
        "x (step 0, unit va) waits for y (step 0)", "y (step 0, unit vb) waits for x (step 0)"})
    EXPECT_NE(m.find(frag), std::string::npos) << m;
}

TEST(EngineConfig, BadScheduleValuesNameTheirKeys) {
  TempDir dir;
  auto f =
      dir.write("s.yaml", system_yaml("  schedule: parallel\n  prefetch: all\n  attention: x\n",
                                      ", arbitration: lottery, model: ramulator"));
  try {
    config::load_system(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    for (const char* frag :
         {"system.schedule: found 'parallel', expected one of overlap, serial",
          "system.prefetch: found 'all', expected one of none, next_op",
          "system.attention: found 'x', expected one of per_layer, per_head",
          "system.memory.arbitration: found 'lottery', expected one of fcfs, round_robin",
          "system.memory.model: found 'ramulator', expected one of dram, simple"})
      EXPECT_NE(m.find(frag), std::string::npos) << m;
  }
}

// Every shipped system on shipped workloads, both schedules (each in its own process):
//  - serial's makespan is the sum of its ops' cycles;
//  - overlap is never slower than serial, and never faster than its lower bounds: the critical
//    path through the graph, the busiest unit's work and the DRAM bytes over peak bandwidth.
namespace {

struct Bounds {
  std::int64_t makespan = 0, sum = 0, critical = 0, busiest = 0, dram = 0;
};

Bounds simulate_bounds(const std::string& system, const std::string& schedule,
                       const std::string& model, const std::string& workload,
                       const std::string& attention = "per_layer") {
  std::string out = test::in_child([&] {
    YAML::Node root = YAML::LoadFile(system);
    root["system"]["schedule"] = schedule;
    root["system"]["attention"] = attention;
    System sys(config::system_from_yaml(root, system));
    ModelSpec m = config::load_model(model);
    WorkloadSpec w = config::load_workload(workload);
    OpGraph g = lower_workload(m, w, sys.spec().attention);
    SimResult res = simulate_graph(sys, g);
    Bounds b;
    b.makespan = res.totals.cycles;
    std::vector<std::int64_t> finish(g.size());
    std::map<std::string, std::int64_t> per_unit;
    const std::vector<OpRecord> recs = res.records.to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) {
      const OpRecord& r = recs[i];
      std::int64_t t = 0;
      for (int p : g.preds[i])
        t = std::max(t, finish[std::size_t(p)]);
      finish[i] = t + r.cost.cycles;
      b.critical = std::max(b.critical, finish[i]);
      b.sum += r.cost.cycles;
      per_unit[r.unit] += r.cost.cycles;
      b.busiest = std::max(b.busiest, per_unit[r.unit]);
    }
    b.dram =
        std::int64_t(std::ceil(double(res.totals.dram_bytes) / sys.peak_dram_bytes_per_cycle()));
    std::ostringstream os;
    os << b.makespan << " " << b.sum << " " << b.critical << " " << b.busiest << " " << b.dram;
    return os.str();
  });
  Bounds b;
  std::istringstream is(out);
  is >> b.makespan >> b.sum >> b.critical >> b.busiest >> b.dram;
  return b;
}

void check_config(const std::string& sys, const std::string& model, const std::string& workload,
                  const std::string& attention = "per_layer") {
  const std::string c = test::source_dir() + "/configs/";
  Bounds s = simulate_bounds(c + sys, "serial", c + model, c + workload, attention);
  Bounds o = simulate_bounds(c + sys, "overlap", c + model, c + workload, attention);
  const std::string what = sys + " " + model + " " + workload + " " + attention;
  EXPECT_EQ(s.makespan, s.sum) << what;
  EXPECT_LE(o.makespan, s.makespan) << what;
  EXPECT_GE(o.makespan, o.critical) << what;
  EXPECT_GE(o.makespan, o.busiest) << what;
  EXPECT_GE(o.makespan, o.dram) << what;
  EXPECT_GT(o.makespan, 0) << what;
}

}  // namespace

TEST(EngineShipped, EdgeNpuOverlapWithinBounds) {
  check_config("systems/edge-npu.yaml", "models/stories15M.yaml", "workloads/decode-32.yaml");
  check_config("systems/edge-npu.yaml", "models/stories15M.yaml", "workloads/prefill-64.yaml");
  check_config("systems/edge-npu.yaml", "models/tiny.yaml", "workloads/decode-32.yaml", "per_head");
}

TEST(EngineShipped, DatacenterOverlapWithinBounds) {
  check_config("systems/datacenter.yaml", "models/llama-2-7b.yaml", "workloads/decode-2k.yaml");
  check_config("systems/datacenter.yaml", "models/stories42M.yaml", "workloads/prefill-512.yaml");
  check_config("systems/datacenter.yaml", "models/llama-3.2-1b.yaml",
               "workloads/decode-2k-b16.yaml", "per_head");
}

// Golden numbers: the serial schedule gives the pre-concurrency simulator's makespan on every
// shipped system, model, workload and layer list, less one cycle per array op (the SCALE-Sim
// convention the array adopted with the concurrent core). Each run in its own child process.
namespace {

struct Golden {
  std::string system, model, workload;
  std::int64_t cycles;
};

std::vector<Golden> golden(const std::string& system) {
  std::ifstream in(test::source_dir() + "/tests/data/golden_serial_cycles.txt");
  std::vector<Golden> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Golden g;
    ls >> g.system >> g.model >> g.workload >> g.cycles;
    if (g.system == system) out.push_back(g);
  }
  return out;
}

void check_golden(const std::string& system, bool large) {
  const std::string c = test::source_dir() + "/configs/";
  int checked = 0;
  for (const Golden& g : golden(system)) {
    const bool is_large = g.model.find("llama") != std::string::npos;
    if (is_large != large) continue;
    std::string out = test::in_child([&] {
      YAML::Node root = YAML::LoadFile(c + "systems/" + system + ".yaml");
      root["system"]["schedule"] = "serial";
      System sys(config::system_from_yaml(root, c + "systems/" + system + ".yaml"));
      SimResult r;
      if (g.model == "-") {
        r = simulate_graph(sys, config::load_layers(c + g.workload).graph);
      } else {
        r = simulate(sys, config::load_model(c + "models/" + g.model + ".yaml"),
                     config::load_workload(c + "workloads/" + g.workload + ".yaml"));
      }
      std::int64_t array_ops = 0;
      for (const OpRecord& rec : r.records)
        array_ops += sys.unit(rec.unit).impl() == "systolic";
      return std::to_string(r.totals.cycles) + " " + std::to_string(array_ops);
    });
    std::istringstream is(out);
    std::int64_t cycles = 0, array_ops = 0;
    is >> cycles >> array_ops;
    EXPECT_EQ(cycles, g.cycles - array_ops) << system << " " << g.model << " " << g.workload;
    ++checked;
  }
  EXPECT_GT(checked, 8);
}

}  // namespace

TEST(EngineGolden, EdgeNpuSmallModels) {
  check_golden("edge-npu", false);
}
TEST(EngineGolden, EdgeNpuLlamas) {
  check_golden("edge-npu", true);
}
TEST(EngineGolden, DatacenterSmallModels) {
  check_golden("datacenter", false);
}
TEST(EngineGolden, DatacenterLlamas) {
  check_golden("datacenter", true);
}

// The command-level DRAM behind the socket: one 32-byte read on an idle HBM2 channel pays a
// row miss (issue one cycle after arrival, ACT, nRCD, nCL, nBL: 1 + 14 + 14 + 2 DRAM cycles at
// tCK 1 ns = system cycles at 1 GHz); 64 bytes are two reads of one row, nCCDL = 4 apart.
TEST(EngineDram, ReadsPayHandDerivedRowMissLatency) {
  auto yaml = [](const std::string& mem) {
    return "system:\n  name: d\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
           "/configs/tech/45nm.yaml\n  memory: {kind: hbm2, model: dram, dram: " + mem +
           "}\n  global_buffer_kib: 1024\n  units:\n    va: {impl: vector, lanes: 1, "
           "latency_cycles: 0}\n  mapping: {default: va}\n";
  };
  const std::string one = "{preset: HBM2-2000, channels: 1, controller: {refresh: none}}";
  for (auto [bytes, expect] : {std::pair<int, int>{32, 31}, {64, 35}}) {
    const std::string got = test::in_child([&, b = bytes] {
      Sim s(yaml(one), {vec("a", OpKind::attn_score, 1, b)});
      return std::to_string(s.op("a").memory_cycles) + " " +
             std::to_string(int(s.sys.stats().get("dram.row_misses"))) + " " +
             std::to_string(int(s.sys.stats().get("dram.row_hits")));
    });
    EXPECT_EQ(got, std::to_string(expect) + " 1 " + std::to_string(bytes / 32 - 1)) << bytes;
  }
  // The simple model's keys are refused beside a DRAM file (one source of truth).
  TempDir dir;
  EXPECT_THROW(
      config::load_system(dir.write("s.yaml", yaml(one + ", channels: 2"))),  // memory.channels
      ConfigError);
}
