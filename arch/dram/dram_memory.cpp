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
        cursor_(std::size_t(dram_.channels()), 0),
        activates_(stats.at("dram.activates")),
        hits_(stats.at("dram.row_hits")),
        misses_(stats.at("dram.row_misses")),
        conflicts_(stats.at("dram.row_conflicts")),
        refreshes_(stats.at("dram.refreshes")),
        energy_(stats.at("dram.command_energy_pj")) {}
  bool answers_at_once() const override { return true; }

 protected:
  i64 reserve(int id, bool write, std::uint64_t address, i64 bytes, i64 at, bool) override {
    const std::uint64_t capacity = std::uint64_t(dram_.config().org.capacity_bytes());
    const i64 tx = dram_.config().org.tx_bytes;
    const i64 arrive = to_dram(at);
    std::uint64_t a = address - address % std::uint64_t(tx);
    const std::uint64_t end = address + std::uint64_t(bytes);
    std::fill(cursor_.begin(), cursor_.end(), -1);
    i64 done = arrive;
    for (; a < end; a += std::uint64_t(tx)) {
      // The workload's extent was checked against the capacity before the run.
      QACCEL_ASSERT(a < capacity, "a transaction beyond the DRAM capacity");
      const dram::Request r = dram_.request(a, write, next_id_++);
      const int k = dram_.channel_of(a);
      dram::Channel& ch = dram_.channel(k);
      i64& c = cursor_[std::size_t(k)];
      if (c < 0) c = std::max(arrive, ch.now());
      dram_.advance(k, c);
      while (!ch.has_room(write)) {
        c = std::max(c + 1, ch.next_event());
        dram_.advance(k, c);
      }
      ch.enqueue(r, c);
      ++c;
      done = std::max(done, collect(ch));
    }
    for (int k = 0; k < dram_.channels(); ++k) {
      if (cursor_[std::size_t(k)] < 0) continue;
      dram::Channel& ch = dram_.channel(k);
      while (ch.busy())
        ch.step_to(ch.next_event());
      done = std::max(done, collect(ch));
    }
    const i64 begin_sys = at, done_sys = to_system(done);
    served(id, write, bytes, begin_sys, done_sys);
    update_stats(done);
    return std::max(done_sys, at + 1);
  }

 private:
  i64 to_dram(i64 system_cycle) const {
    return i64(std::ceil(double(system_cycle) / spec_.clock_ghz / ns_per_dram_cycle_ - 1e-9));
  }
  i64 to_system(i64 dram_cycle) const {
    return i64(std::ceil(double(dram_cycle) * ns_per_dram_cycle_ * spec_.clock_ghz - 1e-9));
  }
  i64 collect(dram::Channel& ch) {
    i64 last = 0;
    for (const dram::Completion& d : ch.completions())
      last = std::max(last, d.done_cycle);
    ch.completions().clear();
    return last;
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
  std::vector<i64> cursor_;  // per channel: the next cycle its port may offer a request
  std::uint64_t next_id_ = 0;
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
