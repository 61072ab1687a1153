#include "sim/system.hpp"

#include <systemc>

#include <algorithm>
#include <iomanip>
#include <set>
#include <sstream>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

// libsystemc references sc_main; qaccel drives the kernel from its own main().
int sc_main(int, char**) {
  return 0;
}

namespace qaccel {

System::System(const config::SystemSpec& spec) : spec_(spec) {
  ctx_ = std::make_unique<UnitContext>(UnitContext{spec_.tech, spec_.tech.dram(spec_.dram.kind),
                                                   stats_, spec_.global_buffer_kib * 1024,
                                                   &spec_.dram, spec_.clock_ghz});
  units_ = config::build_units(spec_, *ctx_);
  std::vector<Unit*> units;
  for (const auto& u : units_)
    units.push_back(u.get());
  declare_engine_stats(stats_, units);
}

Unit& System::unit(const std::string& name) const {
  for (const auto& u : units_)
    if (u->name() == name) return *u;
  QACCEL_ASSERT(false, "no unit named " + name);
  return *units_.front();
}

Unit& System::map(const Op& op, std::string* how) const {
  std::string kind(to_string(op.kind)), why;
  std::string low_why;
  if (spec_.intensity_policy && is_gemm(op.kind)) {
    // Duplex-style: memory-bound GEMM-view ops (decode GEMVs, attention) to the low-intensity
    // unit (PIM), the rest by kind.
    const double in = op.intensity();
    std::ostringstream v;
    v << "intensity " << std::setprecision(3) << in << " Op/B "
      << (in < spec_.intensity_threshold ? "<" : ">=") << " " << spec_.intensity_threshold;
    if (in < spec_.intensity_threshold) {
      Unit& u = unit(spec_.intensity_low_unit);
      if (u.supports(op, &low_why)) {
        if (how) *how = v.str() + ": " + u.name();
        return u;
      }
      low_why = v.str() + " but " + u.name() + " cannot: " + low_why + "; ";
    } else {
      low_why = v.str() + "; ";
    }
  }
  auto rule = spec_.mapping.find(kind);
  if (rule != spec_.mapping.end()) {
    Unit& u = unit(rule->second);
    if (u.supports(op, &why)) {
      if (how) *how = low_why + "rule:" + kind;
      return u;
    }
  }
  Unit& d = unit(spec_.mapping.at("default"));
  std::string why_default;
  if (!d.supports(op, &why_default))
    throw ConfigError(spec_.file.string() + ": system.mapping." +
                      (rule == spec_.mapping.end() ? "default" : kind) + ": no unit can run op " +
                      op.name + " (" + kind + ", " + op.dtype + "): " +
                      (rule == spec_.mapping.end() ? "" : "'" + rule->second + "': " + why + "; ") +
                      "default unit '" + d.name() + "': " + why_default);
  if (how)
    *how = low_why +
           (rule == spec_.mapping.end() ? "default" : "fallback: " + rule->second + " " + why);
  return d;
}

double System::area_mm2() const {
  double a = spec_.global_buffer_kib * spec_.tech.sram_area_mm2_per_kib;
  for (const auto& u : units_)
    a += u->area_mm2();
  return a;
}

std::vector<OpRecord> System::run(const OpGraph& g, bool record_memory) {
  std::vector<OpRecord> records(g.size());
  std::vector<int> unit_of(g.size());
  std::vector<OpPlan> plans(g.size());
  std::vector<Unit*> units;
  for (const auto& u : units_)
    units.push_back(u.get());
  std::vector<std::vector<const Op*>> ops_of(units.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    OpRecord& r = records[i];
    r.op = g.ops[i], r.step = g.step[i];
    Unit& u = map(r.op, &r.mapped_by);
    r.unit = u.name();
    unit_of[i] = int(std::find(units.begin(), units.end(), &u) - units.begin());
    ops_of[std::size_t(unit_of[i])].push_back(&g.ops[i]);
  }
  for (std::size_t u = 0; u < units.size(); ++u)
    units[u]->prepare(ops_of[u]);
  std::vector<std::vector<const Op*>>().swap(ops_of);
  for (std::size_t i = 0; i < g.size(); ++i) {
    OpRecord& r = records[i];
    Unit& u = *units[std::size_t(unit_of[i])];
    try {
      plans[i] = u.plan(r.op);
    } catch (const OverflowError& e) {  // a shape-derived count past 64 bits: name the op
      throw OverflowError("op " + r.op.name + " on unit '" + u.name() + "': " + e.what());
    }
    // Reports add each op's reads and writes; they must stay representable together.
    const OpCost& c = plans[i].cost;
    checked::add("op " + r.op.name + ": DRAM bytes", c.dram_read_bytes, c.dram_write_bytes);
    checked::add("op " + r.op.name + ": SRAM bytes", c.sram_read_bytes, c.sram_write_bytes);
    // Mapped and planned: the record no longer needs the op's tensor list (the graph keeps
    // it), which is most of a record's memory in a long decode.
    std::vector<TensorRef>().swap(r.op.reads);
    std::vector<TensorRef>().swap(r.op.writes);
  }
  // SystemC time counts picoseconds in 64 bits: 1 cycle = 1000 units, so about 1.8e16 cycles
  // at most. Refuse a run whose serial upper bound (every op's compute and memory time back to
  // back) could come near that, rather than let time wrap.
  double bound = 0;
  const double bw = peak_dram_bytes_per_cycle();
  for (const OpPlan& p : plans)
    bound += double(std::max(p.cost.compute_cycles, p.folds * p.fold_cycles)) +
             double(p.first_fold_extra_cycles) +
             (double(p.cost.dram_read_bytes) + double(p.cost.dram_write_bytes)) / bw +
             2.0 * double(spec_.dram.latency_cycles) * double(std::max<std::int64_t>(p.folds, 1));
  if (bound > 1e15) {
    // As a double: the bound itself may be past 2^63 (converting it would be undefined).
    std::ostringstream up_to;
    up_to << std::setprecision(4) << bound;
    throw ConfigError(spec_.file.string() + ": this run could take up to " + up_to.str() +
                      " cycles, more than the 1e15 the simulator's time can hold; use a smaller "
                      "workload or a faster system");
  }
  if (spec_.dram.dram) {
    // Every tensor must have a home in the command-level DRAM.
    std::uint64_t extent = 0;
    for (const Tensor& t : g.tensors)
      extent = std::max(extent, t.address + std::uint64_t(t.bytes));
    const std::uint64_t cap = std::uint64_t(spec_.dram.dram->org.capacity_bytes());
    if (extent > cap)
      throw ConfigError(spec_.file.string() + ": system.memory.dram: the workload's tensors need " +
                        std::to_string(extent) + " bytes of DRAM, the DRAM holds " +
                        std::to_string(cap) + " (" + std::to_string(extent - cap) +
                        " bytes short); give it more channels, ranks or rows");
  }
  engine_ = run_engine(spec_.dram, stats_, units, g, unit_of, plans, records,
                       {spec_.schedule, spec_.prefetch, record_memory});
  for (std::size_t i = 0; i < g.size(); ++i) {
    OpRecord& r = records[i];
    const Unit& u = *units[std::size_t(unit_of[i])];
    std::int64_t dram = r.cost.dram_read_bytes + r.cost.dram_write_bytes;
    r.intensity = dram ? double(r.cost.flops) / double(dram) : 0.0;
    r.peak_flops_per_cycle = u.peak_flops_per_cycle();
    r.attained_flops_per_cycle = r.cost.cycles ? double(r.cost.flops) / double(r.cost.cycles) : 0.0;
    r.utilization = r.attained_flops_per_cycle / r.peak_flops_per_cycle;
    // Ridge point: peak FLOPs per cycle over peak DRAM bytes per cycle.
    r.memory_bound = dram > 0 && r.intensity < r.peak_flops_per_cycle / bw;
  }
  return records;
}

void check_mapping(const config::SystemSpec& s, const ModelSpec& m, const WorkloadSpec& w) {
  const System sys(s);
  // The first pass (prefill or decode), the first decode step after a prompt, the last pass.
  const int last = std::max(0, w.passes() - 1);
  for (int step : {0, std::min(1, last), last})
    for (const Op& op : lower_forward(m, w, step, s.attention))
      sys.map(op);
}

void check_mapping(const config::SystemSpec& s) {
  const System sys(s);
  ModelSpec m;
  m.name = "mapping-probe";
  m.dim = 128, m.hidden_dim = 256, m.n_layers = 1, m.n_heads = 4, m.n_kv_heads = 2;
  m.vocab_size = 256, m.seq_len = 64;
  WorkloadSpec prefill, decode;
  prefill.name = "probe-prefill", prefill.phase = Phase::prefill, prefill.prompt_len = 16;
  decode.name = "probe-decode", decode.phase = Phase::decode, decode.context_len = 16;
  // Per op kind: whether some probe op of it maps, and the first refusal.
  std::map<std::string, std::string> refused;
  std::set<std::string> mapped;
  for (const char* scheme : {"fp32", "w8a8-g64"}) {
    m.quant = parse_scheme(scheme);
    for (const WorkloadSpec* w : {&prefill, &decode})
      for (const Op& op : lower_forward(m, *w, 0, s.attention)) {
        const std::string kind(to_string(op.kind));
        try {
          sys.map(op);
          mapped.insert(kind);
        } catch (const ConfigError& e) {
          refused.emplace(kind, e.what());
        }
      }
  }
  for (const auto& [kind, why] : refused)
    if (!mapped.count(kind))
      throw ConfigError(why + " (no unit the mapping names can run any " + kind + " op)");
}

RunTotals System::totals(const std::vector<OpRecord>& records) const {
  RunTotals t;
  using checked::accumulate;
  for (const OpRecord& r : records) {
    t.cycles = std::max(t.cycles, r.end_cycle);
    accumulate(t.compute_cycles, r.cost.compute_cycles, "the run's compute cycles");
    accumulate(t.stall_cycles, r.cost.stall_cycles, "the run's stall cycles");
    accumulate(t.macs, r.cost.macs, "the run's MACs");
    accumulate(t.flops, r.cost.flops, "the run's FLOPs");
    accumulate(t.dram_bytes, r.cost.dram_read_bytes, "the run's DRAM bytes");
    accumulate(t.dram_bytes, r.cost.dram_write_bytes, "the run's DRAM bytes");
    accumulate(t.sram_bytes, r.cost.sram_read_bytes, "the run's SRAM bytes");
    accumulate(t.sram_bytes, r.cost.sram_write_bytes, "the run's SRAM bytes");
    t.energy_pj_by_component[r.unit + ".compute"] += r.cost.compute_pj;
    t.energy_pj_by_component[r.unit + ".sram"] += r.cost.sram_pj;
    t.energy_pj_by_component["dram"] += r.cost.dram_pj;
    t.dynamic_pj += r.cost.energy_pj();
  }
  // Leakage: mW x ns = pJ, over the whole run, for every unit and the global buffer.
  double leak_mw =
      spec_.global_buffer_kib * spec_.tech.sram_area_mm2_per_kib * spec_.tech.leakage_mw_per_mm2;
  for (const auto& u : units_)
    leak_mw += u->leakage_mw();
  t.leakage_pj = leak_mw * ns(t.cycles);
  t.energy_pj_by_component["leakage"] = t.leakage_pj;
  return t;
}

}  // namespace qaccel
