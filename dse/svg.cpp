#include "dse/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>

namespace qaccel::dse {

namespace {

constexpr double kW = 900, kH = 580, kLeft = 90, kRight = 230, kTop = 60, kBottom = 70;

// Text for XML content and attributes. XML 1.0 forbids most control characters even as
// character references, and names come from files and databases: a forbidden character or
// a byte that is not UTF-8 becomes U+FFFD, so the SVG stays well-formed whatever the input.
std::string esc(const std::string& s) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string o;
  o.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      if (c == '<')
        o += "&lt;";
      else if (c == '>')
        o += "&gt;";
      else if (c == '&')
        o += "&amp;";
      else if (c == '"')
        o += "&quot;";
      else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
        o += kReplacement;
      else if (c == 0x7f)
        o += kReplacement;
      else
        o += char(c);
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, then continuation bytes, no
    // overlong form, no surrogate, nothing past U+10FFFF, and not U+FFFE/U+FFFF.
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    std::uint32_t cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0Fu : c & 0x1Fu;
    bool ok = len != 0 && c <= 0xF4 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
         cp != 0xFFFE && cp != 0xFFFF && !(cp >= 0x80 && cp <= 0x9F);
    if (ok) {
      o.append(s, i, len);
      i += len;
    } else {
      o += kReplacement;
      ++i;
    }
  }
  return o;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Axis {
  bool log;
  double lo, hi;
  double map(double v, double a, double b) const {
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                   : (v - lo) / (hi - lo);
    return a + t * (b - a);
  }
  bool ok(double v) const { return std::isfinite(v) && (!log || v > 0); }
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      for (double e = std::floor(std::log10(lo)); e <= std::ceil(std::log10(hi)); ++e) {
        double v = std::pow(10.0, e);
        if (v >= lo * 0.999 && v <= hi * 1.001) t.push_back(v);
      }
      return t;
    }
    double span = hi - lo, raw = span / 6, mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = raw / mag < 1.5   ? mag
                  : raw / mag < 3.5 ? 2 * mag
                  : raw / mag < 7.5 ? 5 * mag
                                    : 10 * mag;
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
      t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
    return t;
  }
};

Axis fit(const Chart& c, bool x) {
  bool log = x ? c.logx : c.logy;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : c.series)
    for (auto [px, py] : s.points) {
      double v = x ? px : py;
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (!std::isfinite(lo)) lo = log ? 1 : 0, hi = log ? 10 : 1;
  if (log) {
    lo = std::pow(10.0, std::floor(std::log10(lo))), hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (hi <= lo) hi = lo * 10;
  } else {
    double pad = (hi - lo) * 0.08;
    if (pad == 0) pad = std::fabs(hi) * 0.1 + 1;
    lo -= pad, hi += pad;
  }
  return {log, lo, hi};
}

}  // namespace

