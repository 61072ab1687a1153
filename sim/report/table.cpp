#include "sim/report/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "sim/base/error.hpp"

namespace qaccel {

TableFormat parse_table_format(const std::string& s, const std::string& option) {
  if (s == "table") return TableFormat::table;
  if (s == "csv") return TableFormat::csv;
  if (s == "json") return TableFormat::json;
  throw ConfigError(option + ": found '" + s + "', expected table, csv or json");
}

void Table::add_column(std::string name, bool numeric) {
  names_.push_back(std::move(name));
  numeric_.push_back(numeric);
}

void Table::add_row(std::vector<std::string> cells) {
  QACCEL_ASSERT(cells.size() == names_.size(), "table row width");
  rows_.push_back(std::move(cells));
}

// Length of the valid UTF-8 sequence at s[i], 0 when it is not one (overlong, surrogate,
// beyond U+10FFFF, truncated).
static std::size_t utf8_length(const std::string& s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  std::uint32_t cp = n == 1 ? c : c & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (b(i + k) & 0x3f);
  }
  static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {  // JSON is UTF-8: an invalid byte becomes U+FFFD
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        o += "\\ufffd";
        continue;
      }
      o.append(s, i, n);
      i += n - 1;
      continue;
    }
    if (c == '"' || c == '\\')
      o += '\\', o += char(c);
    else if (c == '\n')
      o += "\\n";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else
      o += char(c);
  }
  return o + "\"";
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s)
    o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

namespace {

// A cell as a terminal shows it: invalid UTF-8 becomes U+FFFD and control characters '?' (a
// name holding an escape sequence must not drive the terminal); with its width in code points.
std::string printable(const std::string& s, bool controls) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        o += "\xEF\xBF\xBD";
        continue;
      }
      o.append(s, i, n);
      i += n - 1;
    } else if (controls && (c < 0x20 || c == 0x7f)) {
      o += '?';
    } else {
      o += char(c);
    }
  }
  return o;
}

std::size_t width(const std::string& s) {  // s is valid UTF-8 (printable's output)
  std::size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void write_csv_row(std::ostream& os, const std::vector<std::string>& cells) {
  for (std::size_t c = 0; c < cells.size(); ++c)
    os << (c ? "," : "") << csv_escape(printable(cells[c], false));
  os << "\n";
}

void Table::render(std::ostream& os, TableFormat f) const {
  const std::size_t nc = names_.size();
  if (f == TableFormat::csv) {
    write_csv_row(os, names_);
    for (const auto& r : rows_)
      write_csv_row(os, r);
    return;
  }
  if (f == TableFormat::json) {
    os << "[";
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      os << (i ? ",\n " : "\n ") << "{";
      for (std::size_t c = 0; c < nc; ++c) {
        os << (c ? ", " : "") << json_escape(names_[c]) << ": ";
        const std::string& v = rows_[i][c];
        os << (numeric_[c] && !v.empty() ? v : json_escape(v));
      }
      os << "}";
    }
    os << "\n]\n";
    return;
  }
  std::vector<std::size_t> w(nc);
  for (std::size_t c = 0; c < nc; ++c) {
    w[c] = width(printable(names_[c], true));
    for (const auto& r : rows_)
      w[c] = std::max(w[c], width(printable(r[c], true)));
  }
  auto line = [&](const std::vector<std::string>& raw) {
    std::string out;
    for (std::size_t c = 0; c < nc; ++c) {
      const std::string cell = printable(raw[c], true);
      std::string pad(w[c] - width(cell), ' ');
      out += c ? "  " : "";
      out += numeric_[c] ? pad + cell : cell + (c + 1 < nc ? pad : "");
    }
    os << out << "\n";
  };
  line(names_);
  std::vector<std::string> rule(nc);
  for (std::size_t c = 0; c < nc; ++c)
    rule[c] = std::string(w[c], '-');
  line(rule);
  for (const auto& r : rows_)
    line(r);
}

std::string human(double v) {
  char buf[32];
  double a = std::fabs(v);
  if (a < 10000 && v == std::floor(v))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a < 1e3)
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else if (a < 1e6)
    std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else if (a < 1e9)
    std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (a < 1e12)
    std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
  else
    std::snprintf(buf, sizeof buf, "%.3gT", v / 1e12);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace qaccel
