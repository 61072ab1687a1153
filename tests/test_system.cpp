// Units, mapper and the SystemC system. Tests that call System::run elaborate SystemC, so each
// must run in its own process (ctest does that).
#include <gtest/gtest.h>

#include <cstring>

#include "arch/common/unit.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/functional.hpp"
#include "sim/simulate.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

std::string system_yaml(const std::string& mxu, const std::string& memory, int gbuf_kib = 1024) {
  return "system:\n  name: t\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
         "/configs/tech/45nm.yaml\n  memory: " + memory +
         "\n  global_buffer_kib: " + std::to_string(gbuf_kib) + "\n  units:\n    mxu: " + mxu +
         "\n    vpu: {impl: vector, lanes: 16}\n  mapping: {matmul: mxu, gemv: mxu, classifier: "
         "mxu, default: vpu}\n";
}

Op gemv(std::int64_t n, std::int64_t k, std::int64_t weight_bytes) {
  Op o;
  o.name = "g", o.kind = OpKind::gemv, o.m = 1, o.n = n, o.k = k;
  o.weight_bits = 8, o.act_bits = 8, o.group = 0;
  o.macs = n * k, o.flops = 2 * o.macs, o.weight_bytes = weight_bytes, o.act_read_bytes = k,
  o.act_write_bytes = 4 * n;
  return o;
}

// A system's units built against their own stats, outside SystemC.
struct Units {
  TempDir dir;
  config::SystemSpec spec;
  StatsRegistry stats;
  UnitContext ctx;
  std::vector<std::unique_ptr<Unit>> units;
  explicit Units(const std::string& yaml)
      : spec(config::load_system(dir.write("s.yaml", yaml))),
        ctx{spec.tech, 64.0, stats, 1 << 20},
        units(config::build_units(spec, ctx)) {}
};

// One op alone on a system (elaborates SystemC: one per test process).
struct OneOp {
  TempDir dir;
  System sys;
  OpRecord rec;
  OneOp(const std::string& yaml, const Op& op)
      : sys(config::load_system(dir.write("s.yaml", yaml))), rec(sys.run(build_graph({{op}}))[0]) {}
};

}  // namespace

// A 4x4 WS array, gemv N = K = 8: 2 x 2 = 4 folds of 2R + C + T - 2 = 11 cycles, the last one
// cycle shorter in SCALE-Sim's count (43 compute).
// 64 weight bytes over 4 folds = 16 bytes per fold. At 4 B/cycle a fold's fetch takes 4 cycles
// (< 11: hidden), so only fold 0's fetch + the 10-cycle latency is exposed: stall 14, total 58.
// At 1 B/cycle a fetch takes 16 cycles: stall = (10 + 16) + 3 * (16 - 11) = 41, total 85.
void expect_stall(double bw, std::int64_t stall) {
  OneOp u(system_yaml("{impl: systolic, rows: 4, cols: 4, dataflow: ws}",
                      "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: " +
                          std::to_string(bw) + ", latency_cycles: 10}"),
          gemv(8, 8, 64));
  const OpCost& c = u.rec.cost;
  EXPECT_EQ(c.compute_cycles, 43);
  EXPECT_EQ(c.stall_cycles, stall) << "bw " << bw;
  EXPECT_EQ(c.cycles, 43 + stall);
  EXPECT_EQ(c.dram_read_bytes, 64);
  EXPECT_DOUBLE_EQ(c.dram_pj, 64 * u.sys.spec().tech.dram("lpddr4"));
  EXPECT_DOUBLE_EQ(c.compute_pj, 64 * u.sys.spec().tech.mac(8, 8));
  EXPECT_EQ(u.sys.stats().get("mxu.stall_cycles"), double(stall));
}
TEST(SystolicUnit, HandDerivedMemoryStallsFastMemory) {
  expect_stall(4.0, 14);
}
TEST(SystolicUnit, HandDerivedMemoryStallsSlowMemory) {
  expect_stall(1.0, 41);
}

