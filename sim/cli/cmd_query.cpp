#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include "dse/db.hpp"
#include "dse/sweep.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/table.hpp"
#include "sim/simulate.hpp"

namespace qaccel::cli {

namespace {

void check_metric(const std::string& m, const std::string& option) {
  const auto& names = metric_names();
  if (std::find(names.begin(), names.end(), m) == names.end()) {
    std::string hint = nearest(m, names);
    throw ConfigError(
        option + ": unknown metric '" + m + "'" +
        (hint.empty() ? "; known: " + join(names, ", ") : " (did you mean '" + hint + "'?)"));
  }
}

struct Limits {
  std::int64_t max_rows = 0;  // 0: none
};

// Prints a statement's rows as they come: CSV and JSON row by row; the aligned table sizes
// its columns on the first kChunk rows and streams the rest with those widths. Memory stays
// bounded however many rows. Stops at limits.max_rows (runtime_error after printing them).
void print_rows(dse::Stmt& st, TableFormat fmt, const Limits& limits = {}) {
  constexpr std::size_t kChunk = 1000;
  const int nc = st.columns();
  std::vector<std::string> names;
  for (int c = 0; c < nc; ++c)
    names.push_back(st.name(c));
  // JSON objects need distinct keys: a repeated column name gets _2, _3, ...
  std::vector<std::string> keys = names;
  for (int c = 0; c < nc; ++c)
    for (int k = 2; std::count(keys.begin(), keys.begin() + c, keys[c]); ++k)
      keys[c] = names[c] + "_" + std::to_string(k);
  std::vector<bool> numeric(std::size_t(nc), true);
  std::vector<std::size_t> width(static_cast<std::size_t>(nc));
  for (int c = 0; c < nc; ++c)
    width[c] = names[c].size();
  std::vector<std::vector<std::string>> chunk;
  std::vector<std::vector<bool>> chunk_numeric;
  std::int64_t rows = 0, emitted = 0;
  bool header = false, more = false;
  // Every value printed whole: a blob as hex (x'00ff' in tables and CSV, "0x00ff" in JSON),
  // text with embedded NULs, and in tables control characters as \xNN so they cannot
  // drive the terminal. NULL is empty in tables and CSV, null in JSON.
  auto cell = [&](int c, bool& is_num) -> std::string {
    is_num = st.is_numeric(c);
    if (st.is_null(c)) return fmt == TableFormat::json ? "null" : "";
    if (is_num && st.real(c) != std::floor(st.real(c))) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", st.real(c));
      return buf;
    }
    if (is_num) return st.text(c);
    const std::string b = st.bytes(c);
    std::string out;
    if (st.type(c) == SQLITE_BLOB) {
      static const char* hex = "0123456789abcdef";
      out = fmt == TableFormat::json ? "0x" : "x'";
      for (unsigned char ch : b)
        out += hex[ch >> 4], out += hex[ch & 15];
      return fmt == TableFormat::json ? out : out + "'";
    }
    if (fmt != TableFormat::table) return b;
    for (unsigned char ch : b) {
      if (ch < 0x20 || ch == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", ch);
        out += buf;
      } else {
        out += char(ch);
      }
    }
    return out;
  };
  auto line = [&](const std::vector<std::string>& cells, bool align) {
    std::string out;
    for (int c = 0; c < nc; ++c) {
      std::string pad(width[c] > cells[c].size() ? width[c] - cells[c].size() : 0, ' ');
      out += c ? "  " : "";
      out += align && numeric[c] ? pad + cells[c] : cells[c] + (c + 1 < nc ? pad : "");
    }
    std::cout << out << "\n";
  };
  auto emit = [&](const std::vector<std::string>& r, const std::vector<bool>& is_num) {
    ++emitted;
    if (fmt == TableFormat::csv) {
      for (int c = 0; c < nc; ++c)
        std::cout << (c ? "," : "") << csv_escape(r[c]);
      std::cout << "\n";
    } else if (fmt == TableFormat::json) {
      std::cout << (emitted > 1 ? ",\n " : "\n ") << "{";
      for (int c = 0; c < nc; ++c)
        std::cout << (c ? ", " : "") << json_escape(keys[c]) << ": "
                  << (is_num[c] && !r[c].empty() ? r[c] : json_escape(r[c]));
      std::cout << "}";
    } else {
      line(r, true);
    }
  };
  auto start = [&]() {
    header = true;
    if (fmt == TableFormat::csv) {
      for (int c = 0; c < nc; ++c)
        std::cout << (c ? "," : "") << csv_escape(names[c]);
      std::cout << "\n";
    } else if (fmt == TableFormat::json) {
      std::cout << "[";
    } else {
      if (chunk.empty()) numeric.assign(std::size_t(nc), false);
      line(names, true);
      std::vector<std::string> rule(static_cast<std::size_t>(nc));
      for (int c = 0; c < nc; ++c)
        rule[c] = std::string(width[c], '-');
      line(rule, true);
    }
    for (std::size_t i = 0; i < chunk.size(); ++i)
      emit(chunk[i], chunk_numeric[i]);
    chunk.clear(), chunk_numeric.clear();
  };
  while (st.step()) {
    if (limits.max_rows && rows == limits.max_rows) {
      more = true;
      break;
    }
    ++rows;
    std::vector<std::string> r(static_cast<std::size_t>(nc));
    std::vector<bool> is_num(static_cast<std::size_t>(nc));
    for (int c = 0; c < nc; ++c) {
      bool n = false;
      r[c] = cell(c, n);
      // JSON has no inf: it prints as the string "Inf"; null prints bare.
      is_num[c] = (n && std::isfinite(st.real(c))) || (st.is_null(c) && fmt == TableFormat::json);
      if (!header && !st.is_null(c)) numeric[c] = numeric[c] && n;
      if (!header) width[c] = std::max(width[c], r[c].size());
    }
    if (header) {
      emit(r, is_num);
      continue;
    }
    chunk.push_back(std::move(r)), chunk_numeric.push_back(std::move(is_num));
    if (chunk.size() == kChunk) start();
  }
  if (!header) start();
  if (fmt == TableFormat::json) std::cout << "\n]\n";
  std::cout.flush();
  if (!std::cout) throw IoError("writing the query's output failed");
  if (more)
    throw std::runtime_error("stopped after --max-rows " + std::to_string(limits.max_rows) +
                             " rows (more follow); add a LIMIT or raise --max-rows");
}

std::string resolve_hash(dse::Db& db, const std::string& prefix) {
  if (prefix.size() < 4)
    throw ConfigError("design id '" + prefix + "': give at least 4 characters of its hash");
  dse::Stmt st = db.prepare("SELECT hash FROM runs WHERE hash LIKE ? || '%'");
  st.bind(1, prefix);
  std::vector<std::string> found;
  while (st.step())
    found.push_back(st.text(0));
  if (found.empty())
    throw ConfigError("design id '" + prefix + "': no run with such a hash in " +
                      db.path().string());
  if (found.size() > 1)
    throw ConfigError("design id '" + prefix + "' is ambiguous (" + std::to_string(found.size()) +
                      " runs)");
  return found[0];
}

}  // namespace

