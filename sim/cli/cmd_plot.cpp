#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "dse/db.hpp"
#include "dse/svg.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/report/table.hpp"
#include "sim/simulate.hpp"

namespace qaccel::cli {

namespace {

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                         "#8c564b", "#e377c2", "#17becf", "#bcbd22"};

std::string find_hash(dse::Db& db, const std::string& prefix) {
  dse::Stmt st = db.prepare(
      "SELECT hash FROM runs WHERE hash LIKE ? || '%' AND status IN ('ok', 'infeasible')");
  st.bind(1, prefix);
  std::vector<std::string> h;
  while (st.step())
    h.push_back(st.text(0));
  if (prefix.size() < 4 || h.size() != 1)
    throw ConfigError("--run '" + prefix +
                      "': " + (h.empty() ? "no finished run with that hash prefix" : "ambiguous") +
                      " in " + db.path().string() + " (ids come from `qaccel query runs`)");
  return h[0];
}

dse::Chart roofline(dse::Db& db, const std::string& hash, int step) {
  dse::Chart c;
  double bw = 0;
  {
    dse::Stmt st = db.prepare("SELECT peak_dram_bytes_per_cycle FROM metrics WHERE hash = ?");
    st.bind(1, hash);
    if (st.step()) bw = st.real(0);
  }
  dse::Stmt st = db.prepare(
      "SELECT name, unit, intensity, attained_flops_per_cycle, peak_flops_per_cycle FROM "
      "op_metrics "
      "WHERE hash = ? AND step = ? ORDER BY idx");
  st.bind(1, hash).bind(2, step);
  // Layers repeat the same ops: one point per op role ("wq", "attn_score", ...) and unit.
  std::map<std::string, std::size_t> unit_series;
  std::map<std::string, double> peaks;
  std::map<std::string, bool> seen;
  int hidden = 0;
  double xmin = 1e300, xmax = 0;
  const std::regex layer(R"(^L\d+\.)");
  while (st.step()) {
    std::string unit = st.text(1), role = std::regex_replace(st.text(0), layer, "");
    double x = st.real(2), y = st.real(3);
    peaks[unit] = st.real(4);
    if (x <= 0 || y <= 0) {
      ++hidden;
      continue;
    }
    if (seen[unit + "/" + role]) continue;
    seen[unit + "/" + role] = true;
    if (!unit_series.count(unit)) {
      unit_series[unit] = c.series.size();
      dse::Series s;
      s.name = "ops on " + unit;
      s.color = kColors[unit_series.size() % 8];
      c.series.push_back(s);
    }
    dse::Series& s = c.series[unit_series[unit]];
    s.points.emplace_back(x, y);
    s.labels.push_back(role);
    xmin = std::min(xmin, x), xmax = std::max(xmax, x);
  }
  if (c.series.empty())
    throw ConfigError("run " + hash.substr(0, 12) + " has no op with DRAM traffic to plot");
  // One roof per unit: min(peak, bandwidth x intensity), drawn across the data's range.
  for (const auto& [unit, peak] : peaks)
    if (unit_series.count(unit))
      xmin = std::min(xmin, peak / bw / 3), xmax = std::max(xmax, peak / bw * 3);
  xmin = std::pow(10.0, std::floor(std::log10(xmin))),
  xmax = std::pow(10.0, std::ceil(std::log10(xmax)));
  int i = 0;
  for (const auto& [unit, peak] : peaks) {
    if (!unit_series.count(unit)) continue;
    dse::Series roof;
    roof.name = "roof " + unit + ": " + human(peak) + " FLOP/c";
    roof.color = kColors[(unit_series[unit] + 1) % 8];
    roof.line = true, roof.markers = false;
    double ridge = peak / bw;
    for (double x : {xmin, ridge, xmax})
      if (x >= xmin && x <= xmax) roof.points.emplace_back(x, std::min(peak, bw * x));
    c.series.push_back(roof);
    ++i;
  }
  c.title = "Roofline of run " + hash.substr(0, 12);
  c.subtitle =
      "pass " + std::to_string(step) + ", one point per op role, DRAM " + human(bw) + " B/cycle" +
      (hidden ? "; " + std::to_string(hidden) + " ops without DRAM traffic not shown" : "");
  c.xlabel = "arithmetic intensity (FLOP per DRAM byte)";
  c.ylabel = "attained FLOP per cycle";
  c.logx = c.logy = true;
  return c;
}

// The sweep's finished designs (those --where keeps); a point is labelled with its `design`
// parameter (a design-list sweep) or else its hash prefix.
dse::Chart pareto(dse::Db& db, const std::string& sweep, const RunFilter& filter,
                  const std::string& where_text, const std::string& x, const std::string& y) {
  for (const std::string& m : {x, y})
    if (std::find(metric_names().begin(), metric_names().end(), m) == metric_names().end())
      throw ConfigError("unknown metric '" + m + "'; known: " + join(metric_names(), ", "));
  dse::Stmt st =
      db.prepare("SELECT m.hash, m." + x + ", m." + y +
                 ", (SELECT value FROM params p WHERE p.hash = m.hash AND p.name = 'design')"
                 " FROM metrics m JOIN runs r ON r.hash = m.hash AND r.status = 'ok' WHERE " +
                 filter.sql("m.hash") + " ORDER BY m.hash");
  filter.bind(st, 1);
  struct P {
    std::string hash;
    double x, y;
    std::string label;
  };
  std::vector<P> pts;
  while (st.step()) {
    P p{st.text(0), st.real(1), st.real(2), st.text(3)};
    if (p.label.empty()) p.label = p.hash.substr(0, 6);
    pts.push_back(std::move(p));
  }
  if (pts.empty())
    throw ConfigError("sweep '" + sweep + "' has no finished designs" +
                      (where_text.empty() ? "" : " with " + where_text) + " in " +
                      db.path().string());
  const double sx = larger_is_better(x) ? -1 : 1, sy = larger_is_better(y) ? -1 : 1;
  auto dominated = [&](const P& p) {
    for (const P& q : pts)
      if (sx * q.x <= sx * p.x && sy * q.y <= sy * p.y &&
          (sx * q.x < sx * p.x || sy * q.y < sy * p.y))
        return true;
    return false;
  };
  dse::Series all, front;
  all.name = "designs (" + std::to_string(pts.size()) + ")", all.color = "#9aa5b1", all.radius = 3;
  front.name = "Pareto front", front.color = "#d62728", front.line = true;
  std::vector<P> fp;
  for (const P& p : pts) {
    all.points.emplace_back(p.x, p.y);
    if (!dominated(p)) fp.push_back(p);
  }
  std::sort(fp.begin(), fp.end(), [](const P& a, const P& b) { return a.x < b.x; });
  // A few designs are all labelled (a design list); many, only the front's.
  const bool label_all = pts.size() <= 24;
  // Designs at (nearly) the same point share one label ("ant, olive") instead of overprinting:
  // within 2% of each axis' span.
  double x0 = pts[0].x, x1 = x0, y0 = pts[0].y, y1 = y0;
  for (const P& p : pts)
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  std::vector<std::string> labels(pts.size());
  for (std::size_t i = 0; i < pts.size() && label_all; ++i) {
    std::size_t first = i;
    for (std::size_t j = 0; j < i; ++j)
      if (std::abs(pts[j].x - pts[i].x) <= 0.02 * (x1 - x0) &&
          std::abs(pts[j].y - pts[i].y) <= 0.02 * (y1 - y0)) {
        first = j;
        break;
      }
    labels[first] += (labels[first].empty() ? "" : ", ") + pts[i].label;
  }
  for (std::size_t i = 0; i < pts.size(); ++i)
    all.labels.push_back(labels[i]);
  for (const P& p : fp)
    front.points.emplace_back(p.x, p.y), front.labels.push_back(label_all ? "" : p.label);
  dse::Chart c;
  c.title = "Sweep " + sweep + ": " + y + " vs " + x;
  c.subtitle = (where_text.empty() ? "" : where_text + "; ") + std::to_string(fp.size()) +
               " Pareto-optimal of " + std::to_string(pts.size()) + " designs (" +
               (sx > 0 ? "min " : "max ") + x + ", " + (sy > 0 ? "min " : "max ") + y + ")";
  c.xlabel = x, c.ylabel = y;
  auto wide = [&](auto get) {
    double lo = 1e300, hi = 0;
    for (const P& p : pts)
      lo = std::min(lo, get(p)), hi = std::max(hi, get(p));
    return lo > 0 && hi / lo > 50;
  };
  c.logx = wide([](const P& p) { return p.x; });
  c.logy = wide([](const P& p) { return p.y; });
  c.series = {all, front};
  return c;
}

// One colour per op kind, fixed by the kind (the same kind looks the same in every timeline).
const char* kColors12[] = {"#7f7f7f", "#bcbd22", "#1f77b4", "#17becf", "#9467bd", "#8c564b",
                           "#ff7f0e", "#d62728", "#2ca02c", "#c7c7c7", "#e377c2", "#393b79"};

dse::Gantt timeline(dse::Db& db, const std::string& hash) {
  dse::Gantt g;
  std::int64_t cycles = 0;
  {
    dse::Stmt st = db.prepare(
        "SELECT w.model, w.workload, w.schedule, w.prefetch, w.params, m.cycles, m.latency_ms FROM "
        "runs_wide w JOIN metrics m ON m.hash = w.hash WHERE w.hash = ?");
    st.bind(1, hash);
    if (!st.step())
      throw ConfigError("run " + hash.substr(0, 12) + " has no metrics in " + db.path().string());
    cycles = st.integer(5);
    std::string params = st.text(4);
    if (params.size() > 90) params = params.substr(0, 87) + "...";
    g.ns_per_cycle = cycles > 0 ? st.real(6) * 1e6 / double(cycles) : 0;
    g.title = "Timeline of run " + hash.substr(0, 12) + ": " + st.text(0) + " / " + st.text(1);
    g.subtitle = "schedule " + st.text(2) + ", prefetch " + st.text(3) + ", makespan " +
                 std::to_string(cycles) + " cycles (" + fixed(st.real(6), 4) + " ms)" +
                 (params.empty() ? "" : "; " + params);
  }
  g.span = cycles;
  std::map<std::string, int> lane_of;
  {
    dse::Stmt st = db.prepare(
        "SELECT unit, ops, utilization, stalled_cycles FROM unit_metrics WHERE hash = ? ORDER BY "
        "idx");
    st.bind(1, hash);
    while (st.step()) {
      lane_of[st.text(0)] = int(g.lanes.size());
      g.lanes.push_back(st.text(0));
      const double stalled = cycles ? 100.0 * double(st.integer(3)) / double(cycles) : 0;
      g.lane_notes.push_back(fixed(100 * st.real(2), 1) + "% busy, " + fixed(stalled, 1) +
                             "% stall");
    }
  }
  dse::Stmt st = db.prepare(
      "SELECT name, kind, unit, step, start_cycle, end_cycle, compute_cycles, stall_cycles, "
      "waited_for FROM op_metrics WHERE hash = ? ORDER BY idx");
  st.bind(1, hash);
  std::vector<std::string> kind_of_bar;
  while (st.step()) {
    const std::string unit = st.text(2);
    if (!lane_of.count(unit)) {  // a unit without a usage row still gets its lane
      lane_of[unit] = int(g.lanes.size());
      g.lanes.push_back(unit);
    }
    dse::GanttBar b;
    b.lane = lane_of[unit];
    b.begin = st.integer(4), b.end = st.integer(5);
    b.tip = st.text(0) + " (" + st.text(1) + ", step " + st.text(3) + "): cycles " +
            std::to_string(b.begin) + "-" + std::to_string(b.end) + ", " + st.text(6) +
            " compute, " + st.text(7) + " stall" +
            (st.text(8).empty() ? "" : ", waited for " + st.text(8));
    g.bars.push_back(std::move(b));
    kind_of_bar.push_back(st.text(1));
  }
  if (g.bars.empty()) throw ConfigError("run " + hash.substr(0, 12) + " has no ops to draw");
  // The legend in the kinds' own order, each kind with its own colour.
  const std::vector<std::string> all_kinds = config::op_kind_names();
  std::map<std::string, int> kind_index;
  for (const std::string& k : kind_of_bar)
    kind_index[k] = -1;
  for (std::size_t k = 0; k < all_kinds.size(); ++k)
    if (kind_index.count(all_kinds[k])) {
      kind_index[all_kinds[k]] = int(g.kinds.size());
      g.kinds.push_back({all_kinds[k], kColors12[k % 12]});
    }
  for (auto& [name, idx] : kind_index)
    if (idx < 0) idx = int(g.kinds.size()), g.kinds.push_back({name, "#000000"});
  for (std::size_t i = 0; i < g.bars.size(); ++i)
    g.bars[i].kind = kind_index.at(kind_of_bar[i]);
  return g;
}

// Refuses an output that would destroy the input database (the file itself under any name, or
// its -wal/-shm companions) or that is no plain file: a FIFO would block the write forever.
// Character devices (/dev/null, /dev/stdout) stay allowed.
void check_output(const std::filesystem::path& out, const std::filesystem::path& db) {
  namespace fs = std::filesystem;
  struct stat o {};
  const bool exists = ::stat(out.c_str(), &o) == 0;
  if (exists && !S_ISREG(o.st_mode) && !S_ISCHR(o.st_mode))
    throw ConfigError("-o " + out.string() + ": not a regular file (" +
                      (S_ISDIR(o.st_mode)    ? "a directory"
                       : S_ISFIFO(o.st_mode) ? "a FIFO"
                                             : "not a plain file") +
                      "); give an SVG file's path");
  std::error_code ec;
  const fs::path w = fs::weakly_canonical(fs::absolute(out, ec), ec);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const fs::path in = db.string() + suffix;
    struct stat d {};
    bool same =
        exists && ::stat(in.c_str(), &d) == 0 && d.st_dev == o.st_dev && d.st_ino == o.st_ino;
    same = same || (!ec && w == fs::weakly_canonical(fs::absolute(in, ec), ec));
    if (same)
      throw ConfigError("-o " + out.string() + " is the database " + in.string() +
                        "; writing the SVG there would destroy the results");
  }
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("kind", po::value<std::string>()->required(), "roofline | pareto | timeline")(
      "db", po::value<std::string>()->default_value("results/qaccel.db"), "results database")(
      "run", po::value<std::string>(), "roofline, timeline: design id (hash prefix)")(
      "step", po::value<int>()->default_value(0), "roofline: which pass")(
      "sweep", po::value<std::string>(), "pareto: sweep name")(
      "where", po::value<std::vector<std::string>>(),
      "pareto: only runs whose swept parameter KEY has VALUE (KEY=VALUE, repeatable)")(
      "x", po::value<std::string>(), "pareto: metric on x")("y", po::value<std::string>(),
                                                            "pareto: metric on y")(
      "out,o", po::value<std::string>()->required(), "SVG file to write");
  po::positional_options_description pos;
  pos.add("kind", 1);
  po::variables_map vm;
  const std::string synopsis =
      "(roofline --run ID | pareto --sweep NAME --x M1 --y M2 [--where K=V]... |\n"
      "        timeline --run ID) -o F.svg [--db F]";
  if (!parse("plot", synopsis, "Draws a chart from the results database as a self-contained SVG.",
             opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel plot " + synopsis + "\n";
  dse::Db db = dse::Db::open(vm["db"].as<std::string>(), true);
  std::string kind = vm["kind"].as<std::string>();
  std::string svg;
  dse::Chart c;
  if (kind == "timeline") {
    if (!vm.count("run")) throw UsageError("timeline needs --run ID", usage);
    svg = dse::render_gantt_svg(timeline(db, find_hash(db, vm["run"].as<std::string>())));
  } else if (kind == "roofline") {
    if (!vm.count("run")) throw UsageError("roofline needs --run ID", usage);
    const std::string h = find_hash(db, vm["run"].as<std::string>());
    check_step(db, h, vm["step"].as<int>());
    c = roofline(db, h, vm["step"].as<int>());
  } else if (kind == "pareto") {
    if (!vm.count("sweep") || !vm.count("x") || !vm.count("y"))
      throw UsageError("pareto needs --sweep, --x and --y", usage);
    std::string where_text;
    if (vm.count("where")) where_text = join(vm["where"].as<std::vector<std::string>>(), ", ");
    c = pareto(db, vm["sweep"].as<std::string>(), RunFilter(db, vm, usage), where_text,
               vm["x"].as<std::string>(), vm["y"].as<std::string>());
  } else {
    throw UsageError("unknown plot '" + kind + "' (roofline, pareto or timeline)", usage);
  }
  if (svg.empty()) svg = dse::render_svg(c);
  check_output(vm["out"].as<std::string>(), vm["db"].as<std::string>());
  std::ofstream out(vm["out"].as<std::string>(), std::ios::trunc);
  if (!out)
    throw ConfigError("-o: cannot write " + vm["out"].as<std::string>() + " (" +
                      std::strerror(errno) + ")");
  out << svg;
  out.close();  // a full disk shows only when the buffer is written
  if (!out) throw IoError("-o: writing " + vm["out"].as<std::string>() + " failed");
  std::cout << vm["out"].as<std::string>() << "\n";
  return 0;
}

}  // namespace qaccel::cli