// The same gemv with an input buffer of 2 B/cycle: WS streams R = 4 activation bytes per
// cycle, so each fold's single stream cycle takes 2: one extra cycle per fold, 4 in all, on top
// of the 14 exposed by the first fetch. The buffers and the DMA count their bytes.
TEST(SystolicUnit, SlowBufferStretchesTheStream) {
  OneOp u(system_yaml(
              "{impl: systolic, rows: 4, cols: 4, dataflow: ws, ibuf_bytes_per_cycle: 2}",
              "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 4, latency_cycles: 10}"),
          gemv(8, 8, 64));
  const OpCost& c = u.rec.cost;
  const StatsRegistry& st = u.sys.stats();
  EXPECT_EQ(c.compute_cycles, 43);
  EXPECT_EQ(c.stall_cycles, 14 + 4);
  EXPECT_EQ(st.get("mxu.buffer_stall_cycles"), 4.0);
  EXPECT_EQ(st.get("mxu.dma.load_bytes"), 64.0);
  EXPECT_EQ(st.get("mxu.ibuf.read_bytes"), 8.0);    // the activation vector, once
  EXPECT_EQ(st.get("mxu.obuf.write_bytes"), 32.0);  // 8 float32 outputs
}

TEST(SystolicUnit, SupportsOnlyWhatItsPEsCanHold) {
  Units u(system_yaml("{impl: systolic, rows: 4, cols: 4, acc_bits: 20}",
                      "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 8}"));
  Unit& mxu = *u.units[0];
  std::string why;
  Op o = gemv(8, 32, 256);
  o.group = 32;  // 32 * 127 * 127 needs 20 bits with the sign
  EXPECT_TRUE(mxu.supports(o, &why)) << why;
  o.group = 64;
  EXPECT_FALSE(mxu.supports(o, &why));
  EXPECT_NE(why.find("accumulator bits"), std::string::npos) << why;
  o.group = 32, o.act_bits = 16;
  EXPECT_FALSE(mxu.supports(o, &why));
  o.act_bits = 8, o.weight_bits = 32;
  EXPECT_FALSE(mxu.supports(o, &why));
}

