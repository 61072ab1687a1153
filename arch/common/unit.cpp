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

}  // namespace qaccel
