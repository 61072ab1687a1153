#include "sim/simulate.hpp"

#include "workloads/graph.hpp"

namespace qaccel {

namespace {

SimResult finish(System& sys, std::vector<OpRecord> recs, double tokens) {
  SimResult r;
  r.records = std::move(recs);
  r.units = sys.engine().units;
  r.memory = sys.engine().memory;
  r.deadlock = sys.engine().deadlock;
  r.totals = sys.totals(r.records);
  const RunTotals& t = r.totals;
  RunMetrics& m = r.metrics;
  m.cycles = t.cycles, m.compute_cycles = t.compute_cycles, m.stall_cycles = t.stall_cycles;
  m.macs = t.macs, m.flops = t.flops, m.dram_bytes = t.dram_bytes, m.sram_bytes = t.sram_bytes;
  const double ns = sys.ns(t.cycles);
  m.latency_ms = ns / 1e6;
  m.tokens = tokens;
  m.tokens_per_s = ns > 0 ? tokens / (ns * 1e-9) : 0;
  m.energy_pj = t.dynamic_pj + t.leakage_pj;
  m.energy_uj_per_token = tokens > 0 ? m.energy_pj / tokens / 1e6 : 0;
  m.area_mm2 = sys.area_mm2();
  m.tokens_per_s_per_mm2 = m.area_mm2 > 0 ? m.tokens_per_s / m.area_mm2 : 0;
  for (const auto& u : sys.units())
    m.peak_flops_per_cycle += u->peak_flops_per_cycle();
  m.attained_flops_per_cycle = t.cycles ? double(t.flops) / double(t.cycles) : 0;
  m.utilization =
      m.peak_flops_per_cycle > 0 ? m.attained_flops_per_cycle / m.peak_flops_per_cycle : 0;
  m.peak_dram_bytes_per_cycle = sys.peak_dram_bytes_per_cycle();
  m.attained_dram_bytes_per_cycle = t.cycles ? double(t.dram_bytes) / double(t.cycles) : 0;
  m.energy_pj_by_component = t.energy_pj_by_component;
  r.stats.assign(sys.stats().all().begin(), sys.stats().all().end());
  return r;
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {"cycles",
                                                 "compute_cycles",
                                                 "stall_cycles",
                                                 "macs",
                                                 "flops",
                                                 "dram_bytes",
                                                 "sram_bytes",
                                                 "latency_ms",
                                                 "tokens",
                                                 "tokens_per_s",
                                                 "energy_pj",
                                                 "energy_uj_per_token",
                                                 "area_mm2",
                                                 "tokens_per_s_per_mm2",
                                                 "peak_flops_per_cycle",
                                                 "attained_flops_per_cycle",
                                                 "utilization",
                                                 "peak_dram_bytes_per_cycle",
                                                 "attained_dram_bytes_per_cycle"};
  return names;
}

bool larger_is_better(const std::string& m) {
  return m == "tokens_per_s" || m == "tokens_per_s_per_mm2" || m == "utilization" ||
         m == "attained_flops_per_cycle" || m == "attained_dram_bytes_per_cycle" || m == "tokens";
}

std::map<std::string, double> metric_values(const RunMetrics& m) {
  return {{"cycles", double(m.cycles)},
          {"compute_cycles", double(m.compute_cycles)},
          {"stall_cycles", double(m.stall_cycles)},
          {"macs", double(m.macs)},
          {"flops", double(m.flops)},
          {"dram_bytes", double(m.dram_bytes)},
          {"sram_bytes", double(m.sram_bytes)},
          {"latency_ms", m.latency_ms},
          {"tokens", m.tokens},
          {"tokens_per_s", m.tokens_per_s},
          {"energy_pj", m.energy_pj},
          {"energy_uj_per_token", m.energy_uj_per_token},
          {"area_mm2", m.area_mm2},
          {"tokens_per_s_per_mm2", m.tokens_per_s_per_mm2},
          {"peak_flops_per_cycle", m.peak_flops_per_cycle},
          {"attained_flops_per_cycle", m.attained_flops_per_cycle},
          {"utilization", m.utilization},
          {"peak_dram_bytes_per_cycle", m.peak_dram_bytes_per_cycle},
          {"attained_dram_bytes_per_cycle", m.attained_dram_bytes_per_cycle}};
}

SimResult simulate(System& sys, const ModelSpec& m, const WorkloadSpec& w, bool record_memory) {
  OpGraph g = lower_workload(m, w, sys.spec().attention);
  return finish(sys, sys.run(g, record_memory), double(w.batch) * w.processed_tokens());
}

SimResult simulate_graph(System& sys, const OpGraph& g, bool record_memory) {
  return finish(sys, sys.run(g, record_memory), 0);
}

}  // namespace qaccel
