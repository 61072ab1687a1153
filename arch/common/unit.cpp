#include "arch/common/unit.hpp"

#include "sim/base/error.hpp"

namespace qaccel {

std::map<std::string, UnitInfo>& unit_registry() {
  static std::map<std::string, UnitInfo> r;
  return r;
}

RegisterUnit::RegisterUnit(UnitInfo info) {
  QACCEL_ASSERT(!unit_registry().count(info.impl), "unit impl registered twice: " + info.impl);
  std::string key = info.impl;
  unit_registry().emplace(key, std::move(info));
}

std::string units_text() {
  std::string out;
  for (const auto& [impl, info] : unit_registry()) {
    out += "  " + impl + ": " + info.summary + "\n";
    out += info.params.all().empty() ? "      (no parameters)\n" : info.params.text("      ");
  }
  return out;
}

std::string units_markdown() {
  std::string out;
  for (const auto& [impl, info] : unit_registry()) {
    if (!out.empty()) out += "\n";
    out += "#### `" + impl + "`\n\n" + info.summary + "\n\n";
    out += info.params.all().empty() ? "No parameters.\n" : info.params.markdown();
  }
  return out;
}

}  // namespace qaccel
