// The RDU as a unit (`impl: rdu`): a layer's ops add up to its mapping's time, the functional
// matmuls equal the reference bit for bit, fusion and bad parameters behave.
// Each test that runs the engine elaborates SystemC once: ctest runs every test alone.
#include <gtest/gtest.h>

#include "arch/rdu/attention.hpp"
#include "arch/rdu/dfg.hpp"
#include "arch/rdu/fabric.hpp"
#include "arch/rdu/place.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/functional.hpp"
#include "sim/simulate.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

// A 4 x 6 grid (12 PCUs, 12 PMUs), memory 2 x 16 B/cycle: the spec below by hand.
std::string rdu_yaml(const std::string& extra = "") {
  return "system:\n  name: r\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
         "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 2, "
         "bytes_per_cycle_per_channel: 16}\n  units:\n    rdu:\n      impl: rdu\n      rows: 4\n"
         "      cols: 6\n      agcus: 8\n      lanes: 16\n      pmu_kib: 64\n      matmul_pcus: 4\n"
         "      reconfig_cycles: 500\n" +
         extra + "  mapping: {default: rdu}\n";
}

rdu::RduSpec spec_by_hand() {
  rdu::RduSpec s;
  s.rows = 4, s.cols = 6, s.agcus = 8, s.lanes = 16, s.pmu_kib = 64, s.matmul_pcus = 4;
  s.reconfig_cycles = 500;
  s.hbm_bytes_per_cycle = 32;  // the system's memory: 2 channels x 16 B/cycle
  s.clock_ghz = 1.0;
  return s;
}

ModelSpec tiny() {
  return config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
}

WorkloadSpec decode(int context) {
  WorkloadSpec w;
  w.name = "d", w.phase = Phase::decode, w.context_len = context, w.generated_tokens = 1;
  return w;
}

}  // namespace

// Layer 1's ops share its mapping's time exactly: their compute cycles add up to the sections'
// time plus one reconfiguration per section, computed here by compiling the layer directly.
TEST(RduUnit, LayerOpsAddUpToTheMapping) {
  TempDir dir;
  System sys(config::load_system(dir.write("r.yaml", rdu_yaml())));
  const ModelSpec m = tiny();
  const WorkloadSpec w = decode(8);
  SimResult r = simulate(sys, m, w);
  std::int64_t layer1 = 0, attention = 0;
  int ops = 0;
  for (const OpRecord& rec : r.records) {
    if (rec.op.layer != 1) continue;
    ++ops;
    const OpKind k = rec.op.kind;
    layer1 += rec.cost.compute_cycles;
    if (k == OpKind::attn_score || k == OpKind::softmax || k == OpKind::attn_value)
      attention += rec.cost.compute_cycles;
  }
  const std::vector<Op> all = lower_forward(m, w);
  const rdu::RduSpec s = spec_by_hand();
  const rdu::Dfg g = rdu::lower_layer(rdu::layer_ops(all, 1), rdu::layer_shape(m, w), s);
  const rdu::Mapping mp = rdu::map_layer(g, s, rdu::Fusion::layer, rdu::resident_tensors(all));
  EXPECT_EQ(ops, 17);
  EXPECT_GT(mp.total_cycles, 0);
  // The ops share the sections (attention lowered into them by its mapping): each section its
  // fabric simulation (no less than its tier / mesh-link floor) plus its reconfiguration.
  std::int64_t sections = 0;
  for (const rdu::Section& sec : mp.sections)
    sections +=
        std::max(rdu::simulate_section(sec, s, rdu::FabricEngine::plain).cycles, sec.bound_cycles) +
        s.reconfig_cycles;
  EXPECT_EQ(layer1, sections);
  // Attention's pipelines are tiles of the section: their busy cycles get a share.
  EXPECT_GT(attention, 0);
  EXPECT_LT(attention, layer1);
  EXPECT_GE(sys.stats().get("rdu.pcus_used"), double(mp.pcus_used));
  // Layers 0 and 1 differ only in their tensors' names: their sections are simulated once.
  EXPECT_EQ(sys.stats().get("rdu.sections_estimated"), 0.0);
  EXPECT_GT(sys.stats().get("rdu.fabric_simulations"), 0.0);
  EXPECT_LT(sys.stats().get("rdu.fabric_simulations"), sys.stats().get("rdu.sections"));
  // Peak: 12 PCUs x 16 lanes x 6 stages x 2 FLOPs.
  EXPECT_DOUBLE_EQ(sys.unit("rdu").peak_flops_per_cycle(), 2304.0);
}

// simulate_max_vectors: 0 times every section by the compiler's estimate (no simulation): the
// layer's ops add up to the estimated sections plus their reconfigurations.
TEST(RduUnit, SectionsAboveTheLimitTakeTheEstimate) {
  TempDir dir;
  System sys(config::load_system(dir.write("r.yaml", rdu_yaml("      simulate_max_vectors: 0\n"))));
  const ModelSpec m = tiny();
  const WorkloadSpec w = decode(8);
  SimResult r = simulate(sys, m, w);
  std::int64_t layer1 = 0;
  for (const OpRecord& rec : r.records)
    if (rec.op.layer == 1) layer1 += rec.cost.compute_cycles;
  const std::vector<Op> all = lower_forward(m, w);
  const rdu::RduSpec s = spec_by_hand();
  const rdu::Mapping mp =
      rdu::map_layer(rdu::lower_layer(rdu::layer_ops(all, 1), rdu::layer_shape(m, w), s), s,
                     rdu::Fusion::layer, rdu::resident_tensors(all));
  EXPECT_EQ(layer1, mp.total_cycles);  // estimates + reconfigurations
  EXPECT_EQ(sys.stats().get("rdu.fabric_simulations"), 0.0);
  EXPECT_EQ(sys.stats().get("rdu.sections_estimated"), sys.stats().get("rdu.sections"));
}

