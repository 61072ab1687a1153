#pragma once
// The simulated system: units built from a SystemSpec, a shared memory port, a mapper that
// places each op on a unit, and a SystemC top that runs op lists in simulated time.
#include <memory>
#include <string>
#include <vector>

#include "arch/common/memory.hpp"
#include "arch/common/stats.hpp"
#include "arch/common/unit.hpp"
#include "sim/config/config.hpp"
#include "workloads/ops.hpp"

namespace qaccel {

// One op as it ran.
struct OpRecord {
  Op op;
  int step = 0;           // which pass (decode step)
  std::string unit;       // where it ran
  std::string mapped_by;  // "rule:matmul", "default", "fallback (reason)"
  OpCost cost;
  std::int64_t start_cycle = 0;
  // Roofline on the unit it ran on (FLOPs and DRAM bytes).
  double intensity = 0;  // flops per DRAM byte (0 when no DRAM traffic)
  double attained_flops_per_cycle = 0;
  double peak_flops_per_cycle = 0;
  double utilization = 0;     // attained / peak
  bool memory_bound = false;  // intensity below the unit's ridge point
};

struct RunTotals {
  std::int64_t cycles = 0, compute_cycles = 0, stall_cycles = 0, macs = 0, flops = 0;
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
  double peak_dram_bytes_per_cycle() const { return dram_->peak_bytes_per_cycle(); }
  double ns(std::int64_t cycles) const { return double(cycles) / spec_.clock_ghz; }

  // Runs the passes back to back in simulated time (one SystemC elaboration: once per process).
  std::vector<OpRecord> run(const std::vector<std::vector<Op>>& passes);
  RunTotals totals(const std::vector<OpRecord>& records) const;
  StatsRegistry& stats() { return stats_; }

 private:
  config::SystemSpec spec_;
  StatsRegistry stats_;
  std::unique_ptr<BandwidthDram> dram_;
  std::unique_ptr<UnitContext> ctx_;
  std::vector<std::unique_ptr<Unit>> units_;
};

}  // namespace qaccel
