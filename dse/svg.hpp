#pragma once
// Minimal SVG charts written by qaccel itself: axes (linear or log), ticks, labels, legend,
// points, lines and point labels. Readable in any browser.
#include <cstdint>
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

// A Gantt chart of one run: a lane per unit, a bar per op coloured by its kind, time in cycles.
struct GanttKind {
  std::string name, color;
};
struct GanttBar {
  int lane = 0, kind = 0;           // indexes into lanes and kinds
  std::int64_t begin = 0, end = 0;  // cycles
  std::string tip;                  // tooltip
};
struct Gantt {
  std::string title, subtitle;
  std::vector<std::string> lanes, lane_notes;  // top to bottom; a note right of each lane
  std::vector<GanttKind> kinds;                // the legend, in this order
  std::vector<GanttBar> bars;
  std::int64_t span = 0;    // the axis runs from 0 to span cycles
  double ns_per_cycle = 0;  // > 0: tick labels also in microseconds
};

// Each lane is a <g class="lane" data-unit="NAME">. The file stays bounded whatever the op
// count: in each lane, consecutive bars narrower than a pixel with less than a pixel between
// them are drawn as one rectangle (the kind with the most cycles in it gives its colour, the
// busy fraction its opacity), so a lane holds at most about two shapes per pixel of width.
std::string render_gantt_svg(const Gantt& g);

}  // namespace qaccel::dse
