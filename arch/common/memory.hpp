#pragma once
// Off-chip memory behind an interface, so a command-level DRAM timing engine can replace the
// bandwidth + latency model without touching the units. Loosely timed: a request answers the
// cycle at which its data is complete, and the caller waits once.
#include <cstdint>
#include <string>

#include "arch/common/stats.hpp"

namespace qaccel {

class MemoryPort {
 public:
  virtual ~MemoryPort() = default;
  // Transfers `bytes` starting no earlier than `at_cycle`; returns the completion cycle. A
  // request that opens a stream pays the access latency; one that continues a stream of
  // pipelined requests (a DMA prefetching fold after fold) does not.
  virtual std::int64_t transfer(std::int64_t bytes, bool write, std::int64_t at_cycle,
                                bool opens_stream) = 0;
  // Peak bandwidth in bytes per cycle (for rooflines).
  virtual double peak_bytes_per_cycle() const = 0;
  virtual std::int64_t latency_cycles() const = 0;
};

struct DramSpec {
  std::string kind = "lpddr4";  // energy lookup key in the tech table
  int channels = 1;
  double bytes_per_cycle_per_channel = 16;  // at the system clock
  std::int64_t latency_cycles = 100;
};

// channels x bytes/cycle of bandwidth shared by all requesters, a fixed latency per request,
// and first-come first-served contention (a request starts when the channels are free).
class BandwidthDram : public MemoryPort {
 public:
  BandwidthDram(const DramSpec& spec, StatsRegistry& stats);
  std::int64_t transfer(std::int64_t bytes, bool write, std::int64_t at_cycle,
                        bool opens_stream) override;
  double peak_bytes_per_cycle() const override {
    return spec_.channels * spec_.bytes_per_cycle_per_channel;
  }
  std::int64_t latency_cycles() const override { return spec_.latency_cycles; }
  // Cycles the channels need for `bytes` (no latency, no contention).
  std::int64_t busy_cycles(std::int64_t bytes) const;
  const DramSpec& spec() const { return spec_; }

 private:
  DramSpec spec_;
  std::int64_t free_at_ = 0;
  double &read_bytes_, &write_bytes_, &busy_;
};

}  // namespace qaccel
