#include "sim/config/yaml_reader.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "sim/base/error.hpp"
#include "sim/base/files.hpp"
#include "sim/base/text.hpp"

namespace qaccel::config {

void Diagnostics::error(const YAML::Mark& mark, const std::string& path, const std::string& msg) {
  std::string loc = file_.string();
  if (mark.line >= 0)
    loc += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  errors_.push_back(loc + ": " + (path.empty() ? "" : path + ": ") + msg);
}

void Diagnostics::throw_if_errors() const {
  if (errors_.empty()) return;
  throw ConfigError(join(errors_, "\n"));
}

namespace {

constexpr std::size_t kMaxConfigBytes = 4 << 20;
constexpr int kMaxNesting = 64;

// yaml-cpp recurses per nesting level; refuse absurd depth before it can exhaust the stack.
void check_nesting(const std::string& text, const std::filesystem::path& file) {
  int depth = 0;
  std::size_t line = 1, indent = 0;
  bool at_line_start = true;
  char quote = 0;
  for (char c : text) {
    if (c == '\n')
      ++line, indent = 0, at_line_start = true;
    else if (at_line_start && (c == ' ' || c == '-'))
      ++indent;
    else
      at_line_start = false;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (depth > kMaxNesting || indent > 4 * kMaxNesting)
      throw ConfigError(file.string() + ":" + std::to_string(line) + ": nesting deeper than " +
                        std::to_string(kMaxNesting) + " levels; not a qaccel config");
  }
}

// yaml-cpp keeps every key of a mapping and a lookup finds the first, so a repeated key would
// silently lose its later value. Reports each repeat with its key path. Collections are
// visited once (by their start mark): aliases share nodes, and a walk of every path through
// them could take exponential time.
void check_duplicate_keys(const YAML::Node& n, const std::string& path, Diagnostics& d,
                          std::set<std::pair<int, int>>& seen) {
  if (!n.IsMap() && !n.IsSequence()) return;
  if (!seen.insert({n.Mark().line, n.Mark().column}).second) return;
  if (n.IsSequence()) {
    std::size_t i = 0;
    for (const auto& item : n)
      check_duplicate_keys(item, path + "[" + std::to_string(i++) + "]", d, seen);
    return;
  }
  std::map<std::string, YAML::Mark> first;
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const std::string child = path.empty() ? key : path + "." + key;
    if (kv.first.IsScalar()) {
      auto [it, fresh] = first.emplace(key, kv.first.Mark());
      if (!fresh)
        d.error(kv.first.Mark(), child,
                "duplicate key '" + key + "' (first at line " +
                    std::to_string(it->second.line + 1) + "); each key may appear once");
    }
    check_duplicate_keys(kv.second, child, d, seen);
  }
}

}  // namespace

YAML::Node load_yaml_file(const std::filesystem::path& file) {
  return load_yaml_text(read_regular_file(file, kMaxConfigBytes, ""), file);
}

