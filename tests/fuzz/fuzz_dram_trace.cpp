// DRAM traces (`LD <addr>`, `ST <addr>`, `<cycle> R|W <addr>`) as `qaccel dram --trace` reads
// them, and a short trace run through the DDR4 preset.
#include <sstream>

#include "arch/dram/dram.hpp"
#include "fuzz_util.hpp"
#include "sim/base/error.hpp"

using namespace qaccel;
using namespace qaccel::dram;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const DramConfig cfg = preset("DDR4-3200");
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    std::vector<TraceEntry> t =
        read_trace(in, "input.trace", std::uint64_t(cfg.org.capacity_bytes()));
    if (t.size() <= 64) {  // the simulation is not what is fuzzed here; keep each input quick
      Dram d(cfg);
      d.run_trace(t, false);
    }
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
