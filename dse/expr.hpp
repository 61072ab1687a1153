#pragma once
// Arithmetic constraints over parameters and metrics: `rows * cols <= 65536`,
// `area_mm2 <= 200`. Names may contain dots (key paths); numbers are decimals.
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace qaccel::dse {

class Expr {
 public:
  // Parses a comparison `a OP b` (OP: < <= > >= == !=). Throws ConfigError with the column.
  static Expr parse(const std::string& text);
  // Evaluates with `lookup` giving each name's value (nullopt: unknown name -> ConfigError).
  bool holds(const std::function<std::optional<double>(const std::string&)>& lookup) const;
  const std::set<std::string>& names() const { return names_; }
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
  std::set<std::string> names_;
};

}  // namespace qaccel::dse
