#include "arch/common/params.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel {

namespace {

// Formatted as MapReader formats its ranges, so listings and error messages agree.
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

template <class T>
std::optional<T> def_as(const Param& p) {
  if (!p.def) return std::nullopt;
  return std::get<T>(*p.def);
}

}  // namespace

std::string Param::type_name() const {
  switch (type) {
    case ParamType::integer:
      return "int";
    case ParamType::number:
      return "number";
    case ParamType::flag:
      return "bool";
    case ParamType::choice:
      return "choice";
  }
  return "?";
}

std::string Param::range() const {
  switch (type) {
    case ParamType::integer:
      return "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    case ParamType::number:
      return "[" + num(min) + ", " + num(max) + "]";
    case ParamType::flag:
      return "true, false";
    case ParamType::choice:
      return join(choices, ", ");
  }
  return "?";
}

std::string Param::default_text() const {
  if (!def) return "required";
  switch (type) {
    case ParamType::integer:
      return std::to_string(std::get<long long>(*def));
    case ParamType::number:
      return num(std::get<double>(*def));
    case ParamType::flag:
      return std::get<bool>(*def) ? "true" : "false";
    case ParamType::choice:
      return std::get<std::string>(*def);
  }
  return "?";
}

namespace param {

namespace {
Param make(std::string name, ParamType type, std::string unit, std::string desc) {
  Param p;
  p.name = std::move(name), p.type = type, p.unit = std::move(unit), p.desc = std::move(desc);
  return p;
}
}  // namespace

Param integer(std::string name, long long lo, long long hi, std::optional<long long> def,
              std::string unit, std::string desc) {
  Param p = make(std::move(name), ParamType::integer, std::move(unit), std::move(desc));
  p.lo = lo, p.hi = hi;
  if (def) p.def = *def;
  return p;
}

Param number(std::string name, double min, double max, std::optional<double> def, std::string unit,
             std::string desc) {
  Param p = make(std::move(name), ParamType::number, std::move(unit), std::move(desc));
  p.min = min, p.max = max;
  if (def) p.def = *def;
  return p;
}

Param flag(std::string name, std::optional<bool> def, std::string desc) {
  Param p = make(std::move(name), ParamType::flag, "", std::move(desc));
  if (def) p.def = *def;
  return p;
}

Param choice(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
             std::string desc) {
  Param p = make(std::move(name), ParamType::choice, "", std::move(desc));
  p.choices = std::move(choices);
  if (def) p.def = *def;
  return p;
}

}  // namespace param

template <class T>
const T& ParamValues::get(const std::string& name, ParamType type) const {
  auto it = values_.find(name);
  QACCEL_ASSERT(it != values_.end(), "unit parameter '" + name + "' was never declared");
  QACCEL_ASSERT(it->second.index() == std::size_t(type),
                "unit parameter '" + name + "' asked for with the wrong type");
  return std::get<T>(it->second);
}

long long ParamValues::integer(const std::string& name) const {
  return get<long long>(name, ParamType::integer);
}
double ParamValues::number(const std::string& name) const {
  return get<double>(name, ParamType::number);
}
bool ParamValues::flag(const std::string& name) const {
  return get<bool>(name, ParamType::flag);
}
const std::string& ParamValues::choice(const std::string& name) const {
  return get<std::string>(name, ParamType::choice);
}

ParamSet::ParamSet(std::initializer_list<Param> params) : params_(params) {
  // Declarations are code: a bad one is a bug, caught when the unit registers at startup.
  std::set<std::string> names;
  for (const Param& p : params_) {
    QACCEL_ASSERT(!p.name.empty() && names.insert(p.name).second,
                  "unit parameter declared twice or without a name: '" + p.name + "'");
    QACCEL_ASSERT(!p.def || p.def->index() == std::size_t(p.type),
                  "default of parameter '" + p.name + "' has the wrong type");
    switch (p.type) {
      case ParamType::integer:
        QACCEL_ASSERT(p.lo <= p.hi && (!p.def || (std::get<long long>(*p.def) >= p.lo &&
                                                  std::get<long long>(*p.def) <= p.hi)),
                      "parameter '" + p.name + "': empty range or default outside it");
        break;
      case ParamType::number:
        QACCEL_ASSERT(p.min <= p.max && (!p.def || (std::get<double>(*p.def) >= p.min &&
                                                    std::get<double>(*p.def) <= p.max)),
                      "parameter '" + p.name + "': empty range or default outside it");
        break;
      case ParamType::flag:
        break;
      case ParamType::choice:
        QACCEL_ASSERT(
            !p.choices.empty() && (!p.def || std::count(p.choices.begin(), p.choices.end(),
                                                        std::get<std::string>(*p.def))),
            "parameter '" + p.name + "': no choices or default not among them");
        break;
    }
  }
}

ParamValues ParamSet::read(config::MapReader& r) const {
  ParamValues v;
  for (const Param& p : params_) {
    ParamValue x;
    switch (p.type) {
      case ParamType::integer:
        x = r.integer(p.name, p.lo, p.hi, def_as<long long>(p));
        break;
      case ParamType::number:
        x = r.number(p.name, p.min, p.max, def_as<double>(p));
        break;
      case ParamType::flag:
        x = r.boolean(p.name, def_as<bool>(p));
        break;
      case ParamType::choice:
        x = r.choice(p.name, p.choices, def_as<std::string>(p));
        break;
    }
    v.values_.emplace(p.name, std::move(x));
  }
  return v;
}

std::string ParamSet::text(const std::string& indent) const {
  const std::vector<std::string> head{"key",     "type", "range/choices",
                                      "default", "unit", "description"};
  std::vector<std::vector<std::string>> rows{head};
  for (const Param& p : params_)
    rows.push_back({p.name, p.type_name(), p.range(), p.default_text(), p.unit, p.desc});
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    out += indent;
    for (std::size_t c = 0; c + 1 < row.size(); ++c)
      out += row[c] + std::string(width[c] - row[c].size() + 2, ' ');
    out += row.back() + "\n";
  }
  return out;
}

std::string ParamSet::markdown() const {
  // A '|' inside a cell would end the cell.
  auto cell = [](const std::string& s) {
    std::string o;
    for (char c : s)
      o += c == '|' ? std::string("\\|") : std::string(1, c);
    return o;
  };
  std::string out =
      "| key | type | range/choices | default | unit | description |\n"
      "|---|---|---|---|---|---|\n";
  for (const Param& p : params_)
    out += "| `" + p.name + "` | " + p.type_name() + " | " + cell(p.range()) + " | " +
           cell(p.default_text()) + " | " + cell(p.unit) + " | " + cell(p.desc) + " |\n";
  return out;
}

}  // namespace qaccel
