#pragma once
// The simulated system: units built from a SystemSpec, a shared memory port, a mapper that
// places each op on a unit, and a SystemC top that runs op lists in simulated time.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch/common/memory.hpp"
#include "arch/common/stats.hpp"
#include "arch/common/unit.hpp"
#include "sim/config/config.hpp"
#include "sim/engine.hpp"
#include "workloads/graph.hpp"
#include "workloads/ops.hpp"

namespace qaccel {

struct RunTotals {
  std::int64_t cycles = 0;  // the makespan: the last op's end
  // Sums over the ops (with overlap they add up to more than the makespan).
  std::int64_t compute_cycles = 0, stall_cycles = 0, macs = 0, flops = 0;
  std::int64_t dram_bytes = 0, sram_bytes = 0;
  double dynamic_pj = 0, leakage_pj = 0;
  std::map<std::string, double>
      energy_pj_by_component;  // "mxu.compute", "mxu.sram", "dram", "leakage"
};

class System {
 public:
  explicit System(const config::SystemSpec& spec);
  const config::SystemSpec& spec() const { return spec_; }
  const std::vector<std::unique_ptr<Unit>>& units() const { return units_; }
  Unit& unit(const std::string& name) const;
  // The unit an op goes to: the rule for its kind, else the default; a unit that cannot run
  // it falls back to the default. Throws ConfigError if neither can.
  Unit& map(const Op& op, std::string* how = nullptr) const;
  double area_mm2() const;
  double peak_dram_bytes_per_cycle() const { return spec_.dram.peak_bytes_per_cycle(); }
  double ns(std::int64_t cycles) const { return double(cycles) / spec_.clock_ghz; }

  // Maps every op, plans it on its unit and runs the graph under the spec's schedule (one
  // SystemC elaboration: once per process). Throws ConfigError when an op has no unit.
  std::vector<OpRecord> run(const OpGraph& g, bool record_memory = false);
  // The same for every pass of a workload, lowered, mapped and planned pass by pass as the
  // engine takes them: each op's record goes to `sink` in op order once its pass has finished,
  // so memory stays bounded however many passes there are. The same records as run() on
  // lower_workload's graph. Errors of a later pass come out mid-run (the records already given
  // to the sink stand).
  void run(const ModelSpec& m, const WorkloadSpec& w,
           const std::function<void(const OpRecord&)>& sink, bool record_memory = false);
  // Per-unit usage, makespan and memory timeline of the last run.
  const EngineResult& engine() const { return engine_; }
  RunTotals totals(const std::vector<OpRecord>& records) const;
  // The same one record at a time: add each, then finish (leakage over the makespan).
  void add_to_totals(RunTotals& t, const OpRecord& r) const;
  void finish_totals(RunTotals& t) const;
  StatsRegistry& stats() { return stats_; }

 private:
  config::SystemSpec spec_;
  StatsRegistry stats_;
  std::unique_ptr<UnitContext> ctx_;
  EngineResult engine_;
  std::vector<std::unique_ptr<Unit>> units_;
};

// Checks the mapping before any simulation, as `qaccel validate` does: every op of the
// workload's first and last pass (the passes differ only in context length) goes to a unit that
// can run it. Throws System::map's ConfigError naming the op and why no unit takes it.
void check_mapping(const config::SystemSpec& s, const ModelSpec& m, const WorkloadSpec& w);
// Without a workload: every op kind of a small probe model (float32 and w8a8, prefill and
// decode) must reach a unit that runs some op of that kind; a kind no unit can take (say, a
// systolic array as the default unit, which runs no norms) is a ConfigError.
void check_mapping(const config::SystemSpec& s);

}  // namespace qaccel
