// SCALE-Sim style layer CSV files (`layer name, M, N, K[, dtype]`), loaded as `qaccel run
// --layers` loads them and planned on a shipped system.
#include "fuzz_util.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"

using namespace qaccel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static System sys(config::load_system(fuzz::shipped("systems/duplex.yaml")));
  const std::filesystem::path file = fuzz::write_input(data, size, "input.csv");
  try {
    config::LayerList l = config::load_layers(file);
    for (const Op& op : l.graph.ops)
      sys.map(op).plan(op);
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