YAML::Node load_yaml_text(const std::string& text, const std::filesystem::path& file) {
  if (text.find('\0') != std::string::npos)
    throw ConfigError(file.string() + ": contains NUL bytes; not a YAML text file");
  check_nesting(text, file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  Diagnostics d(file);
  std::set<std::pair<int, int>> seen;
  check_duplicate_keys(root, "", d, seen);
  d.throw_if_errors();
  return root;
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

MapReader::MapReader(const YAML::Node& node, std::string path, Diagnostics& diag)
    : node_(node), path_(std::move(path)), diag_(diag) {
  if (!node_.IsMap()) {
    valid_ = false;
    diag_.error(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark(), path_,
                "expected a mapping of keys, found " + describe(node_));
  }
}

bool MapReader::has(const std::string& key) const {
  return valid_ && at(key).IsDefined();
}

void MapReader::error(const std::string& key, const std::string& msg) {
  YAML::Mark m = node_.Mark();
  if (valid_ && !key.empty() && at(key).IsDefined()) m = at(key).Mark();
  diag_.error(m, key.empty() ? path_ : path(key), msg);
}

YAML::Node MapReader::child(const std::string& key) {
  known_.insert(key);
  if (!valid_) return YAML::Node();
  return at(key);
}

MapReader MapReader::map(const std::string& key) {
  known_.insert(key);
  YAML::Node n = valid_ ? at(key) : YAML::Node();
  if (!n.IsDefined()) {
    if (valid_) error("", "missing required key '" + key + "'");
    MapReader r(YAML::Node(YAML::NodeType::Map), path(key), diag_);
    r.valid_ = false;
    return r;
  }
  return MapReader(n, path(key), diag_);
}

std::optional<std::string> MapReader::scalar(const std::string& key, const char* expected) {
  known_.insert(key);
  if (!valid_) return std::nullopt;
  YAML::Node n = at(key);
  if (!n.IsDefined()) return std::nullopt;
  if (!n.IsScalar()) {
    error(key, std::string("expected ") + expected + ", found " + describe(n));
    return std::string();  // present but bad: caller must not apply the default
  }
  return n.Scalar();
}

long long MapReader::integer(const std::string& key, long long lo, long long hi,
                             std::optional<long long> def) {
  std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  auto s = scalar(key, expected.c_str());
  if (!s) {
    if (!def && valid_) error("", "missing required key '" + key + "' (" + expected + ")");
    return def.value_or(0);
  }
  long long v = 0;
  if (!at(key).IsScalar()) return def.value_or(0);
  if (!parse_int64(*s, v)) {
    error(key, "expected " + expected + ", found '" + *s + "'");
    return def.value_or(0);
  }
  if (v < lo || v > hi) {
    error(key, "expected " + expected + ", found " + std::to_string(v));
    return def.value_or(0);
  }
  return v;
}

double MapReader::number(const std::string& key, double lo, double hi, std::optional<double> def) {
  std::ostringstream e;
  e << "a number in [" << lo << ", " << hi << "]";
  std::string expected = e.str();
  auto s = scalar(key, expected.c_str());
  if (!s) {
    if (!def && valid_) error("", "missing required key '" + key + "' (" + expected + ")");
    return def.value_or(0.0);
  }
  double v = 0;
  if (!at(key).IsScalar()) return def.value_or(0.0);
  if (!parse_double(*s, v)) {
    error(key, "expected " + expected + ", found '" + *s + "'");
    return def.value_or(0.0);
  }
  if (v < lo || v > hi) {
    error(key, "expected " + expected + ", found " + *s);
    return def.value_or(0.0);
  }
  return v;
}

bool MapReader::boolean(const std::string& key, std::optional<bool> def) {
  auto s = scalar(key, "true or false");
  if (!s) {
    if (!def && valid_) error("", "missing required key '" + key + "' (true or false)");
    return def.value_or(false);
  }
  if (*s == "true") return true;
  if (*s == "false") return false;
  if (at(key).IsScalar()) error(key, "expected true or false, found '" + *s + "'");
  return def.value_or(false);
}

std::string MapReader::string(const std::string& key, std::optional<std::string> def) {
  auto s = scalar(key, "a string");
  if (!s) {
    if (!def && valid_) error("", "missing required key '" + key + "' (a string)");
    return def.value_or("");
  }
  if (at(key).IsScalar() && s->empty()) error(key, "expected a non-empty string");
  return *s;
}

std::string MapReader::name(const std::string& key, std::optional<std::string> def) {
  std::string s = string(key, std::move(def));
  // Names land in tables, file names, SVG titles and terminals: printable UTF-8, bounded.
  constexpr std::size_t kMaxName = 200;
  if (s.size() > kMaxName) {
    error(key, "a name of " + std::to_string(s.size()) + " bytes, more than " +
                   std::to_string(kMaxName));
    return s;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      error(key, "a name may not contain control characters (byte " + std::to_string(c) +
                     " at offset " + std::to_string(i) + ")");
      return s;
    }
    if (c >= 0x80) {
      std::size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      bool ok = n && i + n <= s.size();
      for (std::size_t k = 1; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (!ok) {
        error(key, "a name must be UTF-8 text (invalid byte at offset " + std::to_string(i) + ")");
        return s;
      }
      i += n - 1;
    }
  }
  return s;
}

std::string MapReader::choice(const std::string& key, const std::vector<std::string>& allowed,
                              std::optional<std::string> def) {
  std::string expected = "one of " + join(allowed, ", ");
  auto s = scalar(key, expected.c_str());
  if (!s) {
    if (!def && valid_) error("", "missing required key '" + key + "' (" + expected + ")");
    return def.value_or("");
  }
  for (const auto& a : allowed)
    if (*s == a) return *s;
  if (at(key).IsScalar()) {
    std::string hint = nearest(*s, allowed);
    error(key, "found '" + *s + "', expected " + expected +
                   (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  return def.value_or(allowed.front());
}

void MapReader::finish() {
  if (!valid_) return;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& kv : node_) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (known_.count(key)) continue;
    std::string hint = nearest(key, known);
    diag_.error(kv.first.Mark(), path(key),
                "unknown key" + (hint.empty() ? "; known keys: " + join(known, ", ")
                                              : " (did you mean '" + hint + "'?)"));
  }
}

}  // namespace qaccel::config