// A step the run does not have would print an empty table as if it were an answer.
RunFilter::RunFilter(dse::Db& db, const po::variables_map& vm, const std::string& usage) {
  if (vm.count("sweep")) {
    sweep_ = vm["sweep"].as<std::string>();
    // An unknown name would match nothing and print an empty table as if it were an answer.
    dse::Stmt known = db.prepare("SELECT 1 FROM sweeps WHERE name = ?");
    known.bind(1, sweep_);
    if (!known.step()) {
      std::vector<std::string> names;
      dse::Stmt all = db.prepare("SELECT name FROM sweeps ORDER BY name");
      while (all.step())
        names.push_back(all.text(0));
      throw ConfigError("--sweep '" + sweep_ + "': no such sweep in " + db.path().string() +
                        " (sweeps: " + (names.empty() ? "none" : join(names, ", ")) + ")");
    }
  }
  if (!vm.count("where")) return;
  for (const std::string& kv : vm["where"].as<std::vector<std::string>>()) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--where: expected key=value, found '" + kv + "'", usage);
    dse::Stmt known = db.prepare("SELECT 1 FROM params WHERE name = ? LIMIT 1");
    known.bind(1, kv.substr(0, eq));
    if (!known.step()) {
      std::vector<std::string> names;
      dse::Stmt all = db.prepare("SELECT DISTINCT name FROM params ORDER BY name");
      while (all.step())
        names.push_back(all.text(0));
      throw ConfigError("--where: no swept parameter '" + kv.substr(0, eq) + "' in " +
                        db.path().string() +
                        " (parameters: " + (names.empty() ? "none" : join(names, ", ")) + ")");
    }
    where_.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
}

