#pragma once
// On-chip SRAM scratchpad (the DMA that fills it from DRAM is the unit module's, sim/engine).
#include <cstdint>
#include <string>

#include "arch/common/stats.hpp"

namespace qaccel {

struct SramSpec {
  std::int64_t capacity_bytes = 64 * 1024;
  int banks = 1;                // independent banks; each serves one port access per cycle
  int ports = 1;                // read/write ports per bank
  double bytes_per_cycle = 64;  // per bank and port
  double peak_bytes_per_cycle() const { return double(banks) * ports * bytes_per_cycle; }
};

// Capacity, bandwidth (banks x ports x bytes/cycle, conflict-free: accesses are assumed spread
// over the banks) and read/write counters registered as <name>.read_bytes / .write_bytes.
class Sram {
 public:
  Sram(const std::string& name, const SramSpec& spec, StatsRegistry& stats);
  void read(std::int64_t bytes) { read_ += double(bytes); }
  void write(std::int64_t bytes) { write_ += double(bytes); }
  // Cycles to move `bytes` at full bandwidth.
  std::int64_t cycles(std::int64_t bytes) const;
  bool fits(std::int64_t bytes) const { return bytes <= spec_.capacity_bytes; }
  double kib() const { return double(spec_.capacity_bytes) / 1024.0; }
  const SramSpec& spec() const { return spec_; }

 private:
  SramSpec spec_;
  double &read_, &write_;
};

}  // namespace qaccel
