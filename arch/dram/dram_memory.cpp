// The `dram` memory model: the command-level DRAM engine behind the TLM socket.
//
// A transaction (a fold- or op-sized burst) is cut into DRAM transactions of tx_bytes; each
// channel takes its share in address order through its own port, one request per DRAM cycle
// while its queues have room, from the cycle the transaction arrives (or the channel's own
// time, if it is still busy with earlier requests). The engine then runs until every one of
// them has completed: requests are served whole in arrival order (fcfs across transactions,
// FR-FCFS among the DRAM requests of one transaction), so the target answers at once with the
// completion time, like the simple model's fcfs. Two units' streams therefore do not
// interleave at the banks; they queue behind each other.
//
// Time: DRAM cycle d is d x tCK; system cycles are ceil(ns x clock_ghz).
#include <algorithm>
#include <cmath>

#include "arch/common/memory.hpp"
#include "arch/dram/dram.hpp"
#include "sim/base/error.hpp"

namespace qaccel {

namespace {

using i64 = std::int64_t;
using dram::Dram;

class DramMemory final : public MemoryTarget {
 public:
  DramMemory(const DramSpec& spec, StatsRegistry& stats)
      : MemoryTarget("memory", spec, stats),
        dram_(*spec.dram),
        ns_per_dram_cycle_(spec.dram->tck_ns()),
        activates_(stats.at("dram.activates")),
        hits_(stats.at("dram.row_hits")),
        misses_(stats.at("dram.row_misses")),
        conflicts_(stats.at("dram.row_conflicts")),
        refreshes_(stats.at("dram.refreshes")),
        energy_(stats.at("dram.command_energy_pj")) {}
  bool answers_at_once() const override { return true; }

 protected:
  i64 reserve(int id, bool write, std::uint64_t address, i64 bytes, i64 at, bool) override {
    // The workload's extent was checked against the capacity before the run.
    QACCEL_ASSERT(
        address + std::uint64_t(bytes) <= std::uint64_t(dram_.config().org.capacity_bytes()),
        "a transaction beyond the DRAM capacity");
    const i64 done = dram_.serve(address, bytes, write, to_dram(at));
    const i64 done_sys = to_system(done);
    served(id, write, bytes, at, done_sys);
    update_stats(done);
    return std::max(done_sys, at + 1);
  }

  // A PIM kernel: the kernel's length in system cycles becomes DRAM cycles on every channel.
  i64 hold(int id, i64 at, i64 cycles) override {
    const i64 dram_cycles =
        i64(std::ceil(double(cycles) / spec_.clock_ghz / ns_per_dram_cycle_ - 1e-9));
    const i64 end = dram_.hold_all(to_dram(at), dram_cycles);
    const i64 done = std::max(to_system(end), at + cycles);
    served(id, false, 0, done - cycles, done);
    update_stats(end);
    return done;
  }

 private:
  i64 to_dram(i64 system_cycle) const {
    return i64(std::ceil(double(system_cycle) / spec_.clock_ghz / ns_per_dram_cycle_ - 1e-9));
  }
  i64 to_system(i64 dram_cycle) const {
    return i64(std::ceil(double(dram_cycle) * ns_per_dram_cycle_ * spec_.clock_ghz - 1e-9));
  }
  void update_stats(i64 now_dram) {
    const dram::DramTotals t = dram_.totals(now_dram);
    activates_ = double(t.sum.commands[int(dram::Cmd::ACT)]);
    hits_ = double(t.sum.row_hits);
    misses_ = double(t.sum.row_misses);
    conflicts_ = double(t.sum.row_conflicts);
    refreshes_ =
        double(t.sum.commands[int(dram::Cmd::REFab)] + t.sum.commands[int(dram::Cmd::REFpb)]);
    energy_ = t.energy_pj();
  }

  Dram dram_;
  double ns_per_dram_cycle_;
  double &activates_, &hits_, &misses_, &conflicts_, &refreshes_, &energy_;
};

const RegisterMemory reg({"dram",
                          "command-level DRAM (memory.dram: a DRAM file naming a preset): "
                          "banks, rows, JEDEC timing, FR-FCFS controllers, refresh",
                          [](const DramSpec& s,
                             StatsRegistry& st) -> std::unique_ptr<MemoryTarget> {
                            QACCEL_ASSERT(s.dram, "memory model dram without a DRAM description");
                            return std::make_unique<DramMemory>(s, st);
                          }});

}  // namespace

}  // namespace qaccel
