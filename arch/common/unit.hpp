#pragma once
// The interface every hardware family implements (DESIGN.md "Unit"), and the registry that
// builds units by name from YAML (`impl: systolic`), Ramulator-style: one file per
// implementation, registered in one line.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "arch/common/params.hpp"
#include "arch/common/stats.hpp"
#include "arch/common/tech.hpp"
#include "workloads/ops.hpp"
#include "workloads/quant.hpp"

namespace qaccel {

struct DramSpec;  // arch/common/memory.hpp

// What the units of a system share.
struct UnitContext {
  const TechSpec& tech;
  double dram_pj_per_byte;
  StatsRegistry& stats;
  // Activations between ops stay on chip when an op's activation bytes fit this buffer;
  // larger ones stream through DRAM.
  std::int64_t global_buffer_bytes;
  // The system's off-chip memory (PIM units compute inside it).
  const DramSpec* memory = nullptr;
  double clock_ghz = 1.0;
};

// Timing, traffic and energy of one op on one unit.
struct OpCost {
  std::int64_t cycles = 0;          // compute + stall
  std::int64_t compute_cycles = 0;  // the unit computing (for the array: SCALE-Sim's figure)
  std::int64_t stall_cycles = 0;    // waiting for off-chip memory
  std::int64_t macs = 0;
  std::int64_t flops = 0;
  std::int64_t dram_read_bytes = 0, dram_write_bytes = 0;
  std::int64_t sram_read_bytes = 0, sram_write_bytes = 0;
  double compute_pj = 0, sram_pj = 0, dram_pj = 0;
  double energy_pj() const { return compute_pj + sram_pj + dram_pj; }
};

// How an op unfolds in time on its unit. The unit's plain C++ model fills it; the unit's
// SystemC module (sim/engine) plays it out: it issues the DRAM transfers through the memory
// socket at the simulated time they happen and measures cycles and exposed stalls.
//  - folds: `folds` compute steps of `fold_cycles` (the last `last_fold_cycles`, the first
//    `first_fold_extra_cycles` more); the op's DRAM
//    reads are split evenly over the folds, fold 0's fetched before it starts and fold f+1's
//    during fold f (double buffering); the writes leave after the last fold.
//  - stream: `fold_cycles` of compute overlapped with one read stream; the writes follow the
//    reads; the op ends when both compute and memory are done.
struct OpPlan {
  enum class Timing { folds, stream };
  OpCost cost;  // work, traffic and energy; cost.cycles and cost.stall_cycles stay 0 here
  Timing timing = Timing::stream;
  std::int64_t folds = 1, fold_cycles = 0, last_fold_cycles = 0, first_fold_extra_cycles = 0;
  std::int64_t read_bytes() const { return cost.dram_read_bytes; }
  std::int64_t write_bytes() const { return cost.dram_write_bytes; }
  // The DRAM reads are weights only (no input of the op), so they may be fetched early.
  bool prefetchable = false;
  // Buffer space this op leaves free during its last fold, for the next op's weights.
  std::int64_t prefetch_capacity_bytes = 0;
  // PIM (stream timing): the op drives the memory itself for this many cycles, every channel,
  // from when the memory takes its request (other requests wait, as it waits for them).
  std::int64_t memory_hold_cycles = 0;
};

class Unit {
 public:
  Unit(std::string name, UnitContext& ctx) : name_(std::move(name)), ctx_(ctx) {}
  virtual ~Unit() = default;
  const std::string& name() const { return name_; }
  virtual std::string_view impl() const = 0;
  // False (with the reason) when the unit cannot run the op at all.
  virtual bool supports(const Op& op, std::string* why) const = 0;
  // Called before plan() for each block of ops the run takes in turn (a whole graph, or one
  // pass of a workload), with the block's ops mapped to this unit in program order; plan() then
  // comes for the same ops in the same order. A unit that lays whole layers out in space (the
  // RDU) maps them here; the others plan op by op.
  virtual void prepare(const std::vector<const Op*>& ops) { (void)ops; }
  // The op's timing plan, traffic and energy (deterministic: the same op, the same plan). Also
  // counts the op in the unit's own stats; called once per op before the simulation runs.
  virtual OpPlan plan(const Op& op) = 0;
  virtual double peak_flops_per_cycle() const = 0;
  virtual double area_mm2() const = 0;
  double leakage_mw() const { return area_mm2() * ctx_.tech.leakage_mw_per_mm2; }
  // Functional quantized matmul: out (rows x w.rows) from activations quantized per row.
  // Returns false when the unit has no functional matmul path.
  virtual bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
                      std::vector<float>& out) {
    (void)rows, (void)w, (void)out;
    return false;
  }

 protected:
  std::string name_;
  UnitContext& ctx_;
};

// Builds a unit from its declared parameters, already read and checked (build_units calls it
// only when every value passed). May still throw ConfigError for a combination it refuses.
using UnitFactory = std::function<std::unique_ptr<Unit>(
    const std::string& name, const ParamValues& params, UnitContext& ctx)>;

struct UnitInfo {
  std::string impl, summary;
  ParamSet params;  // every key `system.units.NAME` may hold besides `impl`
  UnitFactory make;
};

// name -> info of every registered implementation.
std::map<std::string, UnitInfo>& unit_registry();

struct RegisterUnit {
  explicit RegisterUnit(UnitInfo info);
};

// `qaccel list`'s unit section, from the declarations: aligned text, or one Markdown table per
// implementation (the README's "Unit parameters" block is this output).
std::string units_text();
std::string units_markdown();

}  // namespace qaccel
