#include "arch/common/memory.hpp"

#include <algorithm>
#include <cmath>

#include "sim/base/error.hpp"

namespace qaccel {

BandwidthDram::BandwidthDram(const DramSpec& spec, StatsRegistry& stats)
    : spec_(spec),
      read_bytes_(stats.add("dram.read_bytes", "bytes", "bytes read from off-chip memory")),
      write_bytes_(stats.add("dram.write_bytes", "bytes", "bytes written to off-chip memory")),
      busy_(stats.add("dram.busy_cycles", "cycles", "cycles the memory channels transfer data")) {
  QACCEL_ASSERT(spec.channels > 0 && spec.bytes_per_cycle_per_channel > 0,
                "DRAM spec not validated");
}

std::int64_t BandwidthDram::busy_cycles(std::int64_t bytes) const {
  return std::int64_t(std::ceil(double(bytes) / peak_bytes_per_cycle()));
}

std::int64_t BandwidthDram::transfer(std::int64_t bytes, bool write, std::int64_t at_cycle,
                                     bool opens_stream) {
  if (bytes <= 0) return at_cycle;
  std::int64_t start = std::max(at_cycle, free_at_), busy = busy_cycles(bytes);
  free_at_ = start + busy;
  (write ? write_bytes_ : read_bytes_) += double(bytes);
  busy_ += double(busy);
  return free_at_ + (opens_stream ? spec_.latency_cycles : 0);
}

}  // namespace qaccel
