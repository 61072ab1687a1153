#include "arch/common/sram.hpp"

#include <cmath>

#include "sim/base/error.hpp"

namespace qaccel {

Sram::Sram(const std::string& name, const SramSpec& spec, StatsRegistry& stats)
    : spec_(spec),
      read_(stats.add(name + ".read_bytes", "bytes", "bytes read from this buffer")),
      write_(stats.add(name + ".write_bytes", "bytes", "bytes written to this buffer")) {
  QACCEL_ASSERT(
      spec.capacity_bytes > 0 && spec.banks > 0 && spec.ports > 0 && spec.bytes_per_cycle > 0,
      "SRAM spec not validated");
}

std::int64_t Sram::cycles(std::int64_t bytes) const {
  return bytes <= 0 ? 0 : std::int64_t(std::ceil(double(bytes) / spec_.peak_bytes_per_cycle()));
}

}  // namespace qaccel
