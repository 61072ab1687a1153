#include "sim/simulate.hpp"

#include "sim/base/error.hpp"
#include "workloads/graph.hpp"

namespace qaccel {

namespace {

void finish(System& sys, SimResult& r, double tokens) {
  r.units = sys.engine().units;
  r.memory = sys.engine().memory;
  r.deadlock = sys.engine().deadlock;
  r.ops = sys.engine().ops;
  sys.finish_totals(r.totals);
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
}

// Each record as it comes: into the totals, to the caller's observer, into the log.
std::function<void(const OpRecord&)> consumer(System& sys, SimResult& r, const SimOptions& o) {
  return [&sys, &r, &o](const OpRecord& rec) {
    sys.add_to_totals(r.totals, rec);
    if (o.on_record) o.on_record(rec);
    if (o.keep_records) r.records.add(rec);
  };
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

SimResult simulate(System& sys, const ModelSpec& m, const WorkloadSpec& w,
                   const SimOptions& options) {
  const std::int64_t n = count_ops(m, w, sys.spec().attention);
  const std::int64_t cap = options.keep_records ? kMaxKeptOps : kMaxRunOps;
  if (n > cap)
    throw ConfigError("model '" + m.name + "', workload '" + w.name + "': " + std::to_string(n) +
                      " ops to simulate, more than " + std::to_string(cap) +
                      (options.keep_records
                           ? " with every op's record kept (a sweep, --json, --ops-csv, "
                             "--trace-json or --functional keep them); run it without those"
                           : " in one run") +
                      ", or use fewer generated tokens or layers, or per_layer attention");
  SimResult r;
  sys.run(m, w, consumer(sys, r, options), options.record_memory);
  finish(sys, r, double(w.batch) * w.processed_tokens());
  return r;
}

SimResult simulate_graph(System& sys, const OpGraph& g, const SimOptions& options) {
  SimResult r;
  const auto take = consumer(sys, r, options);
  for (const OpRecord& rec : sys.run(g, options.record_memory))
    take(rec);
  finish(sys, r, 0);
  return r;
}

}  // namespace qaccel
