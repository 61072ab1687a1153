#include "arch/common/stats.hpp"

#include <cmath>
#include <cstdio>

#include "sim/base/error.hpp"

namespace qaccel {

double& StatsRegistry::add(const std::string& name, const std::string& unit,
                           const std::string& desc) {
  QACCEL_ASSERT(!index_.count(name), "stat registered twice: " + name);
  index_[name] = stats_.size();
  stats_.push_back(Stat{name, unit, desc, 0});
  return stats_.back().value;
}

double& StatsRegistry::at(const std::string& name) {
  auto it = index_.find(name);
  QACCEL_ASSERT(it != index_.end(), "stat never registered: " + name);
  return stats_[it->second].value;
}

double StatsRegistry::get(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? 0.0 : stats_[it->second].value;
}

void StatsRegistry::reset() {
  for (Stat& s : stats_)
    s.value = 0;
}

void StatsRegistry::dump_text(std::ostream& os) const {
  std::size_t w = 0;
  for (const Stat& s : stats_)
    w = std::max(w, s.name.size());
  for (const Stat& s : stats_) {
    char buf[64];
    // Counters print exactly; derived values with six significant digits.
    if (s.value == std::floor(s.value) && std::fabs(s.value) < 1e18)
      std::snprintf(buf, sizeof buf, "%20.0f", s.value);
    else
      std::snprintf(buf, sizeof buf, "%20.6g", s.value);
    os << s.name << std::string(w - s.name.size() + 2, ' ') << buf << "  " << s.unit << "  # "
       << s.desc << "\n";
  }
}

}  // namespace qaccel