TEST(SystemConfig, UnknownImplListsTheKnownOnes) {
  TempDir dir;
  auto f = dir.write("s.yaml",
                     system_yaml("{impl: systolc, rows: 4, cols: 4}",
                                 "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 8}"));
  try {
    config::load_system(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    // This binary also registers the test-only "flipbit" unit, so the list is not fixed here.
    for (const char* frag : {"system.units.mxu.impl: found 'systolc', expected one of ",
                             "systolic, vector", "(did you mean 'systolic'?)"})
      EXPECT_NE(m.find(frag), std::string::npos) << m;
  }
}

TEST(SystemConfig, BadParametersNameTheirKeyPath) {
  TempDir dir;
  auto f = dir.write("s.yaml",
                     system_yaml("{impl: systolic, rows: 4, cols: 0, dataflow: rs, colz: 3}",
                                 "{kind: lpdr4, channels: 1, bytes_per_cycle_per_channel: 8}"));
  try {
    config::load_system(f);
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    for (const char* frag : {"system.memory.kind: found 'lpdr4'", "(did you mean 'lpddr4'?)"})
      EXPECT_NE(m.find(frag), std::string::npos) << m;
  }
  auto g = dir.write("g.yaml",
                     system_yaml("{impl: systolic, rows: 4, cols: 0, dataflow: rs, colz: 3}",
                                 "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 8}"));
  try {
    config::load_system(g);
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    for (const char* frag : {"system.units.mxu.cols: expected an integer in [1, 4096], found 0",
                             "system.units.mxu.dataflow: found 'rs', expected one of ws, os, is",
                             "system.units.mxu.colz: unknown key (did you mean 'cols'?)"})
      EXPECT_NE(m.find(frag), std::string::npos) << m;
  }
}

// Rooflines on constructed cases, 16x16 array (512 FLOP/cycle) over 64 B/cycle (ridge 8
// FLOP/B): a gemv over 1 MiB of weights has intensity ~2 and must be memory-bound; a 512-row
// matmul reusing those weights 512 times (activations on chip) must be compute-bound, with the
// array busy ~ T / (2R + C + T - 2) = 512 / 558 of its cycles.
TEST(SystemRun, RooflineBounds) {
  TempDir dir;
  auto f = dir.write(
      "s.yaml", system_yaml("{impl: systolic, rows: 16, cols: 16}",
                            "{kind: hbm2, channels: 1, bytes_per_cycle_per_channel: 64}", 8192));
  System sys(config::load_system(f));
  Op mem = gemv(1024, 1024, 1 << 20);
  mem.name = "mem";
  Op cmp = gemv(1024, 1024, 1 << 20);
  cmp.name = "cmp", cmp.kind = OpKind::matmul, cmp.m = 512, cmp.macs = 512LL * 1024 * 1024,
  cmp.flops = 2 * cmp.macs;
  cmp.act_read_bytes = 512 * 1024, cmp.act_write_bytes = 512 * 1024 * 4;
  auto recs = sys.run(build_graph({{mem, cmp}}));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(recs[0].memory_bound);
  EXPECT_NEAR(recs[0].intensity, 2.0 * 1024 * 1024 / (1 << 20), 1e-9);
  EXPECT_FALSE(recs[1].memory_bound);
  EXPECT_EQ(recs[1].unit, "mxu");
  EXPECT_EQ(recs[1].cost.dram_read_bytes, 1 << 20);     // activations stayed in the global buffer
  EXPECT_EQ(recs[1].start_cycle, recs[0].cost.cycles);  // ops run back to back
  EXPECT_NEAR(recs[1].utilization, 512.0 / 558.0, 0.01);
}

// Float32 matmuls cannot run on the integer array: the mapper falls back to the default unit
// and says why; every op of a forward pass is accounted for.
TEST(SystemRun, MapperFallsBackAndAccountsForEveryOp) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/edge-npu.yaml"));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  m.quant = parse_scheme("fp32");
  WorkloadSpec w = config::load_workload(test::source_dir() + "/configs/workloads/decode-32.yaml");
  w.generated_tokens = 2;
  auto ops = lower_forward(m, w, 0);
  auto recs = sys.run(build_graph({ops, lower_forward(m, w, 1)}));
  EXPECT_EQ(recs.size(), 2 * ops.size());
  for (const OpRecord& r : recs) {
    EXPECT_EQ(r.unit, "vpu") << r.op.name;
    if (has_weights(r.op.kind)) {
      EXPECT_NE(r.mapped_by.find("fallback: mxu"), std::string::npos) << r.mapped_by;
    }
  }
  RunTotals t = sys.totals(recs);
  std::int64_t sum = 0;
  for (const OpRecord& r : recs)
    sum += r.cost.cycles;
  EXPECT_EQ(t.cycles, sum);
  EXPECT_GT(t.leakage_pj, 0);
}

namespace {

// A test-only unit (registered in this binary only) that computes matmuls with the reference
// kernel and then flips the last bit of output 3: functional mode must catch it.
class FlipBitUnit final : public Unit {
 public:
  FlipBitUnit(const std::string& name, UnitContext& ctx) : Unit(name, ctx) {}
  std::string_view impl() const override { return "flipbit"; }
  bool supports(const Op& op, std::string*) const override {
    return has_weights(op.kind) && op.weight_bits < 32;
  }
  OpPlan plan(const Op& op) override {
    OpPlan p;
    p.cost.compute_cycles = p.fold_cycles = p.last_fold_cycles = op.macs;
    p.cost.macs = op.macs, p.cost.flops = op.flops;
    return p;
  }
  double peak_flops_per_cycle() const override { return 2; }
  double area_mm2() const override { return 0; }
  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
    out.resize(std::size_t(w.rows));
    qmatmul(out, *rows[0], w);
    std::uint32_t bits;
    std::memcpy(&bits, &out[3], 4);
    bits ^= 1u;
    std::memcpy(&out[3], &bits, 4);
    return true;
  }
};

const RegisterUnit kFlipBit({"flipbit",
                             "test only: a matmul unit with one wrong bit",
                             {},
                             [](const std::string& name, const ParamValues&, UnitContext& ctx) {
                               return std::unique_ptr<Unit>(new FlipBitUnit(name, ctx));
                             }});

}  // namespace

