#pragma once
// Arithmetic constraints over parameters and metrics: `rows * cols <= 65536`,
// `area_mm2 <= 200`. Names may contain dots (key paths); numbers are decimals.
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qaccel::dse {

class Expr {
 public:
  // Bounds on what parse accepts (ConfigError beyond them): a constraint is a short formula,
  // and neither a huge text nor deep nesting may exhaust the stack or memory.
  static constexpr std::size_t kMaxLength = 4096;
  static constexpr int kMaxNesting = 64;  // parentheses and unary minus, counted together

  // Parses a comparison `a OP b` (OP: < <= > >= == !=). Throws ConfigError with the column.
  static Expr parse(const std::string& text);
  // Evaluates with `lookup` giving each name's value (nullopt: unknown name -> ConfigError).
  bool holds(const std::function<std::optional<double>(const std::string&)>& lookup) const;
  const std::set<std::string>& names() const { return names_; }
  const std::string& text() const { return text_; }

  // One step of the postfix program each side compiles to (evaluated with a value stack, so
  // evaluation never recurses however long the formula).
  struct Op {
    char op = 0;  // 0: push number, 'v': push variable, '+-*/' binary, 'n' negate
    double value = 0;
    std::string name;
  };

 private:
  std::string text_;
  std::vector<Op> lhs_, rhs_;
  char cmp_ = 0;  // '<' '>' 'l'(<=) 'g'(>=) '=' '!'
  std::set<std::string> names_;
};

}  // namespace qaccel::dse
