#pragma once
// Minimal SVG charts written by qaccel itself: axes (linear or log), ticks, labels, legend,
// points, lines and point labels. Readable in any browser.
#include <string>
#include <utility>
#include <vector>

namespace qaccel::dse {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
  std::vector<std::string> labels;  // optional, one per point
  bool line = false, markers = true;
  double radius = 4;
};

struct Chart {
  std::string title, subtitle, xlabel, ylabel;
  bool logx = false, logy = false;
  std::vector<Series> series;
};

// Points that cannot be drawn (non-positive on a log axis, not finite) are skipped.
std::string render_svg(const Chart& c);

}  // namespace qaccel::dse
