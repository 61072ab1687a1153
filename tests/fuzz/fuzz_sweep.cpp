// Sweep files, as `qaccel validate` and `qaccel sweep` read them: parsed and checked, then
// their design points built (each a full system validation) when there are only a few.
#include "dse/sweep.hpp"
#include "fuzz_util.hpp"
#include "sim/base/error.hpp"

using namespace qaccel;

namespace {
// Design points the grid or random strategy or a design list would build (before constraints),
// capped.
std::uint64_t points(const dse::SweepSpec& s, std::uint64_t cap) {
  if (s.strategy == dse::Strategy::random) return std::uint64_t(std::max(s.count, 0));
  std::uint64_t n =
      s.models.size() * s.workloads.size() * std::max<std::size_t>(s.designs.size(), 1);
  for (const auto& p : s.params)
    if (p.tied_to.empty()) {
      n *= p.values.size();
      if (n > cap) return cap + 1;
    }
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = fuzz::write_input(data, size, "input.yaml");
  try {
    dse::SweepSpec s = dse::load_sweep(file);
    // Large spaces are a question of limits (--max-designs), not of parsing: kept small here.
    if (s.strategy != dse::Strategy::nsga2 && points(s, 16) <= 16) dse::enumerate(s);
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
