#include "sim/system.hpp"

#include <systemc>

#include "sim/base/error.hpp"

// libsystemc references sc_main; qaccel drives the kernel from its own main().
int sc_main(int, char**) {
  return 0;
}

namespace qaccel {

System::System(const config::SystemSpec& spec) : spec_(spec) {
  dram_ = std::make_unique<BandwidthDram>(spec_.dram, stats_);
  ctx_ = std::make_unique<UnitContext>(UnitContext{spec_.tech, *dram_,
                                                   spec_.tech.dram(spec_.dram.kind), stats_,
                                                   spec_.global_buffer_kib * 1024});
  units_ = config::build_units(spec_, *ctx_);
}

Unit& System::unit(const std::string& name) const {
  for (const auto& u : units_)
    if (u->name() == name) return *u;
  QACCEL_ASSERT(false, "no unit named " + name);
  return *units_.front();
}

Unit& System::map(const Op& op, std::string* how) const {
  std::string kind(to_string(op.kind)), why;
  auto rule = spec_.mapping.find(kind);
  if (rule != spec_.mapping.end()) {
    Unit& u = unit(rule->second);
    if (u.supports(op, &why)) {
      if (how) *how = "rule:" + kind;
      return u;
    }
  }
  Unit& d = unit(spec_.mapping.at("default"));
  std::string why_default;
  if (!d.supports(op, &why_default))
    throw ConfigError(spec_.file.string() + ": no unit can run op " + op.name + " (" + kind + ", " +
                      op.dtype + "): default unit '" + d.name() + "': " + why_default);
  if (how) *how = rule == spec_.mapping.end() ? "default" : "fallback: " + rule->second + " " + why;
  return d;
}

double System::area_mm2() const {
  double a = spec_.global_buffer_kib * spec_.tech.sram_area_mm2_per_kib;
  for (const auto& u : units_)
    a += u->area_mm2();
  return a;
}

namespace {

// The SystemC top: one driver thread walks the op list; each op asks its unit for the exact
// cycle count and waits once (loosely timed, no clock). The exact cycle counter is kept in
// integers; SystemC time follows it at the configured period.
SC_MODULE(Driver) {
  const System* sys = nullptr;
  const std::vector<std::vector<Op>>* passes = nullptr;
  std::vector<OpRecord>* out = nullptr;
  sc_core::sc_time period;
  std::int64_t cycle = 0;

  SC_CTOR(Driver) {
    SC_THREAD(run);
  }

  void run() {
    for (std::size_t s = 0; s < passes->size(); ++s)
      for (const Op& op : (*passes)[s]) {
        OpRecord r;
        r.op = op, r.step = int(s), r.start_cycle = cycle;
        Unit& u = sys->map(op, &r.mapped_by);
        r.unit = u.name();
        r.cost = u.execute(op, cycle);
        cycle += r.cost.cycles;
        wait(period * double(r.cost.cycles));
        out->push_back(std::move(r));
      }
  }
};

}  // namespace

std::vector<OpRecord> System::run(const std::vector<std::vector<Op>>& passes) {
  std::vector<OpRecord> records;
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  Driver driver("driver");
  driver.sys = this, driver.passes = &passes, driver.out = &records;
  driver.period = sc_core::sc_time(1.0 / spec_.clock_ghz, sc_core::SC_NS);
  sc_core::sc_start();
  QACCEL_ASSERT(
      records.size() ==
          [&] {
            std::size_t n = 0;
            for (const auto& p : passes)
              n += p.size();
            return n;
          }(),
      "the driver did not run every op");
  const double bw = dram_->peak_bytes_per_cycle();
  for (OpRecord& r : records) {
    const Unit& u = unit(r.unit);
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

RunTotals System::totals(const std::vector<OpRecord>& records) const {
  RunTotals t;
  for (const OpRecord& r : records) {
    t.cycles += r.cost.cycles, t.compute_cycles += r.cost.compute_cycles,
        t.stall_cycles += r.cost.stall_cycles;
    t.macs += r.cost.macs, t.flops += r.cost.flops;
    t.dram_bytes += r.cost.dram_read_bytes + r.cost.dram_write_bytes;
    t.sram_bytes += r.cost.sram_read_bytes + r.cost.sram_write_bytes;
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