// Functional mode on the real array: every matmul of the simulated decode steps is recomputed
// (2 steps x (7 per layer x 2 layers + classifier) = 30) and the vector ops are counted apart.
TEST(Functional, ArrayMatmulsVerifyBitExact) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/edge-npu.yaml"));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  WorkloadSpec w = config::load_workload(test::source_dir() + "/configs/workloads/decode-32.yaml");
  w.generated_tokens = 2;
  SimResult r = simulate(sys, m, w);
  Verification v = verify_functional(sys, m, w, r.records);
  EXPECT_EQ(v.matmuls, 30);
  EXPECT_EQ(v.units, std::vector<std::string>{"mxu"});
  EXPECT_EQ(v.reference_kernel_ops, std::int64_t(r.records.size()) - 30);
  EXPECT_EQ(v.mismatch, "");
}

// A prompt then generated tokens: every position's matmuls are recomputed, the prompt's in the
// prefill pass and one position per decode step: (6 + 2) x 15 = 120 on tiny (2 layers).
TEST(Functional, PrefillThenGenerateVerifiesEveryPosition) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/edge-npu.yaml"));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  WorkloadSpec w;
  w.name = "pg", w.phase = Phase::prefill, w.prompt_len = 6, w.generated_tokens = 2;
  SimResult r = simulate(sys, m, w);
  Verification v = verify_functional(sys, m, w, r.records);
  EXPECT_EQ(v.mismatch, "");
  EXPECT_EQ(v.matmuls, (6 + 2) * 15);
  EXPECT_DOUBLE_EQ(r.metrics.tokens, 8.0);
}

TEST(Functional, AWrongBitIsCaughtAndNamed) {
  TempDir dir;
  auto f = dir.write("s.yaml",
                     system_yaml("{impl: flipbit}",
                                 "{kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 8}"));
  System sys(config::load_system(f));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  WorkloadSpec w = config::load_workload(test::source_dir() + "/configs/workloads/decode-32.yaml");
  w.generated_tokens = 1;
  SimResult r = simulate(sys, m, w);
  Verification v = verify_functional(sys, m, w, r.records);
  EXPECT_NE(v.mismatch.find("op L0.wq at position 32 on unit 'mxu': output 3 is"),
            std::string::npos)
      << v.mismatch;
  EXPECT_EQ(v.matmuls, 0);  // the very first recomputed matmul is wrong
}

// A mapping that leaves an op without a unit is the user's config error, naming the key path.
TEST(SystemRun, AnOpWithoutAUnitIsAConfigError) {
  TempDir dir;
  auto f = dir.write("s.yaml",
                     "system:\n  name: t\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
                         "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 1, "
                         "bytes_per_cycle_per_channel: 8}\n  units:\n    mxu: {impl: systolic, "
                         "rows: 4, cols: 4}\n  mapping: {default: mxu}\n");
  System sys(config::load_system(f));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  WorkloadSpec w = config::load_workload(test::source_dir() + "/configs/workloads/decode-1.yaml");
  try {
    simulate(sys, m, w);
    FAIL();
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    for (const char* frag : {"s.yaml: system.mapping.default: no unit can run op embedding",
                             "default unit 'mxu': the array runs weight matmuls only"})
      EXPECT_NE(msg.find(frag), std::string::npos) << msg;
  }
}

// A run whose serial bound is past 2^63 cycles (each op's counts fit, their sum does not) is
// refused with the bound as a number, not a wrapped int64 (the conversion was undefined and
// printed -9223372036854775808).
TEST(System, RunBoundPast64BitsIsReportedAsANumber) {
  TempDir dir;
  const std::string yaml = system_yaml("{impl: systolic, rows: 1, cols: 1, acc_bits: 64}",
                                       "{kind: ddr3, channels: 1, bytes_per_cycle_per_channel: 1}");
  System sys(config::load_system(dir.write("s.yaml", yaml)));
  const std::int64_t e = std::int64_t(1) << 20;
  std::vector<Op> ops;
  for (int i = 0; i < 4; ++i)  // each 2^41 folds of 2^20 + 1 cycles on the 1 x 1 WS array
    ops.push_back(gemm_op("l" + std::to_string(i), e, e, 2 * e));
  try {
    sys.run(build_graph({ops}));
    FAIL() << "run not refused";
  } catch (const ConfigError& err) {
    const std::string msg = err.what();
    EXPECT_NE(msg.find("e+19 cycles, more than the 1e15"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("up to -"), std::string::npos) << msg;
  }
}
