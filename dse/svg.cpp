#include "dse/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace qaccel::dse {

namespace {

constexpr double kW = 900, kH = 580, kLeft = 90, kRight = 230, kTop = 60, kBottom = 70;

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
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
        if (i < s.labels.size() && !s.labels[i].empty())
          o << "<text x=\"" << x + 6 << "\" y=\"" << y - 6 << "\" font-size=\"10\" fill=\"#333\">"
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

}  // namespace qaccel::dse