std::string RunFilter::sql(const std::string& hash) const {
  std::string s = "1";
  if (!sweep_.empty()) s += " AND " + hash + " IN (SELECT hash FROM sweep_designs WHERE sweep = ?)";
  for (std::size_t i = 0; i < where_.size(); ++i)
    s += " AND " + hash + " IN (SELECT hash FROM params WHERE name = ? AND value = ?)";
  return s;
}

int RunFilter::bind(dse::Stmt& st, int first) const {
  if (!sweep_.empty()) st.bind(first++, sweep_);
  for (const auto& [key, value] : where_) {
    st.bind(first++, key);
    double d = 0;
    if (parse_double(value, d))
      st.bind(first++, d);
    else
      st.bind(first++, value);
  }
  return first;
}

void check_step(dse::Db& db, const std::string& hash, int step) {
  dse::Stmt st = db.prepare("SELECT min(step), max(step) FROM op_metrics WHERE hash = ?");
  st.bind(1, hash);
  if (!st.step() || st.is_null(0))
    throw ConfigError("run " + hash.substr(0, 12) + " has no ops stored in " + db.path().string());
  if (step < st.integer(0) || step > st.integer(1))
    throw ConfigError("--step " + std::to_string(step) + ": run " + hash.substr(0, 12) +
                      " has steps " + std::to_string(st.integer(0)) + ".." +
                      std::to_string(st.integer(1)));
}

// The query itself, once the database is open under its limits.
static int run_query(dse::Db& db, const po::variables_map& vm, const std::vector<std::string>& what,
                     const std::string& usage, const Limits& limits);

