#pragma once
// A whole DRAM: its channels (independent controllers), the address mapping and the
// trace-driven front end of `qaccel dram`. Plain C++: the SystemC memory target
// (dram_memory.cpp) and the command line both drive this.
#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "arch/dram/address_map.hpp"
#include "arch/dram/channel.hpp"
#include "arch/dram/rules.hpp"
#include "arch/dram/spec.hpp"

namespace qaccel::dram {

struct TraceEntry {
  i64 cycle = -1;  // -1: as soon as the front end gets to it
  bool write = false;
  std::uint64_t addr = 0;
};

// Reads `LD <addr>` / `ST <addr>` or `<cycle> R|W <addr>` lines (decimal or 0x-hex; blank
// lines and # comments skipped). Throws ConfigError with file:line and the text on a line
// that does not parse, or an address beyond `capacity_bytes`.
std::vector<TraceEntry> read_trace(std::istream& in, const std::string& name,
                                   std::uint64_t capacity_bytes);

// Synthetic traffic shared with the peer simulators' runs (scripts/dram-trace.py writes the
// same): stream (reads at i x tx), random (uniform tx-aligned reads), mixed (random addresses,
// every third request a write).
std::vector<TraceEntry> synthetic_trace(const std::string& kind, i64 requests, i64 tx_bytes,
                                        std::uint64_t capacity_bytes, std::uint64_t seed);
std::uint64_t splitmix64(std::uint64_t x);

struct DramTotals {
  ChannelStats sum;  // over channels
  i64 cycles = 0;    // DRAM cycles of the run
  i64 bytes = 0;     // data moved (reads + writes, forwarded reads excluded)
  double act_pj = 0, rd_pj = 0, wr_pj = 0, ref_pj = 0, background_pj = 0;
  double energy_pj() const { return act_pj + rd_pj + wr_pj + ref_pj + background_pj; }
};

class Dram {
 public:
  explicit Dram(const DramConfig& cfg, bool record_commands = false);
  Dram(const Dram&) = delete;  // channels refer to the config and rules held here
  Dram& operator=(const Dram&) = delete;
  const DramConfig& config() const { return cfg_; }
  const RuleSet& rules() const { return rules_; }
  const AddressMap& map() const { return map_; }
  int channels() const { return int(channels_.size()); }
  Channel& channel(int k) { return channels_[std::size_t(k)]; }
  const Channel& channel(int k) const { return channels_[std::size_t(k)]; }
  // A request for `addr` (decoded; the caller checked the capacity).
  Request request(std::uint64_t addr, bool write, std::uint64_t id) const;
  int channel_of(std::uint64_t addr) const { return map_.decode(addr).channel; }

  // Runs every event of channel k up to and including cycle c; returns its next event.
  i64 advance(int k, i64 c);

  struct TraceResult {
    i64 cycles = 0;  // every read returned, every write issued
    i64 reads = 0, writes = 0;
    i64 front_end_stall_cycles = 0;  // cycles the head request waited for a queue slot
  };
  // One request offered per DRAM cycle, in order, retried while its queue is full. `tick`
  // steps every channel every cycle (the reference); otherwise channels jump between events.
  // `progress` (optional) is called now and then with the requests offered so far.
  TraceResult run_trace(const std::vector<TraceEntry>& trace, bool tick,
                        const std::function<void(i64)>& progress = {});

  // A burst of `bytes` at `addr` arriving at DRAM cycle `arrive`, served whole: it is cut into
  // transactions, each channel takes its share in address order through its own port (one
  // request per cycle while its queues have room, from `arrive` or the channel's own time if
  // later), and every channel it touched runs until its queues are empty. Returns the last
  // completion (read data returned, write data written). The caller checks the capacity.
  i64 serve(std::uint64_t addr, i64 bytes, bool write, i64 arrive);

  // A PIM kernel of `cycles` on every channel at once, arriving at `arrive`: it starts when
  // every channel has served what it holds, and returns its end.
  i64 hold_all(i64 arrive, i64 cycles);

  // Counters and energy over every channel, at cycle `end`.
  DramTotals totals(i64 end);

 private:
  Request request(const DramAddr& a, std::uint64_t addr, bool write, std::uint64_t id) const;

  DramConfig cfg_;
  RuleSet rules_;
  AddressMap map_;
  std::vector<Channel> channels_;
  std::vector<i64> cursor_;  // serve(): the next cycle each channel's port may offer a request
  std::uint64_t next_id_ = 0;
};

}  // namespace qaccel::dram
