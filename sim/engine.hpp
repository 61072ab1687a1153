#pragma once
// The concurrent SystemC core (DESIGN.md "sim/"): one module per unit, each with its own thread,
// op queue and DMA initiator socket; a scheduler module that issues each op when its inputs are
// ready and its unit is free; the memory target that arbitrates the units' transactions.
// Cycle behaviour stays in the units' plain C++ models (OpPlan); the modules own time.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arch/common/memory.hpp"
#include "arch/common/unit.hpp"
#include "workloads/graph.hpp"

namespace qaccel {

enum class Schedule { overlap, serial };
enum class Prefetch { none, next_op };
// Their names as the system file spells them.
inline std::string_view to_string(Schedule s) {
  return s == Schedule::serial ? "serial" : "overlap";
}
inline std::string_view to_string(Prefetch p) {
  return p == Prefetch::next_op ? "next_op" : "none";
}

// One op as it ran.
struct OpRecord {
  Op op;
  int step = 0;           // which pass (decode step)
  std::string unit;       // where it ran
  std::string mapped_by;  // "rule:matmul", "default", "fallback (reason)"
  OpCost cost;            // cost.cycles = end - start; cost.stall_cycles = exposed memory stall
  std::int64_t ready_cycle = 0;  // its inputs were all there
  std::int64_t start_cycle = 0, end_cycle = 0;
  // What it waited for, comma-separated: first what set its start ("input": it started when
  // its last input arrived; "unit": its unit was busy past that; "order": the serial schedule
  // held it), then "memory" when it stalled on off-chip memory while running. "" for an op
  // that started at cycle 0 and never stalled.
  std::string waited_for;
  std::int64_t memory_cycles = 0;         // its DRAM transfers, issue to completion, summed
  std::int64_t hidden_memory_cycles = 0;  // memory_cycles not exposed as stall
  std::int64_t prefetched_bytes = 0;      // fetched during the previous op on its unit
  // Roofline on the unit it ran on (FLOPs and DRAM bytes).
  double intensity = 0;  // flops per DRAM byte (0 when no DRAM traffic)
  double attained_flops_per_cycle = 0;
  double peak_flops_per_cycle = 0;
  double utilization = 0;     // attained / peak
  bool memory_bound = false;  // intensity below the unit's ridge point
};

// A unit over the whole run.
struct UnitUsage {
  std::string name;
  std::int64_t ops = 0;
  std::int64_t busy_cycles = 0;     // computing (the ops' compute cycles)
  std::int64_t stalled_cycles = 0;  // holding an op while waiting for memory
  std::int64_t idle_cycles = 0;     // no op: makespan - busy - stalled
  double utilization = 0;           // busy / makespan
};

struct EngineOptions {
  Schedule schedule = Schedule::overlap;
  Prefetch prefetch = Prefetch::none;
  bool record_memory = false;  // keep the memory's busy stretches (for trace counters)
};

struct EngineResult {
  // Empty, or the deadlock report: the ops that never finished and what each waits for (a
  // simulator bug; the caller raises it as an InternalError outside the simulation).
  std::string deadlock;
  std::int64_t makespan_cycles = 0;
  std::int64_t ops = 0;  // ops finished
  std::vector<UnitUsage> units;
  std::vector<MemoryBusy> memory;
};

// Registers the statistics the engine counts (the memory's and each unit's time and DMA).
void declare_engine_stats(StatsRegistry& stats, const std::vector<Unit*>& units);

// Ops handed to the engine, mapped and planned: global indices [first, first + size()) in
// program order. A workload comes one pass per block, so a long decode never holds all its ops.
struct OpBlock {
  std::int64_t first = 0;
  std::vector<OpRecord> records;  // op, step, unit and mapped_by set; ready_cycle: the floor
                                  // its already retired inputs set (0 when none)
  std::vector<OpPlan> plans;
  std::vector<int> unit_of;
  std::vector<std::vector<std::int64_t>> preds;  // global, ascending; none already retired
  std::vector<std::uint64_t> read_address, write_address;
  // The serial schedule's order of this block's ops (global); empty: program order.
  std::vector<std::int64_t> serial_order;
  std::size_t size() const { return records.size(); }
};

// Where the engine's ops come from. It asks for the next block while the blocks it holds are
// at most two ahead of the newest one running (so an op's successors and its unit's next op
// of the next pass are there when it starts), and hands each block back once all its ops have
// finished. Both calls come between simulated instants, never inside a SystemC process, so
// they may throw: the run then stops and the exception leaves run_engine.
class OpSource {
 public:
  virtual ~OpSource() = default;
  // Fills `b` with the next block (its `first` already set); false when none is left.
  virtual bool next(OpBlock& b) = 0;
  // A finished block's records in op order, complete (the source may move them out).
  virtual void retire(std::vector<OpRecord>& records) = 0;
};

// Runs the source's ops: one SystemC elaboration, so once per process. A deadlock (ops left,
// nothing runnable) comes back in EngineResult::deadlock; the blocks finished before it are
// retired.
EngineResult run_engine(const DramSpec& dram, StatsRegistry& stats, const std::vector<Unit*>& units,
                        OpSource& source, const EngineOptions& options);

}  // namespace qaccel
