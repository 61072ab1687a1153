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

Dma::Dma(const std::string& name, MemoryPort& port, StatsRegistry& stats)
    : port_(port),
      loads_(
          stats.add(name + ".load_bytes", "bytes", "bytes the DMA moved from DRAM into buffers")),
      stores_(
          stats.add(name + ".store_bytes", "bytes", "bytes the DMA moved from buffers to DRAM")) {}

std::int64_t Dma::load(std::int64_t bytes, Sram& dst, std::int64_t at, bool opens) {
  if (bytes <= 0) return at;
  loads_ += double(bytes);
  dst.write(bytes);
  return port_.transfer(bytes, false, at, opens);
}

std::int64_t Dma::store(std::int64_t bytes, Sram& src, std::int64_t at, bool opens) {
  if (bytes <= 0) return at;
  stores_ += double(bytes);
  src.read(bytes);
  return port_.transfer(bytes, true, at, opens);
}

}  // namespace qaccel
