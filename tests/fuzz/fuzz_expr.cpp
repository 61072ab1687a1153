// Constraint expressions of sweep files (`units.mxu.rows * units.mxu.cols <= 65536`): parsed,
// then evaluated with every name bound (to a value that depends on the name, zero included so
// that division by zero is reached).
#include <string>

#include "dse/expr.hpp"
#include "fuzz_util.hpp"
#include "sim/base/error.hpp"

using namespace qaccel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    dse::Expr e = dse::Expr::parse(text);
    e.holds(
        [](const std::string& name) -> std::optional<double> { return double(name.size() % 4); });
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