// One section per op pays a reconfiguration per op and spills every intermediate: more
// sections and spilled bytes than the fused layer, and more cycles. (Planned without running
// the engine: the two systems share this process.)
TEST(RduUnit, PerOpSectionsCostMoreThanAFusedLayer) {
  TempDir dir;
  const std::vector<Op> ops = lower_forward(tiny(), decode(8));
  std::vector<const Op*> ptrs;
  for (const Op& o : ops)
    ptrs.push_back(&o);
  struct Planned {
    std::int64_t cycles = 0;
    double sections = 0, spill = 0, reconfig = 0;
  };
  auto plan = [&](const std::string& file) {
    System sys(config::load_system(file));
    Unit& u = sys.unit("rdu");
    u.prepare(ptrs);
    Planned p;
    for (const Op& o : ops)
      p.cycles += u.plan(o).cost.compute_cycles;
    p.sections = sys.stats().get("rdu.sections"), p.spill = sys.stats().get("rdu.spill_bytes");
    p.reconfig = sys.stats().get("rdu.reconfig_cycles");
    return p;
  };
  const Planned fused = plan(dir.write("f.yaml", rdu_yaml()));
  const Planned per_op = plan(dir.write("o.yaml", rdu_yaml("      fusion: op\n")));
  EXPECT_GT(per_op.sections, fused.sections);
  EXPECT_GT(per_op.spill, fused.spill);
  EXPECT_GT(per_op.cycles, fused.cycles);
  EXPECT_EQ(per_op.reconfig, 500.0 * per_op.sections);
  EXPECT_EQ(fused.reconfig, 500.0 * fused.sections);
}

// Functional: every matmul of the pass recomputed on the fabric's integer lanes equals the
// reference bit for bit: (4 per attention + 3 MLP) x 2 layers + classifier = 15 per position.
TEST(RduUnit, FunctionalMatmulsAreBitExact) {
  TempDir dir;
  System sys(config::load_system(dir.write("r.yaml", rdu_yaml())));
  const ModelSpec m = tiny();
  WorkloadSpec w = decode(8);
  w.generated_tokens = 2;
  SimResult r = simulate(sys, m, w);
  Verification v = verify_functional(sys, m, w, r.records);
  EXPECT_EQ(v.mismatch, "");
  EXPECT_EQ(v.matmuls, 2 * 15);
  EXPECT_EQ(v.units, std::vector<std::string>{"rdu"});
}

// Bad values name the unit's key path in the system file.
TEST(RduUnit, BadParametersNameTheirKey) {
  TempDir dir;
  auto expect_error = [&](const std::string& yaml, const std::string& what) {
    try {
      config::load_system(dir.write("bad.yaml", yaml));
      ADD_FAILURE() << "accepted: " << what;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  std::string y = rdu_yaml();
  expect_error(std::string(y).replace(y.find("rows: 4"), 7, "rows: 0"), "system.units.rdu.rows");
  expect_error(std::string(y).replace(y.find("agcus: 8"), 8, "agcus: 9"), "system.units.rdu.agcus");
  expect_error(rdu_yaml("      sdpa: flash\n"), "system.units.rdu.sdpa");
  expect_error(rdu_yaml("      hbm_bytes_per_cycle: 10\n"),
               "system.units.rdu.hbm_bytes_per_cycle: unknown key");
  expect_error(rdu_yaml("      link_capacity_vectors: 0\n"),
               "system.units.rdu.link_capacity_vectors");
}

// `sdpa: online` keeps attention's intermediate storage flat in the context; `naive` grows it
// by the materialized scores (4 bytes a position). Planned without the engine.
TEST(RduUnit, AttentionStorageFlatOnlineLinearNaive) {
  TempDir dir;
  const ModelSpec m = tiny();
  auto plan = [&](const std::string& sdpa, int context) {
    System sys(config::load_system(dir.write("s.yaml", rdu_yaml("      sdpa: " + sdpa + "\n"))));
    const std::vector<Op> ops = lower_forward(m, decode(context));
    std::vector<const Op*> ptrs;
    for (const Op& o : ops)
      ptrs.push_back(&o);
    Unit& u = sys.unit("rdu");
    u.prepare(ptrs);
    std::int64_t attn = 0;
    for (const Op& o : ops) {
      const std::int64_t c = u.plan(o).cost.compute_cycles;
      if (o.kind == OpKind::attn_score || o.kind == OpKind::softmax || o.kind == OpKind::attn_value)
        attn += c;
    }
    return std::make_pair(sys.stats().get("rdu.attn_peak_buffer_bytes"), attn);
  };
  const auto on16 = plan("online", 16), on48 = plan("online", 48);
  const auto nv16 = plan("naive", 16), nv48 = plan("naive", 48);
  EXPECT_EQ(on16.first, on48.first);
  EXPECT_GT(on16.first, 0);
  // 32 more positions: 128 more bytes per head pipeline in use (8 pipelines, 4 heads: 4 in use).
  EXPECT_EQ(nv48.first - nv16.first, 4 * 32 * 4);
  // Either way attention's tiles work longer on a longer context.
  EXPECT_GT(on48.second, on16.second);
  EXPECT_GT(nv48.second, nv16.second);
}
