#pragma once
// One simulation of a model workload on a system, with the run-level metrics every consumer
// (the run report, the DSE database) reads. One per process: it elaborates SystemC.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim/record_log.hpp"
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
  RecordLog records;               // every op's record in op order (unless not kept)
  std::int64_t ops = 0;            // ops run (kept or not)
  std::vector<UnitUsage> units;    // per unit over the run
  std::vector<MemoryBusy> memory;  // the memory's busy stretches (when recorded)
  std::string deadlock;            // a simulator bug's report (EngineResult::deadlock), or ""
  std::vector<Stat> stats;         // every registered statistic after the run
  RunTotals totals;
  RunMetrics metrics;
};

struct SimOptions {
  bool record_memory = false;  // keep the memory's busy stretches (for trace counters)
  // Keep every record in SimResult::records (serialized, past a few MiB in a temporary file).
  // Off, a run of any length holds a few passes of ops at a time.
  bool keep_records = true;
  // Sees every op's record, in op order, as its pass finishes.
  std::function<void(const OpRecord&)> on_record;
};

// Runs every pass of the workload (a prefill, or one per generated token), pass by pass.
// Refuses more than kMaxKeptOps ops with records kept, or kMaxRunOps without (ConfigError).
SimResult simulate(System& sys, const ModelSpec& m, const WorkloadSpec& w,
                   const SimOptions& options = {});
// The same for a ready graph (layer lists), as one block: tokens are 0.
SimResult simulate_graph(System& sys, const OpGraph& g, const SimOptions& options = {});

// Kept records cost disk (about 200 bytes each) and every per-op output; a run without them
// costs only time, about 10 us per op.
constexpr std::int64_t kMaxKeptOps = 10'000'000;
constexpr std::int64_t kMaxRunOps = 1'000'000'000;

}  // namespace qaccel