std::string render_svg(const Chart& c) {
  Axis ax = fit(c, true), ay = fit(c, false);
  const double x0 = kLeft, x1 = kW - kRight, y0 = kH - kBottom, y1 = kTop;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH
    << "\" viewBox=\"0 0 " << kW << " " << kH
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << (x0 + x1) / 2
    << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" << esc(c.title)
    << "</text>\n";
  if (!c.subtitle.empty())
    o << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">"
      << esc(c.subtitle) << "</text>\n";
  // Grid and ticks.
  for (double t : ax.ticks()) {
    double x = ax.map(t, x0, x1);
    o << "<line x1=\"" << x << "\" y1=\"" << y0 << "\" x2=\"" << x << "\" y2=\"" << y1
      << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<line x1=\"" << x << "\" y1=\"" << y0 << "\" x2=\"" << x << "\" y2=\"" << y0 + 5
      << "\" stroke=\"black\"/>\n";
    o << "<text x=\"" << x << "\" y=\"" << y0 + 19 << "\" text-anchor=\"middle\">" << num(t)
      << "</text>\n";
  }
  for (double t : ay.ticks()) {
    double y = ay.map(t, y0, y1);
    o << "<line x1=\"" << x0 << "\" y1=\"" << y << "\" x2=\"" << x1 << "\" y2=\"" << y
      << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<line x1=\"" << x0 - 5 << "\" y1=\"" << y << "\" x2=\"" << x0 << "\" y2=\"" << y
      << "\" stroke=\"black\"/>\n";
    o << "<text x=\"" << x0 - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << num(t)
      << "</text>\n";
  }
  o << "<rect x=\"" << x0 << "\" y=\"" << y1 << "\" width=\"" << x1 - x0 << "\" height=\""
    << y0 - y1 << "\" fill=\"none\" stroke=\"black\"/>\n";
  o << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << kH - 22
    << "\" text-anchor=\"middle\" font-size=\"13\">" << esc(c.xlabel) << (c.logx ? " (log)" : "")
    << "</text>\n";
  o << "<text transform=\"translate(22," << (y0 + y1) / 2
    << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">" << esc(c.ylabel)
    << (c.logy ? " (log)" : "") << "</text>\n";
  // Series, clipped to the plot area.
  o << "<clipPath id=\"plot\"><rect x=\"" << x0 << "\" y=\"" << y1 << "\" width=\"" << x1 - x0
    << "\" height=\"" << y0 - y1 << "\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n";
  for (const Series& s : c.series) {
    if (s.line) {
      o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
      for (auto [px, py] : s.points)
        if (ax.ok(px) && ay.ok(py)) o << ax.map(px, x0, x1) << "," << ay.map(py, y0, y1) << " ";
      o << "\"/>\n";
    }
    if (s.markers)
      for (std::size_t i = 0; i < s.points.size(); ++i) {
        auto [px, py] = s.points[i];
        if (!ax.ok(px) || !ay.ok(py)) continue;
        double x = ax.map(px, x0, x1), y = ay.map(py, y0, y1);
        o << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"" << s.radius << "\" fill=\""
          << s.color << "\" fill-opacity=\"0.8\"><title>"
          << esc(i < s.labels.size() ? s.labels[i] : s.name) << " (" << num(px) << ", " << num(py)
          << ")</title></circle>\n";
        // A label in the right third of the plot ends at its point so the frame does not cut it.
        const bool right = x > x0 + (x1 - x0) * 2 / 3;
        if (i < s.labels.size() && !s.labels[i].empty())
          o << "<text x=\"" << (right ? x - 6 : x + 6) << "\" y=\"" << y - 6
            << "\" font-size=\"10\" fill=\"#333\"" << (right ? " text-anchor=\"end\"" : "") << ">"
            << esc(s.labels[i]) << "</text>\n";
      }
  }
  o << "</g>\n";
  // Legend.
  double ly = y1 + 10;
  for (const Series& s : c.series) {
    if (s.name.empty()) continue;
    double lx = x1 + 16;
    if (s.line)
      o << "<line x1=\"" << lx << "\" y1=\"" << ly << "\" x2=\"" << lx + 18 << "\" y2=\"" << ly
        << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n";
    if (s.markers)
      o << "<circle cx=\"" << lx + 9 << "\" cy=\"" << ly << "\" r=\"4\" fill=\"" << s.color
        << "\"/>\n";
    o << "<text x=\"" << lx + 26 << "\" y=\"" << ly + 4 << "\">" << esc(s.name) << "</text>\n";
    ly += 20;
  }
  o << "</svg>\n";
  return o.str();
}

namespace {

// Tick labels: 950, 12k, 1.5M, 2G.
std::string si(double v) {
  const char* suffix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (std::fabs(v) >= 1000 && i < 4)
    v /= 1000, ++i;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, suffix[i]);
  return buf;
}

// Coordinates with two decimals: enough for a screen, and the same bytes every run.
std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0')
    s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

}  // namespace

