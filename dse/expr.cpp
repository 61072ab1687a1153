#include "dse/expr.hpp"

#include <cctype>
#include <cmath>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"

namespace qaccel::dse {

namespace {

// The formula as messages quote it: a long one is cut, so an error stays readable.
std::string quoted(const std::string& s) {
  return "'" + (s.size() <= 80 ? s : s.substr(0, 60) + "...") + "'";
}

// Recursive descent emitting postfix code. Recursion happens only at '(' and unary '-', and
// `depth` bounds it; sums and products are loops.
struct Parser {
  const std::string& s;
  std::size_t i = 0;
  std::set<std::string>& names;
  int depth = 0;

  [[noreturn]] void fail(const std::string& what) {
    throw ConfigError("constraint " + quoted(s) + ": " + what + " at column " +
                      std::to_string(i + 1));
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
  }
  void enter() {
    if (++depth > Expr::kMaxNesting)
      fail("nested more than " + std::to_string(Expr::kMaxNesting) +
           " levels deep (parentheses and unary minus)");
  }
  void atom(std::vector<Expr::Op>& out) {
    ws();
    if (i >= s.size()) fail("expected a number, a name or '('");
    char c = s[i];
    if (c == '(') {
      enter();
      ++i;
      sum(out);
      ws();
      if (i >= s.size() || s[i] != ')') fail("expected ')'");
      ++i;
      --depth;
      return;
    }
    if (c == '-') {
      enter();
      ++i;
      atom(out);
      out.push_back({'n', 0, {}});
      --depth;
      return;
    }
    std::size_t start = i;
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
              ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
        ++i;
      double v = 0;
      if (!parse_double(s.substr(start, i - start), v))
        fail("bad number '" + s.substr(start, i - start) + "'");
      out.push_back({0, v, {}});
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
        ++i;
      out.push_back({'v', 0, s.substr(start, i - start)});
      names.insert(out.back().name);
      return;
    }
    fail(std::string("unexpected '") + c + "'");
  }
  void product(std::vector<Expr::Op>& out) {
    atom(out);
    for (;;) {
      ws();
      if (i < s.size() && (s[i] == '*' || s[i] == '/')) {
        char op = s[i++];
        atom(out);
        out.push_back({op, 0, {}});
      } else {
        return;
      }
    }
  }
  void sum(std::vector<Expr::Op>& out) {
    product(out);
    for (;;) {
      ws();
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        char op = s[i++];
        product(out);
        out.push_back({op, 0, {}});
      } else {
        return;
      }
    }
  }
  char comparison() {
    ws();
    char op = 0;
    if (s.compare(i, 2, "<=") == 0)
      op = 'l', i += 2;
    else if (s.compare(i, 2, ">=") == 0)
      op = 'g', i += 2;
    else if (s.compare(i, 2, "==") == 0)
      op = '=', i += 2;
    else if (s.compare(i, 2, "!=") == 0)
      op = '!', i += 2;
    else if (i < s.size() && (s[i] == '<' || s[i] == '>'))
      op = s[i++];
    else
      fail("expected a comparison (<, <=, >, >=, ==, !=)");
    return op;
  }
};

double eval(const std::vector<Expr::Op>& code,
            const std::function<std::optional<double>(const std::string&)>& lookup,
            const std::string& text) {
  std::vector<double> st;
  st.reserve(code.size());
  for (const Expr::Op& o : code) {
    switch (o.op) {
      case 0:
        st.push_back(o.value);
        continue;
      case 'v': {
        auto v = lookup(o.name);
        if (!v) throw ConfigError("constraint " + quoted(text) + ": unknown name '" + o.name + "'");
        st.push_back(*v);
        continue;
      }
      case 'n':
        QACCEL_ASSERT(!st.empty(), "constraint code underflow");
        st.back() = -st.back();
        continue;
    }
    QACCEL_ASSERT(st.size() >= 2, "constraint code underflow");
    double b = st.back();
    st.pop_back();
    double& a = st.back();
    switch (o.op) {
      case '+':
        a += b;
        break;
      case '-':
        a -= b;
        break;
      case '*':
        a *= b;
        break;
      case '/':
        a /= b;
        break;
      default:
        QACCEL_ASSERT(false, "bad constraint op");
    }
  }
  QACCEL_ASSERT(st.size() == 1, "constraint code leaves " + std::to_string(st.size()) + " values");
  return st.back();
}

}  // namespace

Expr Expr::parse(const std::string& text) {
  if (text.size() > kMaxLength)
    throw ConfigError("constraint " + quoted(text) + ": " + std::to_string(text.size()) +
                      " characters, more than " + std::to_string(kMaxLength) +
                      " (a constraint is a short formula)");
  Expr e;
  e.text_ = text;
  Parser p{text, 0, e.names_};
  p.sum(e.lhs_);
  e.cmp_ = p.comparison();
  p.sum(e.rhs_);
  p.ws();
  if (p.i != text.size()) p.fail("unexpected text after the comparison");
  return e;
}

bool Expr::holds(const std::function<std::optional<double>(const std::string&)>& lookup) const {
  double a = eval(lhs_, lookup, text_), b = eval(rhs_, lookup, text_);
  // A division by zero or a NaN would compare false (or != true) and pass silently.
  if (!std::isfinite(a) || !std::isfinite(b))
    throw ConfigError("constraint " + quoted(text_) + ": the " +
                      (std::isfinite(a) ? "right" : "left") + " side is not a finite number (" +
                      std::to_string(std::isfinite(a) ? b : a) + "; division by zero?)");
  switch (cmp_) {
    case '<':
      return a < b;
    case '>':
      return a > b;
    case 'l':
      return a <= b;
    case 'g':
      return a >= b;
    case '=':
      return a == b;
    case '!':
      return a != b;
  }
  return false;
}

}  // namespace qaccel::dse
