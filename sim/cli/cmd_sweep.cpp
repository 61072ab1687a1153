#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "dse/driver.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/table.hpp"

namespace qaccel::cli {

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("file", po::value<std::string>()->required(),
                     "sweep file (configs/sweeps/*.yaml)")(
      "workers", po::value<int>()->default_value(0), "design points run at once (0: one per core)")(
      "db", po::value<std::string>()->default_value("results/qaccel.db"),
      "results database (SQLite)")("shard", po::value<std::string>(),
                                   "i/N: run only points whose index % N == i (0-based)")(
      "timeout", po::value<double>()->default_value(0),
      "seconds before a point is killed and recorded as timeout (0: none)")(
      "retry-failed", po::bool_switch(), "run again the designs stored as failed or timed out")(
      "quiet", po::bool_switch(), "no progress line on stderr")(
      "max-designs", po::value<std::int64_t>()->default_value(dse::kDefaultMaxDesigns),
      "refuse a grid or random sweep of more designs than this (counted before constraints)");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  const std::string synopsis =
      "FILE [--workers N] [--db results/qaccel.db] [--shard i/N] [--timeout S]\n"
      "       [--retry-failed] [--max-designs N] [--quiet]";
  if (!parse(
          "sweep", synopsis,
          "Runs a sweep's design points, each in its own process, and stores every result in the\n"
          "database. Interrupting keeps everything finished; running the same command again only\n"
          "runs what is missing. Designs are built one at a time; a grid or random sweep of more\n"
          "than --max-designs designs is refused before anything runs. Exit 4 when results\n"
          "could not be stored (full disk, I/O error): nothing is recorded as failed for it, and\n"
          "the same command resumes once the cause is fixed.",
          opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel sweep " + synopsis + "\n";
  dse::SweepOptions o;
  o.db_path = vm["db"].as<std::string>();
  o.workers = vm["workers"].as<int>();
  if (o.workers < 0) throw UsageError("--workers must be >= 0", usage);
  if (o.workers > 4096) throw UsageError("--workers: at most 4096 (one process each)", usage);
  if (o.workers == 0) o.workers = int(std::max(1u, std::thread::hardware_concurrency()));
  o.timeout_s = vm["timeout"].as<double>();
  // NaN compares false everywhere and inf never fires: both would silently mean "none".
  if (!(o.timeout_s >= 0) || !std::isfinite(o.timeout_s))
    throw UsageError("--timeout must be a finite number of seconds >= 0 (0: none)", usage);
  o.progress = !vm["quiet"].as<bool>();
  o.retry_failed = vm["retry-failed"].as<bool>();
  o.max_designs = vm["max-designs"].as<std::int64_t>();
  if (o.max_designs < 1) throw UsageError("--max-designs must be >= 1", usage);
  if (vm.count("shard")) {
    const std::string sh = vm["shard"].as<std::string>();
    auto slash = sh.find('/');
    long long i = 0, n = 0;
    if (slash == std::string::npos || !parse_int64(sh.substr(0, slash), i) ||
        !parse_int64(sh.substr(slash + 1), n) || n < 1 || n > 1000000 || i < 0 || i >= n)
      throw UsageError("--shard: expected i/N with 0 <= i < N <= 1000000, found '" + sh + "'",
                       usage);
    o.shard = int(i), o.shards = int(n);
  }
  dse::SweepSpec s = dse::load_sweep(vm["file"].as<std::string>());
  dse::SweepSummary sum = dse::run_sweep(s, o);
  if (!sum.note.empty()) std::cerr << "note: " << sum.note << "\n";
  std::cout << "sweep " << s.name << ": " << sum.points << " design points; ran " << sum.ran
            << ", already stored " << sum.skipped << "; ok " << sum.ok << ", failed " << sum.failed
            << ", timeout " << sum.timeouts << ", infeasible " << sum.infeasible << "\ndatabase "
            << o.db_path.string() << "\n";
  if (!sum.rows.empty()) {
    // A design list: every point side by side (relative to the baseline design, if any).
    Table t;
    for (const char* c : {"design", "model", "workload", "status"})
      t.add_column(c);
    std::vector<std::string> cols = {"latency_ms", "energy_uj_per_token", "area_mm2",
                                     "tokens_per_s_per_mm2"};
    if (!s.baseline.empty()) cols.insert(cols.end(), {"speedup", "energy_ratio"});
    for (const std::string& c : cols)
      t.add_column(c, true);
    auto num = [](const std::optional<double>& v) {
      if (!v) return std::string();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", *v);
      return std::string(buf);
    };
    for (const dse::DesignRow& r : sum.rows) {
      std::vector<std::string> cells = {
          r.design,          r.model,
          r.workload,        r.status.empty() ? "not stored" : r.status,
          num(r.latency_ms), num(r.energy_uj_per_token),
          num(r.area_mm2),   num(r.tokens_per_s_per_mm2)};
      if (!s.baseline.empty()) cells.insert(cells.end(), {num(r.speedup), num(r.energy_ratio)});
      t.add_row(std::move(cells));
    }
    std::cout << "\n";
    if (!s.baseline.empty())
      std::cout << "speedup = latency of design '" << s.baseline
                << "' / latency; energy_ratio = energy per token / that of '" << s.baseline
                << "' (same model and workload)\n";
    t.render(std::cout, TableFormat::table);
  }
  if (sum.stopped_by_signal) {
    std::cerr
        << "interrupted: everything finished is stored; run the same command again to resume\n";
    return 128 + sum.stopped_by_signal;
  }
  return 0;
}

}  // namespace qaccel::cli