int cmd_query(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()(
      "what", po::value<std::vector<std::string>>(),
      "runs | best | pareto | compare ID ID | ops ID | units [ID] | sql \"SELECT ...\"")(
      "db", po::value<std::string>()->default_value("results/qaccel.db"), "results database")(
      "format", po::value<std::string>()->default_value("table"), "table | csv | json")(
      "where", po::value<std::vector<std::string>>(),
      "key=value on a swept parameter (repeatable)")("sweep", po::value<std::string>(),
                                                     "only designs of this sweep")(
      "by", po::value<std::string>(), "best: the metric to rank by")(
      "x", po::value<std::string>(), "pareto: metric on x")("y", po::value<std::string>(),
                                                            "pareto: metric on y")(
      "top", po::value<int>()->default_value(10), "best: rows to show")(
      "step", po::value<int>()->default_value(0), "ops: which pass (decode step)")(
      "max-rows", po::value<std::int64_t>()->default_value(1000000),
      "stop after this many rows, exit 1 (0: no limit)")(
      "time-limit", po::value<double>()->default_value(60),
      "seconds a query may run before it is stopped, exit 1 (0: no limit)");
  po::positional_options_description pos;
  pos.add("what", -1);
  po::variables_map vm;
  const std::string synopsis =
      "[--db F] [--format table|csv|json] [--where k=v] [--sweep NAME]\n"
      "       [--max-rows N] [--time-limit S]\n"
      "       (runs | best --by METRIC | pareto --x M1 --y M2 | compare ID ID | ops ID | units "
      "[ID] |\n"
      "        sql \"SELECT ...\")";
  if (!parse(
          "query", synopsis,
          "Asks the results database questions. IDs are hash prefixes (from `runs`). Metrics:\n  " +
              join(metric_names(), ", ") +
              ".\nRaw SQL is one statement that only reads (no writes, ATTACH, VACUUM or pragmas\n"
              "that set anything), on a database opened read-only. Rows print as they come; a\n"
              "query stops with exit 1 at --max-rows rows or after --time-limit seconds.\n"
              "Values print whole: blobs as hex (x'00ff'; \"0x00ff\" in JSON), NULL as null in\n"
              "JSON (empty otherwise), infinities as the JSON string \"Inf\", bytes that are not\n"
              "UTF-8 as \\ufffd in JSON, control characters as \\xNN in tables; repeated column\n"
              "names get _2, _3 as JSON keys.",
          opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel query " + synopsis + "\n";
  if (!vm.count("what")) throw UsageError("say what to query", usage);
  std::vector<std::string> what = vm["what"].as<std::vector<std::string>>();
  parse_table_format(vm["format"].as<std::string>());  // checked before opening anything
  Limits limits;
  limits.max_rows = vm["max-rows"].as<std::int64_t>();
  const double time_limit = vm["time-limit"].as<double>();
  if (limits.max_rows < 0) throw UsageError("--max-rows must be >= 0", usage);
  if (!(time_limit >= 0)) throw UsageError("--time-limit must be >= 0", usage);
  if (vm["top"].as<int>() < 1) throw UsageError("--top must be >= 1", usage);
  if (vm["step"].as<int>() < 0) throw UsageError("--step must be >= 0", usage);
  dse::Db db = dse::Db::open(vm["db"].as<std::string>(), true);
  db.exec("PRAGMA query_only=1");
  // Bounded memory too: no string or blob over 64 MiB (randomblob(1e9), a huge group_concat),
  // and at most 1 GiB of SQLite heap.
  sqlite3_limit(db.raw(), SQLITE_LIMIT_LENGTH, 64 << 20);
  sqlite3_hard_heap_limit64(std::int64_t(1) << 30);
  // Every query runs under the time limit: SQLite calls the handler every few thousand
  // instructions, and a non-zero return interrupts the statement.
  struct Deadline {
    std::chrono::steady_clock::time_point at;
    bool hit = false;
  } deadline{std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(std::min(time_limit, 1e7))),
             false};
  if (time_limit > 0)
    sqlite3_progress_handler(
        db.raw(), 10000,
        [](void* p) -> int {
          auto* d = static_cast<Deadline*>(p);
          d->hit = d->hit || std::chrono::steady_clock::now() > d->at;
          return d->hit ? 1 : 0;
        },
        &deadline);
  try {
    return run_query(db, vm, what, usage, limits);
  } catch (const ConfigError&) {
    if (deadline.hit) {
      std::cout.flush();
      throw std::runtime_error("query stopped after --time-limit " + fixed(time_limit, 1) +
                               " s; narrow it or raise --time-limit");
    }
    throw;
  }
}

static int run_query(dse::Db& db, const po::variables_map& vm, const std::vector<std::string>& what,
                     const std::string& usage, const Limits& limits) {
  TableFormat fmt = parse_table_format(vm["format"].as<std::string>());

  // Filters shared by runs/best/pareto.
  const RunFilter rf(db, vm, usage);
  const std::string filter = rf.sql("w.hash");
  auto bind_all = [&](dse::Stmt& st, int first) { return rf.bind(st, first); };
  const std::string wide =
      "SELECT substr(w.hash, 1, 12) AS id, w.status, w.model, w.workload, w.schedule, w.params, "
      "w.latency_ms, w.tokens_per_s, w.energy_uj_per_token, w.area_mm2, w.utilization FROM "
      "runs_wide w";
  const std::string& cmd = what[0];
  // A design-list sweep with a baseline stored speedup and energy_ratio per run (schema 3;
  // a version-2 file read as it is has none).
  bool relative = false;
  if (vm.count("sweep")) {
    dse::Stmt t = db.prepare(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'relative_metrics'");
    if (t.step()) {
      dse::Stmt r = db.prepare("SELECT 1 FROM relative_metrics WHERE sweep = ? LIMIT 1");
      r.bind(1, vm["sweep"].as<std::string>());
      relative = r.step();
    }
  }
  if (cmd == "runs" && relative) {
    // ?1 is the sweep's name, which is also the first filter value.
    dse::Stmt st = db.prepare(
        wide.substr(0, wide.find(" FROM runs_wide w")) +
        ", (SELECT speedup FROM relative_metrics WHERE hash = w.hash AND sweep = ?1) AS speedup, "
        "(SELECT energy_ratio FROM relative_metrics WHERE hash = w.hash AND sweep = ?1) AS "
        "energy_ratio, w.tokens_per_s_per_mm2 FROM runs_wide w WHERE " +
        filter + " ORDER BY (SELECT point FROM sweep_designs WHERE sweep = ?1 AND hash = w.hash)");
    st.bind(1, vm["sweep"].as<std::string>());
    bind_all(st, 2);
    print_rows(st, fmt, limits);
  } else if (cmd == "runs") {
    dse::Stmt st = db.prepare(wide + " WHERE " + filter + " ORDER BY w.hash");
    bind_all(st, 1);
    print_rows(st, fmt, limits);
  } else if (cmd == "best") {
    if (!vm.count("by")) throw UsageError("best needs --by METRIC", usage);
    std::string m = vm["by"].as<std::string>();
    check_metric(m, "--by");
    dse::Stmt st =
        db.prepare(wide + ", metrics mm WHERE mm.hash = w.hash AND w.status = 'ok' AND " + filter +
                   " ORDER BY mm." + m + (larger_is_better(m) ? " DESC" : " ASC") + " LIMIT ?");
    st.bind(bind_all(st, 1), vm["top"].as<int>());
    print_rows(st, fmt, limits);
  } else if (cmd == "pareto") {
    if (!vm.count("x") || !vm.count("y"))
      throw UsageError("pareto needs --x METRIC and --y METRIC", usage);
    std::string x = vm["x"].as<std::string>(), y = vm["y"].as<std::string>();
    check_metric(x, "--x"), check_metric(y, "--y");
    // Non-dominated designs: no other ok design is at least as good on both and better on one.
    auto le = [](const std::string& m, const std::string& a, const std::string& b) {
      return a + "." + m + (larger_is_better(m) ? " >= " : " <= ") + b + "." + m;
    };
    auto lt = [](const std::string& m, const std::string& a, const std::string& b) {
      return a + "." + m + (larger_is_better(m) ? " > " : " < ") + b + "." + m;
    };
    std::string sql =
        "SELECT substr(w.hash, 1, 12) AS id, w.model, w.workload, w.params, mm." + x + ", mm." + y +
        " FROM runs_wide w JOIN metrics mm ON mm.hash = w.hash WHERE w.status = 'ok' AND " +
        filter +
        " AND NOT EXISTS (SELECT 1 FROM metrics o JOIN runs r ON r.hash = o.hash AND r.status = "
        "'ok' "
        "WHERE o.hash != mm.hash AND " +
        le(x, "o", "mm") + " AND " + le(y, "o", "mm") + " AND (" + lt(x, "o", "mm") + " OR " +
        lt(y, "o", "mm") + ") AND " + rf.sql("o.hash") + ") ORDER BY mm." + x;
    // The designs that may dominate are the same filtered set as the candidates.
    dse::Stmt st = db.prepare(sql);
    bind_all(st, bind_all(st, 1));
    print_rows(st, fmt, limits);
  } else if (cmd == "compare") {
    if (what.size() != 3) throw UsageError("compare needs two design ids", usage);
    std::string a = resolve_hash(db, what[1]), b = resolve_hash(db, what[2]);
    std::string cols;
    for (const std::string& m : metric_names())
      cols += " UNION ALL SELECT '" + m + "', (SELECT " + m +
              " FROM metrics WHERE hash = ?1), (SELECT " + m + " FROM metrics WHERE hash = ?2)";
    dse::Stmt st = db.prepare(
        "SELECT 'status' AS name, (SELECT status FROM runs WHERE hash = ?1) AS a, (SELECT status "
        "FROM runs WHERE hash = ?2) AS b"
        " UNION ALL SELECT p.name, (SELECT value FROM params WHERE hash = ?1 AND name = p.name),"
        " (SELECT value FROM params WHERE hash = ?2 AND name = p.name) FROM (SELECT DISTINCT name "
        "FROM params WHERE hash IN (?1, ?2)) p" +
        cols);
    st.bind(1, a).bind(2, b);
    print_rows(st, fmt, limits);
  } else if (cmd == "ops") {
    if (what.size() != 2) throw UsageError("ops needs one design id", usage);
    std::string h = resolve_hash(db, what[1]);
    check_step(db, h, vm["step"].as<int>());
    dse::Stmt st = db.prepare(
        "SELECT name AS op, kind, unit, m, n, k, start_cycle, end_cycle, cycles, compute_cycles, "
        "stall_cycles, waited_for, macs, dram_bytes, sram_bytes, intensity, "
        "attained_flops_per_cycle, peak_flops_per_cycle, utilization, bound, energy_pj "
        "FROM op_metrics WHERE hash = ? AND step = ? ORDER BY idx");
    st.bind(1, h).bind(2, vm["step"].as<int>());
    print_rows(st, fmt, limits);
  } else if (cmd == "units") {
    // One run's units, or every run's (filtered like `runs`): where the time went.
    if (what.size() > 2) throw UsageError("units takes at most one design id", usage);
    const std::string cols =
        "u.unit, u.ops, u.busy_cycles, u.stalled_cycles, u.idle_cycles, "
        "round(100.0 * u.utilization, 2) AS \"util_%\", "
        "round(100.0 * u.stalled_cycles / m.cycles, 2) AS \"stalled_%\", "
        "round(100.0 * u.idle_cycles / m.cycles, 2) AS \"idle_%\"";
    if (what.size() == 2) {
      dse::Stmt st = db.prepare("SELECT " + cols +
                                " FROM unit_metrics u JOIN metrics m ON m.hash = u.hash WHERE "
                                "u.hash = ? ORDER BY u.idx");
      st.bind(1, resolve_hash(db, what[1]));
      print_rows(st, fmt, limits);
    } else {
      dse::Stmt st = db.prepare(
          "SELECT substr(w.hash, 1, 12) AS id, w.schedule, w.prefetch, w.params, " + cols +
          " FROM runs_wide w JOIN unit_metrics u ON u.hash = w.hash JOIN metrics m ON m.hash = "
          "w.hash WHERE " +
          filter + " ORDER BY w.hash, u.idx");
      bind_all(st, 1);
      print_rows(st, fmt, limits);
    }
  } else if (cmd == "sql") {
    if (what.size() != 2) throw UsageError("sql needs one quoted statement", usage);
    dse::Stmt st = db.prepare_read_only(what[1]);
    print_rows(st, fmt, limits);
  } else {
    std::string hint = nearest(cmd, {"runs", "best", "pareto", "compare", "ops", "units", "sql"});
    throw UsageError(
        "unknown query '" + cmd + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"),
        usage);
  }
  return 0;
}

int cmd_merge(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("out", po::value<std::string>()->required(),
                     "database to merge into (created if absent)")(
      "in", po::value<std::vector<std::string>>()->required(), "databases to merge from")(
      "expect", po::value<std::string>(),
      "sweep file: after merging, list its designs that OUT.db lacks (exit 1 if any)")(
      "max-designs", po::value<std::int64_t>()->default_value(dse::kDefaultMaxDesigns),
      "--expect: refuse a sweep with more designs than this");
  po::positional_options_description pos;
  pos.add("out", 1).add("in", -1);
  po::variables_map vm;
  if (!parse(
          "merge", "OUT.db IN.db... [--expect SWEEP_FILE]",
          "Merges results databases (e.g. the shards of a Slurm array) into OUT.db: every table.\n"
          "Designs are keyed by content hash, so overlapping shards merge without duplicates.\n"
          "Where both have a design's run, the better one is kept with its measurements: ok or\n"
          "infeasible over failed or timeout, else the later finished. With --expect, reports the\n"
          "sweep's designs that are missing after the merge.",
          opts, &pos, args, vm))
    return 0;
  if (vm["max-designs"].as<std::int64_t>() < 1)
    throw UsageError("--max-designs must be >= 1",
                     "usage: qaccel merge OUT.db IN.db... [--expect SWEEP_FILE]\n");
  // Everything that can be refused is checked before the target is touched: every input
  // (an openable qaccel database of this schema) and the --expect sweep.
  const std::string out_path = vm["out"].as<std::string>();
  const auto inputs = vm["in"].as<std::vector<std::string>>();
  for (const std::string& in : inputs) {
    dse::Db db = dse::Db::open(in, true);
    // Corruption past the header shows only while copying, and SQLite then blames the
    // target's connection: check each input's pages now, naming the input.
    std::string verdict;
    try {
      dse::Stmt qc = db.prepare("PRAGMA quick_check(1)");
      verdict = qc.step() ? qc.text(0) : "no answer";
    } catch (const ConfigError& e) {
      verdict = e.what();
    }
    if (verdict != "ok") throw ConfigError("merge: input " + in + " is corrupt (" + verdict + ")");
    if (const std::string t = dse::missing_table(db); !t.empty())
      throw ConfigError("merge: input " + in + " has no table '" + t +
                        "' (not a complete qaccel results database); nothing merged");
  }
  std::optional<dse::SweepSpec> expect;
  if (vm.count("expect")) {
    expect = dse::load_sweep(vm["expect"].as<std::string>());
    if (expect->strategy == dse::Strategy::nsga2)
      throw ConfigError("--expect " + expect->file.string() +
                        ": an nsga2 search has no design list fixed in advance");
    dse::DesignStream check(*expect, vm["max-designs"].as<std::int64_t>());
  }
  std::error_code ec;
  const bool existed = std::filesystem::exists(out_path, ec);
  // A target this merge created is removed again when the merge fails: no half-made file.
  struct RemoveOnFailure {
    std::filesystem::path path;
    bool armed;
    ~RemoveOnFailure() {
      if (!armed) return;
      std::error_code e;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path.string() + suffix, e);
    }
  } cleanup{out_path, !existed};
  {
    dse::Db out = dse::Db::open(out_path);
    for (const std::string& in : inputs) {
      dse::MergeCounts n = dse::merge_database(out, in);
      std::cout << in << ": " << n.added << " new runs";
      if (n.replaced) std::cout << ", " << n.replaced << " replaced by a better or later result";
      std::cout << "\n";
    }
  }
  cleanup.armed = false;
  if (!expect) return 0;
  dse::Db out = dse::Db::open(out_path, true);
  const dse::SweepSpec& s = *expect;
  dse::DesignStream designs(s, vm["max-designs"].as<std::int64_t>());
  dse::Stmt st = out.prepare("SELECT status FROM runs WHERE hash = ?");
  std::int64_t total = 0, missing = 0, unfinished = 0;
  dse::DesignPoint p;
  while (designs.next(p)) {
    ++total;
    st.bind(1, p.hash);
    bool have = st.step();
    std::string status = have ? st.text(0) : "";
    st.reset();
    if (have && status != "failed" && status != "timeout") continue;
    have ? ++unfinished : ++missing;
    if (missing + unfinished <= 20) {
      std::cout << (have ? status : std::string("missing")) << ": design " << p.index << " ["
                << p.hash.substr(0, 12) << "]";
      for (const auto& [k, v] : p.params)
        std::cout << " " << k << "=" << v;
      std::cout << " model=" << s.models[std::size_t(p.model)].name
                << " workload=" << s.workloads[std::size_t(p.workload)].name << "\n";
    }
  }
  std::cout << "expect " << s.name << ": " << total << " designs, " << (total - missing)
            << " stored (" << unfinished << " failed or timed out), " << missing << " missing\n";
  return missing ? 1 : 0;
}

}  // namespace qaccel::cli
