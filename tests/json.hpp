#pragma once
// A strict little JSON reader for the tests (RFC 8259: no trailing commas, no comments, no
// leading zeros, no bare control characters in strings). Throws std::runtime_error with the
// byte offset on anything malformed, so a test can assert that a file is valid JSON and then
// look inside it.
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace qaccel::test {

struct Json {
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json>;
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v;
  std::string number_text;  // a number as written (exact integers beyond 2^53, decimals)

  bool is_number() const { return std::holds_alternative<double>(v); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(v); }
  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(v); }
  double num() const { return std::get<double>(v); }
  long long integer() const { return std::stoll(number_text); }
  const std::string& str() const { return std::get<std::string>(v); }
  const Array& arr() const { return *std::get<std::shared_ptr<Array>>(v); }
  const Object& obj() const { return *std::get<std::shared_ptr<Object>>(v); }
  bool has(const std::string& k) const { return is_object() && obj().count(k); }
  const Json& operator[](const std::string& k) const {
    auto it = obj().find(k);
    if (it == obj().end()) throw std::runtime_error("json: no key '" + k + "'");
    return it->second;
  }
};

class JsonReader {
 public:
  static Json parse(const std::string& text) {
    JsonReader r(text);
    r.ws();
    Json j = r.value(0);
    r.ws();
    if (r.i_ != text.size()) r.fail("trailing characters");
    return j;
  }

 private:
  explicit JsonReader(const std::string& t) : t_(t) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("json: " + what + " at byte " + std::to_string(i_));
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void word(const char* w) {
    for (const char* p = w; *p; ++p)
      expect(*p);
  }
  Json value(int depth) {
    if (depth > 200) fail("nested too deep");
    Json j;
    switch (peek()) {
      case '{': {
        ++i_;
        auto o = std::make_shared<Json::Object>();
        ws();
        if (peek() == '}') {
          ++i_;
        } else {
          for (;;) {
            ws();
            if (peek() != '"') fail("expected a key");
            std::string k = string();
            ws();
            expect(':');
            ws();
            if (o->count(k)) fail("duplicate key '" + k + "'");
            (*o)[k] = value(depth + 1);
            ws();
            if (peek() == ',') {
              ++i_;
              continue;
            }
            expect('}');
            break;
          }
        }
        j.v = o;
        return j;
      }
      case '[': {
        ++i_;
        auto a = std::make_shared<Json::Array>();
        ws();
        if (peek() == ']') {
          ++i_;
        } else {
          for (;;) {
            ws();
            a->push_back(value(depth + 1));
            ws();
            if (peek() == ',') {
              ++i_;
              continue;
            }
            expect(']');
            break;
          }
        }
        j.v = a;
        return j;
      }
      case '"':
        j.v = string();
        return j;
      case 't':
        word("true"), j.v = true;
        return j;
      case 'f':
        word("false"), j.v = false;
        return j;
      case 'n':
        word("null"), j.v = nullptr;
        return j;
      default:
        return number();
    }
  }
  std::string string() {
    expect('"');
    std::string s;
    for (;;) {
      if (i_ >= t_.size()) fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') return s;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        s += c;
        continue;
      }
      char e = peek();
      ++i_;
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          if (i_ + 4 > t_.size()) fail("short \\u escape");
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = t_[i_++];
            cp = cp * 16 + unsigned(std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                    : h >= 'a' && h <= 'f'                      ? h - 'a' + 10
                                    : h >= 'A' && h <= 'F'                      ? h - 'A' + 10
                                                           : (fail("bad \\u escape"), 0));
          }
          if (cp < 0x80) {
            s += char(cp);
          } else if (cp < 0x800) {
            s += char(0xc0 | (cp >> 6)), s += char(0x80 | (cp & 0x3f));
          } else {
            s += char(0xe0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3f)),
                s += char(0x80 | (cp & 0x3f));
          }
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
  Json number() {
    const std::size_t start = i_;
    auto digits = [&] {
      std::size_t n = 0;
      while (std::isdigit(static_cast<unsigned char>(peek())))
        ++i_, ++n;
      return n;
    };
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
      if (std::isdigit(static_cast<unsigned char>(peek()))) fail("leading zero");
    } else if (digits() == 0) {
      fail("expected a value");
    }
    if (peek() == '.') {
      ++i_;
      if (digits() == 0) fail("expected digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (digits() == 0) fail("expected exponent digits");
    }
    Json j;
    j.number_text = t_.substr(start, i_ - start);
    j.v = std::strtod(j.number_text.c_str(), nullptr);
    return j;
  }

  const std::string& t_;
  std::size_t i_ = 0;
};

}  // namespace qaccel::test
