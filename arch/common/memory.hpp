#pragma once
// Off-chip memory as a TLM-2.0 target (DESIGN.md "Memory"). Every unit's DMA is an initiator
// bound to the target's multi-socket; a transaction is a tile- or fold-sized burst whose data
// length is its byte count (timing only: the target never touches the data pointer). Memory
// models register by name (`memory.model: simple`), Ramulator-style, so a command-level DRAM
// can replace the bandwidth model with no unit changed.
//
// Simulated time: one cycle of the system clock is 1 ns of SystemC time, whatever the clock
// frequency (reports convert cycles to ns with clock_ghz); integer cycles stay exact.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <tlm_utils/multi_passthrough_target_socket.h>
#include <systemc>
#include <tlm>

#include "arch/common/stats.hpp"
#include "arch/dram/spec.hpp"

namespace qaccel {

inline sc_core::sc_time cycles_time(std::int64_t cycles) {
  return sc_core::sc_time::from_value(sc_dt::uint64(cycles) * 1000u);
}
inline std::int64_t to_cycles(const sc_core::sc_time& t) {
  return std::int64_t(t.value() / 1000u);
}
inline std::int64_t now_cycle() {
  return to_cycles(sc_core::sc_time_stamp());
}

enum class Arbitration { fcfs, round_robin };

struct DramSpec {
  std::string model = "simple";  // registered memory model
  std::string kind = "lpddr4";   // energy lookup key in the tech table
  int channels = 1;
  double bytes_per_cycle_per_channel = 16;  // at the system clock
  std::int64_t latency_cycles = 100;
  Arbitration arbitration = Arbitration::fcfs;
  std::int64_t burst_bytes = 4096;  // arbitration granularity (round robin)
  // model `dram`: the command-level DRAM (channels, bandwidth and latency above follow from
  // it) and the system clock it is seen from.
  std::shared_ptr<const dram::DramConfig> dram;
  double clock_ghz = 1.0;
  double peak_bytes_per_cycle() const { return channels * bytes_per_cycle_per_channel; }
};

// What a transaction carries besides command, address and length.
struct MemRequestExt : tlm::tlm_extension<MemRequestExt> {
  // The request opens a stream and pays the access latency; one that continues a stream of
  // pipelined requests (a DMA fetching fold after fold) does not.
  bool opens_stream = false;
  // A train: `count` requests of data_length bytes each, continuing a stream, from a DMA one
  // step ahead of a consumer that takes `consumer_cycles` per step: request k + 1 is issued
  // when step k may begin, max(issue_k + consumer_cycles, done_k). Only targets that answer
  // at once take trains; the delay answers the last request's completion.
  std::int64_t count = 1, consumer_cycles = 0;
  // Answers of a train: when step `count` may begin, and the sum over the requests of
  // completion minus issue.
  std::int64_t next_issue_cycle = 0, memory_cycles = 0;
  // A PIM kernel: the initiator drives every channel itself for this many cycles.
  std::int64_t hold_cycles = 0;
  tlm::tlm_extension_base* clone() const override { return new MemRequestExt(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override {
    *this = static_cast<const MemRequestExt&>(o);
  }
};

// One stretch of time the memory moved data (for bandwidth counters in traces). Stretches that
// follow within 1/16384 of the time so far are recorded as one (bytes summed, the idle cycles
// between them inside; initiator -1 when they came from different initiators).
struct MemoryBusy {
  std::int64_t begin_cycle = 0, end_cycle = 0, bytes = 0;
  int initiator = 0;
};

class MemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<MemoryTarget> socket;

  MemoryTarget(const sc_core::sc_module_name& name, const DramSpec& spec, StatsRegistry& stats);
  const DramSpec& spec() const { return spec_; }
  double peak_bytes_per_cycle() const { return spec_.peak_bytes_per_cycle(); }
  // True when b_transport returns at once with the completion time in its delay (the caller
  // may go on computing); false when it blocks the caller until the data has moved.
  virtual bool answers_at_once() const = 0;
  void record_timeline(bool on) { record_ = on; }
  const std::vector<MemoryBusy>& timeline() const { return timeline_; }

 protected:
  // Blocking targets serve a request here (they may wait).
  virtual void transport(int initiator, tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
  // Targets that answer at once reserve a request arriving at cycle `at` and return its
  // completion cycle; single requests and trains both come here.
  virtual std::int64_t reserve(int initiator, bool write, std::uint64_t address, std::int64_t bytes,
                               std::int64_t at, bool opens_stream);
  // A train (see MemRequestExt) arriving at `at`. The default reserves request by request; a
  // model may answer in closed form.
  struct TrainAnswer {
    std::int64_t done_cycle = 0, next_issue_cycle = 0, memory_cycles = 0;
  };
  // Request k of a train reads `bytes` at address + k x bytes.
  virtual TrainAnswer reserve_train(int initiator, bool write, std::uint64_t address,
                                    std::int64_t bytes, std::int64_t at, std::int64_t count,
                                    std::int64_t consumer_cycles);
  // A PIM kernel arriving at `at` holds the memory for `cycles`: it starts once the memory is
  // free and returns when it ends. Blocking targets take it in transport().
  virtual std::int64_t hold(int initiator, std::int64_t at, std::int64_t cycles);
  // Counts a completed stretch of service in the stats (and the timeline when recording).
  // `busy` defaults to end - begin (a stretch of several requests may hold gaps).
  void served(int initiator, bool write, std::int64_t bytes, std::int64_t begin, std::int64_t end,
              std::int64_t busy = -1);
  // Cycles the channels need for `bytes` at full bandwidth.
  std::int64_t busy_cycles(std::int64_t bytes) const;

  DramSpec spec_;

 private:
  void b_transport(int initiator, tlm::tlm_generic_payload& t, sc_core::sc_time& delay);
  bool record_ = false;
  std::vector<MemoryBusy> timeline_;
  double &read_bytes_, &write_bytes_, &busy_, &requests_;
};

// The memory's statistics, registered when the system is built (so `qaccel list --stats` shows
// them) and counted by whichever target runs.
void declare_memory_stats(StatsRegistry& stats);

using MemoryFactory = std::function<std::unique_ptr<MemoryTarget>(const DramSpec&, StatsRegistry&)>;
struct MemoryModelInfo {
  std::string name, summary;
  MemoryFactory make;
};
std::map<std::string, MemoryModelInfo>& memory_registry();
struct RegisterMemory {
  explicit RegisterMemory(MemoryModelInfo info);
};

}  // namespace qaccel
