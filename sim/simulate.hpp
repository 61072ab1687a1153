#pragma once
// One simulation of a model workload on a system, with the run-level metrics every consumer
// (the run report, the DSE database) reads. One per process: it elaborates SystemC.
#include <map>
#include <string>
#include <vector>

#include "sim/system.hpp"
#include "workloads/spec.hpp"

namespace qaccel {

struct RunMetrics {
  std::int64_t cycles = 0, compute_cycles = 0, stall_cycles = 0, macs = 0, flops = 0;
  std::int64_t dram_bytes = 0, sram_bytes = 0;
  double latency_ms = 0, tokens = 0, tokens_per_s = 0;
  double energy_pj = 0, energy_uj_per_token = 0;
  double area_mm2 = 0, tokens_per_s_per_mm2 = 0;
  double peak_flops_per_cycle = 0, attained_flops_per_cycle = 0, utilization = 0;
  double peak_dram_bytes_per_cycle = 0, attained_dram_bytes_per_cycle = 0;
  std::map<std::string, double> energy_pj_by_component;
};

// Named metric values, for constraints, objectives and the database (one source of names).
std::map<std::string, double> metric_values(const RunMetrics& m);
const std::vector<std::string>& metric_names();
// True for metrics where larger is better (throughput, utilization); the rest are minimised.
bool larger_is_better(const std::string& metric);

struct SimResult {
  std::vector<OpRecord> records;
  std::vector<UnitUsage> units;    // per unit over the run
  std::vector<MemoryBusy> memory;  // the memory's busy stretches (when recorded)
  std::string deadlock;            // a simulator bug's report (EngineResult::deadlock), or ""
  std::vector<Stat> stats;         // every registered statistic after the run
  RunTotals totals;
  RunMetrics metrics;
};

// Lowers every pass of the workload (a prefill, or one per generated token) to one op graph and
// runs it. `record_memory` keeps the memory's busy stretches (for trace counters).
SimResult simulate(System& sys, const ModelSpec& m, const WorkloadSpec& w,
                   bool record_memory = false);
// The same for a ready graph (layer lists): tokens are 0.
SimResult simulate_graph(System& sys, const OpGraph& g, bool record_memory = false);

}  // namespace qaccel
