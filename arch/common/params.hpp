#pragma once
// Unit parameters declared once (gem5's Params idea): name, type, range or choices, default,
// unit and description live in one declaration, and the YAML reader, `qaccel list` and the
// README's parameter tables are all derived from it, so they cannot drift apart.
//
//   const ParamSet params{
//       param::integer("rows", 1, 4096, param::required, "PEs", "PE rows"),
//       param::choice("dataflow", {"ws", "os", "is"}, "ws", "weight-, output- or ...")};
//   ParamValues v = params.read(reader);  // errors go to the reader's diagnostics
//   int rows = int(v.integer("rows"));
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace qaccel {

namespace config {
class MapReader;
}

enum class ParamType { integer, number, flag, choice };

// A parameter's value; the alternatives are in ParamType's order.
using ParamValue = std::variant<long long, double, bool, std::string>;

struct Param {
  std::string name;
  ParamType type = ParamType::integer;
  long long lo = 0, hi = 0;          // integer: inclusive range
  double min = 0, max = 0;           // number: inclusive range
  std::vector<std::string> choices;  // choice: the allowed values
  std::optional<ParamValue> def;     // nullopt: the key is required
  std::string unit;                  // "cycles", "KiB", "bytes/cycle", "bits", ... or ""
  std::string desc;

  // For listings: "int" | "number" | "bool" | "choice"; "[1, 4096]" or "ws, os, is" (the
  // same wording as the reader's "expected ..." messages); "64" or "required".
  std::string type_name() const;
  std::string range() const;
  std::string default_text() const;
};

// Declaration helpers: one line per parameter in a unit's RegisterUnit block.
namespace param {
inline constexpr std::nullopt_t required = std::nullopt;
Param integer(std::string name, long long lo, long long hi, std::optional<long long> def,
              std::string unit, std::string desc);
Param number(std::string name, double min, double max, std::optional<double> def, std::string unit,
             std::string desc);
Param flag(std::string name, std::optional<bool> def, std::string desc);
Param choice(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
             std::string desc);
}  // namespace param

// The values read for one unit; immutable. Asking for a name that was not declared, or with the
// wrong type, is a bug in the unit (InternalError), never a config error.
class ParamValues {
 public:
  long long integer(const std::string& name) const;
  double number(const std::string& name) const;
  bool flag(const std::string& name) const;
  const std::string& choice(const std::string& name) const;

 private:
  friend class ParamSet;
  template <class T>
  const T& get(const std::string& name, ParamType type) const;
  std::map<std::string, ParamValue> values_;
};

class ParamSet {
 public:
  ParamSet() = default;
  // Checks the declarations themselves (unique names, defaults inside their ranges).
  ParamSet(std::initializer_list<Param> params);

  const std::vector<Param>& all() const { return params_; }
  // Reads every declared key through `r`: range, type and choice errors (and missing required
  // keys) are recorded in r's diagnostics with file:line:col and key path; the value is then
  // the default (or zero). Keys are marked known, so r.finish() rejects only undeclared ones.
  ParamValues read(config::MapReader& r) const;

  // Aligned text (key, type, range/choices, default, unit, description), each line prefixed
  // by `indent`; and a Markdown table with the same columns.
  std::string text(const std::string& indent) const;
  std::string markdown() const;

 private:
  std::vector<Param> params_;
};

}  // namespace qaccel
