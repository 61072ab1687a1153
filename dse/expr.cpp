#include "dse/expr.hpp"

#include <cctype>
#include <cmath>
#include <vector>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"

namespace qaccel::dse {

struct Expr::Node {
  char op =
      0;  // 0: number, 'v': variable, '+-*/' binary, 'n' negate, '<' '>' 'l'(<=) 'g'(>=) '=' '!'
  double value = 0;
  std::string name;
  std::shared_ptr<const Node> a, b;
};

namespace {

using NodeP = std::shared_ptr<const Expr::Node>;

struct Parser {
  const std::string& s;
  std::size_t i = 0;
  std::set<std::string>& names;

  [[noreturn]] void fail(const std::string& what) {
    throw ConfigError("constraint '" + s + "': " + what + " at column " + std::to_string(i + 1));
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
  }
  NodeP make(char op, NodeP a, NodeP b = nullptr) {
    auto n = std::make_shared<Expr::Node>();
    n->op = op, n->a = std::move(a), n->b = std::move(b);
    return n;
  }
  NodeP atom() {
    ws();
    if (i >= s.size()) fail("expected a number, a name or '('");
    char c = s[i];
    if (c == '(') {
      ++i;
      NodeP e = sum();
      ws();
      if (i >= s.size() || s[i] != ')') fail("expected ')'");
      ++i;
      return e;
    }
    if (c == '-') {
      ++i;
      return make('n', atom());
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
      auto n = std::make_shared<Expr::Node>();
      n->value = v;
      return n;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
        ++i;
      auto n = std::make_shared<Expr::Node>();
      n->op = 'v', n->name = s.substr(start, i - start);
      names.insert(n->name);
      return n;
    }
    fail(std::string("unexpected '") + c + "'");
  }
  NodeP product() {
    NodeP l = atom();
    for (;;) {
      ws();
      if (i < s.size() && (s[i] == '*' || s[i] == '/')) {
        char op = s[i++];
        l = make(op, l, atom());
      } else {
        return l;
      }
    }
  }
  NodeP sum() {
    NodeP l = product();
    for (;;) {
      ws();
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        char op = s[i++];
        l = make(op, l, product());
      } else {
        return l;
      }
    }
  }
  NodeP comparison() {
    NodeP l = sum();
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
    NodeP r = sum();
    ws();
    if (i != s.size()) fail("unexpected text after the comparison");
    return make(op, l, r);
  }
};

double eval(const Expr::Node& n,
            const std::function<std::optional<double>(const std::string&)>& lookup,
            const std::string& text) {
  switch (n.op) {
    case 0:
      return n.value;
    case 'v': {
      auto v = lookup(n.name);
      if (!v) throw ConfigError("constraint '" + text + "': unknown name '" + n.name + "'");
      return *v;
    }
    case 'n':
      return -eval(*n.a, lookup, text);
    case '+':
      return eval(*n.a, lookup, text) + eval(*n.b, lookup, text);
    case '-':
      return eval(*n.a, lookup, text) - eval(*n.b, lookup, text);
    case '*':
      return eval(*n.a, lookup, text) * eval(*n.b, lookup, text);
    case '/':
      return eval(*n.a, lookup, text) / eval(*n.b, lookup, text);
  }
  QACCEL_ASSERT(false, "bad expression node");
  return 0;
}

}  // namespace

Expr Expr::parse(const std::string& text) {
  Expr e;
  e.text_ = text;
  Parser p{text, 0, e.names_};
  e.root_ = p.comparison();
  return e;
}

bool Expr::holds(const std::function<std::optional<double>(const std::string&)>& lookup) const {
  double a = eval(*root_->a, lookup, text_), b = eval(*root_->b, lookup, text_);
  switch (root_->op) {
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
