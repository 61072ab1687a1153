#pragma once
// Named statistics, gem5 style: every counter has a name, a unit and a description, and one
// registry dumps them all (text here; JSON and SQLite through the report layer).
#include <cstdint>
#include <deque>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace qaccel {

struct Stat {
  std::string name;  // "mxu.busy_cycles"
  std::string unit;  // "cycles", "bytes", "pj", "macs", ...
  std::string desc;
  double value = 0;
};

class StatsRegistry {
 public:
  // Registers a counter; the reference stays valid for the registry's lifetime. A second
  // registration of the same name is a bug.
  double& add(const std::string& name, const std::string& unit, const std::string& desc);
  const std::deque<Stat>& all() const { return stats_; }
  // A registered counter (registering and counting can live apart); unknown names are a bug.
  double& at(const std::string& name);
  // Value by name (0 when absent: a stat that never registered did not happen).
  double get(const std::string& name) const;
  void reset();  // every value to 0
  void dump_text(std::ostream& os) const;

 private:
  std::deque<Stat> stats_;  // deque: references survive growth
  std::map<std::string, std::size_t> index_;
};

}  // namespace qaccel