std::string render_gantt_svg(const Gantt& g) {
  constexpr double W = 1100, left = 120, right = 150, top = 64, lane_h = 30, lane_gap = 10;
  const double x0 = left, x1 = W - right, pw = x1 - x0;
  const double lanes_h = double(g.lanes.size()) * (lane_h + lane_gap);
  const double axis_y = top + lanes_h;
  // Legend rows under the axis, wrapped to the width.
  std::vector<std::pair<double, double>> legend_at;  // per kind
  {
    double lx = x0, ly = axis_y + 66;
    for (const GanttKind& k : g.kinds) {
      const double w = 26 + 7.0 * double(k.name.size()) + 18;
      if (lx + w > W - 20 && lx > x0) lx = x0, ly += 20;
      legend_at.emplace_back(lx, ly);
      lx += w;
    }
  }
  const double H = (legend_at.empty() ? axis_y + 66 : legend_at.back().second) + 34;
  const double span = double(std::max<std::int64_t>(g.span, 1));
  auto xof = [&](double cycles) { return x0 + cycles / span * pw; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << px(W) << "\" height=\"" << px(H)
    << "\" viewBox=\"0 0 " << px(W) << " " << px(H)
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << px(W / 2)
    << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" << esc(g.title)
    << "</text>\n";
  if (!g.subtitle.empty())
    o << "<text x=\"" << px(W / 2) << "\" y=\"44\" text-anchor=\"middle\" fill=\"#555\">"
      << esc(g.subtitle) << "</text>\n";

  // Time axis: grid lines through the lanes, ticks and labels in cycles, and in the time unit
  // (ns, us, ms or s) that keeps the span's labels short.
  const Axis ax{false, 0, span};
  const char* unit = "ns";
  double per_unit = 1;  // ns per unit
  for (auto [u, f] : {std::pair{"\u00b5s", 1e3}, std::pair{"ms", 1e6}, std::pair{"s", 1e9}})
    if (span * g.ns_per_cycle >= 10 * f) unit = u, per_unit = f;
  for (double t : ax.ticks()) {
    const double x = xof(t);
    o << "<line x1=\"" << px(x) << "\" y1=\"" << px(top - 4) << "\" x2=\"" << px(x) << "\" y2=\""
      << px(axis_y + 5) << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text x=\"" << px(x) << "\" y=\"" << px(axis_y + 19) << "\" text-anchor=\"middle\">"
      << si(t) << "</text>\n";
    if (g.ns_per_cycle > 0)
      o << "<text x=\"" << px(x) << "\" y=\"" << px(axis_y + 33)
        << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#777\">"
        << num(t * g.ns_per_cycle / per_unit) << " " << unit << "</text>\n";
  }
  o << "<line x1=\"" << px(x0) << "\" y1=\"" << px(axis_y) << "\" x2=\"" << px(x1) << "\" y2=\""
    << px(axis_y) << "\" stroke=\"black\"/>\n";
  o << "<text x=\"" << px((x0 + x1) / 2) << "\" y=\"" << px(axis_y + 50)
    << "\" text-anchor=\"middle\" font-size=\"13\">time (cycles"
    << (g.ns_per_cycle > 0 ? std::string("; ") + unit + " below" : std::string()) << ")</text>\n";

  // Lanes.
  std::vector<std::vector<const GanttBar*>> by_lane(g.lanes.size());
  for (const GanttBar& b : g.bars)
    if (b.lane >= 0 && std::size_t(b.lane) < g.lanes.size())
      by_lane[std::size_t(b.lane)].push_back(&b);
  std::size_t merged_groups = 0, merged_bars = 0;
  for (std::size_t l = 0; l < g.lanes.size(); ++l) {
    const double y = top + double(l) * (lane_h + lane_gap);
    o << "<g class=\"lane\" data-unit=\"" << esc(g.lanes[l]) << "\">\n";
    o << "<rect x=\"" << px(x0) << "\" y=\"" << px(y) << "\" width=\"" << px(pw) << "\" height=\""
      << px(lane_h) << "\" fill=\"#f4f4f4\"/>\n";
    o << "<text x=\"" << px(x0 - 8) << "\" y=\"" << px(y + lane_h / 2 + 4)
      << "\" text-anchor=\"end\" font-weight=\"bold\">" << esc(g.lanes[l]) << "</text>\n";
    if (l < g.lane_notes.size())
      o << "<text x=\"" << px(x1 + 8) << "\" y=\"" << px(y + lane_h / 2 + 4) << "\" fill=\"#333\">"
        << esc(g.lane_notes[l]) << "</text>\n";
    auto& bars = by_lane[l];
    std::stable_sort(bars.begin(), bars.end(),
                     [](const GanttBar* a, const GanttBar* b) { return a->begin < b->begin; });
    auto rect = [&](double a, double b, const std::string& color, double opacity,
                    const std::string& tip) {
      o << "<rect x=\"" << px(a) << "\" y=\"" << px(y + 2) << "\" width=\""
        << px(std::max(b - a, 1.0)) << "\" height=\"" << px(lane_h - 4) << "\" fill=\"" << color
        << "\"";
      if (opacity < 1) o << " fill-opacity=\"" << px(opacity) << "\"";
      o << "><title>" << esc(tip) << "</title></rect>\n";
    };
    // A run of sub-pixel bars being merged.
    struct Group {
      std::size_t n = 0;
      std::int64_t begin = 0, end = 0, busy = 0;
      std::vector<std::int64_t> cycles_by_kind;
      const GanttBar* only = nullptr;
    } grp;
    auto flush = [&] {
      if (grp.n == 0) return;
      if (grp.n == 1) {
        rect(xof(double(grp.only->begin)), xof(double(grp.only->end)),
             g.kinds[std::size_t(grp.only->kind)].color, 1, grp.only->tip);
      } else {
        const std::size_t k =
            std::size_t(std::max_element(grp.cycles_by_kind.begin(), grp.cycles_by_kind.end()) -
                        grp.cycles_by_kind.begin());
        const double busy =
            double(grp.busy) / double(std::max<std::int64_t>(grp.end - grp.begin, 1));
        rect(xof(double(grp.begin)), xof(double(grp.end)), g.kinds[k].color,
             std::clamp(busy, 0.3, 1.0),
             std::to_string(grp.n) + " ops in cycles " + std::to_string(grp.begin) + "-" +
                 std::to_string(grp.end) + " (each narrower than a pixel; mostly " +
                 g.kinds[k].name + ", busy " + num(100 * busy) + "%)");
        ++merged_groups, merged_bars += grp.n;
      }
      grp = Group{};
    };
    for (const GanttBar* b : bars) {
      const double a = xof(double(b->begin)), e = xof(double(b->end));
      if (e - a >= 1.0) {
        flush();
        rect(a, e, g.kinds[std::size_t(b->kind)].color, 1, b->tip);
        continue;
      }
      if (grp.n > 0 && a - xof(double(grp.end)) >= 1.0) flush();
      if (grp.n == 0) grp.begin = b->begin, grp.cycles_by_kind.assign(g.kinds.size(), 0);
      ++grp.n, grp.only = b;
      grp.end = std::max(grp.end, b->end), grp.busy += b->end - b->begin;
      grp.cycles_by_kind[std::size_t(b->kind)] += b->end - b->begin;
    }
    flush();
    o << "</g>\n";
  }

  // Legend, and a note on merged bars.
  for (std::size_t k = 0; k < g.kinds.size(); ++k) {
    auto [lx, ly] = legend_at[k];
    o << "<rect x=\"" << px(lx) << "\" y=\"" << px(ly - 10)
      << "\" width=\"18\" height=\"12\" fill=\"" << g.kinds[k].color << "\"/>\n<text x=\""
      << px(lx + 24) << "\" y=\"" << px(ly) << "\">" << esc(g.kinds[k].name) << "</text>\n";
  }
  if (merged_groups)
    o << "<text x=\"" << px(x0) << "\" y=\"" << px(H - 10) << "\" font-size=\"10\" fill=\"#777\">"
      << merged_bars << " ops narrower than a pixel drawn as " << merged_groups
      << " merged bars (hover for their count; lighter: partly idle)</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace qaccel::dse
