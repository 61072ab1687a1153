#include "arch/common/memory.hpp"

#include <algorithm>
#include <cmath>

#include "sim/base/error.hpp"

namespace qaccel {

MemoryTarget::MemoryTarget(const sc_core::sc_module_name& name, const DramSpec& spec,
                           StatsRegistry& stats)
    : sc_core::sc_module(name),
      socket("socket"),
      spec_(spec),
      read_bytes_(stats.at("dram.read_bytes")),
      write_bytes_(stats.at("dram.write_bytes")),
      busy_(stats.at("dram.busy_cycles")),
      requests_(stats.at("dram.requests")) {
  QACCEL_ASSERT(spec.channels > 0 && spec.bytes_per_cycle_per_channel > 0 && spec.burst_bytes > 0,
                "DRAM spec not validated");
  socket.register_b_transport(this, &MemoryTarget::b_transport);
}

void MemoryTarget::b_transport(int initiator, tlm::tlm_generic_payload& t,
                               sc_core::sc_time& delay) {
  QACCEL_ASSERT(t.is_read() || t.is_write(), "memory transaction without a read/write command");
  MemRequestExt* ext = nullptr;
  t.get_extension(ext);
  const std::int64_t count = ext ? ext->count : 1;
  QACCEL_ASSERT(count >= 1, "a train of no requests");
  requests_ += double(count);
  if (!answers_at_once()) {
    QACCEL_ASSERT(count == 1, "a train sent to a blocking memory");
    QACCEL_ASSERT(!ext || ext->hold_cycles == 0, "a PIM kernel sent to a blocking memory");
    transport(initiator, t, delay);
  } else {
    const std::int64_t now = now_cycle(), bytes = std::int64_t(t.get_data_length());
    const std::int64_t at = now + to_cycles(delay);
    std::int64_t done;
    if (ext && ext->hold_cycles > 0) {
      done = hold(initiator, at, ext->hold_cycles);
      ext->next_issue_cycle = done, ext->memory_cycles = done - at;
    } else if (count == 1) {
      done = reserve(initiator, t.is_write(), t.get_address(), bytes, at, ext && ext->opens_stream);
      if (ext) ext->next_issue_cycle = done, ext->memory_cycles = done - at;
    } else {
      TrainAnswer a = reserve_train(initiator, t.is_write(), t.get_address(), bytes, at, count,
                                    ext->consumer_cycles);
      done = a.done_cycle;
      ext->next_issue_cycle = a.next_issue_cycle, ext->memory_cycles = a.memory_cycles;
    }
    delay = cycles_time(done - now);
  }
  t.set_response_status(tlm::TLM_OK_RESPONSE);
}

void MemoryTarget::transport(int, tlm::tlm_generic_payload&, sc_core::sc_time&) {
  QACCEL_ASSERT(false, "a blocking memory model without transport()");
}

MemoryTarget::TrainAnswer MemoryTarget::reserve_train(int initiator, bool write,
                                                      std::uint64_t address, std::int64_t bytes,
                                                      std::int64_t at, std::int64_t count,
                                                      std::int64_t consumer_cycles) {
  TrainAnswer a;
  for (std::int64_t k = 0; k < count; ++k) {
    a.done_cycle = reserve(initiator, write, address + std::uint64_t(k * bytes), bytes, at, false);
    a.memory_cycles += a.done_cycle - at;
    at = std::max(at + consumer_cycles, a.done_cycle);
  }
  a.next_issue_cycle = at;
  return a;
}

std::int64_t MemoryTarget::hold(int, std::int64_t, std::int64_t) {
  QACCEL_ASSERT(false, "this memory model cannot host a PIM kernel");
  return 0;
}

std::int64_t MemoryTarget::reserve(int, bool, std::uint64_t, std::int64_t, std::int64_t, bool) {
  QACCEL_ASSERT(false, "a memory model that answers at once without reserve()");
  return 0;
}

void MemoryTarget::served(int initiator, bool write, std::int64_t bytes, std::int64_t begin,
                          std::int64_t end, std::int64_t busy) {
  (write ? write_bytes_ : read_bytes_) += double(bytes);
  busy_ += double(busy < 0 ? end - begin : busy);
  if (!record_) return;
  // A stretch that would end within 1/16384 of the time so far from where the last one began is
  // kept in the last one, so the timeline holds about 32k entries per doubling of simulated time
  // (a fold-by-fold run moves tens of millions of transfers), and a trace's ~1000 buckets still
  // see every byte within 1/16 of a bucket of when it moved. Runs under 16384 cycles keep every
  // stretch.
  if (!timeline_.empty()) {
    MemoryBusy& last = timeline_.back();
    if (begin >= last.begin_cycle && end - last.begin_cycle <= (end >> 14)) {
      last.end_cycle = std::max(last.end_cycle, end);
      last.bytes += bytes;
      if (last.initiator != initiator) last.initiator = -1;
      return;
    }
  }
  timeline_.push_back({begin, end, bytes, initiator});
}

std::int64_t MemoryTarget::busy_cycles(std::int64_t bytes) const {
  return std::int64_t(std::ceil(double(bytes) / peak_bytes_per_cycle()));
}

void declare_memory_stats(StatsRegistry& stats) {
  stats.add("dram.read_bytes", "bytes", "bytes read from off-chip memory");
  stats.add("dram.write_bytes", "bytes", "bytes written to off-chip memory");
  stats.add("dram.busy_cycles", "cycles", "cycles the memory channels transfer data");
  stats.add("dram.requests", "requests", "transactions the memory served");
  // Counted by the command-level model (memory.model: dram) only.
  stats.add("dram.activates", "commands", "ACT commands (command-level DRAM)");
  stats.add("dram.row_hits", "requests", "requests served from an open row (command-level DRAM)");
  stats.add("dram.row_misses", "requests", "requests to a closed bank (command-level DRAM)");
  stats.add("dram.row_conflicts", "requests",
            "requests that closed another row first (command-level DRAM)");
  stats.add("dram.refreshes", "commands", "REFab and REFpb commands (command-level DRAM)");
  stats.add("dram.command_energy_pj", "pj",
            "DRAM energy from IDD currents: commands and background (command-level DRAM)");
}

std::map<std::string, MemoryModelInfo>& memory_registry() {
  static std::map<std::string, MemoryModelInfo> r;
  return r;
}

RegisterMemory::RegisterMemory(MemoryModelInfo info) {
  QACCEL_ASSERT(!memory_registry().count(info.name), "memory model registered twice");
  std::string key = info.name;
  memory_registry().emplace(key, std::move(info));
}

}  // namespace qaccel
