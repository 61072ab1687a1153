#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>

#include "dse/db.hpp"
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

// Renders every row of a statement as a table.
void print_rows(dse::Stmt& st, TableFormat fmt) {
  Table t;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;
  while (st.step()) {
    if (numeric.empty()) numeric.assign(std::size_t(st.columns()), true);
    std::vector<std::string> r;
    for (int c = 0; c < st.columns(); ++c) {
      if (st.is_null(c)) {
        r.push_back("");
        continue;
      }
      if (!st.is_numeric(c)) numeric[c] = false;
      if (st.is_numeric(c) && st.real(c) != std::floor(st.real(c))) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", st.real(c));
        r.push_back(buf);
      } else {
        r.push_back(st.text(c));
      }
    }
    rows.push_back(std::move(r));
  }
  for (int c = 0; c < st.columns(); ++c)
    t.add_column(st.name(c), rows.empty() ? false : bool(numeric[c]));
  for (auto& r : rows)
    t.add_row(std::move(r));
  t.render(std::cout, fmt);
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
      "step", po::value<int>()->default_value(0), "ops: which pass (decode step)");
  po::positional_options_description pos;
  pos.add("what", -1);
  po::variables_map vm;
  const std::string synopsis =
      "[--db F] [--format table|csv|json] [--where k=v] [--sweep NAME]\n"
      "       (runs | best --by METRIC | pareto --x M1 --y M2 | compare ID ID | ops ID | units "
      "[ID] |\n"
      "        sql \"SELECT ...\")";
  if (!parse(
          "query", synopsis,
          "Asks the results database questions. IDs are hash prefixes (from `runs`). Metrics:\n  " +
              join(metric_names(), ", ") + ".\nRaw SQL opens the database read-only.",
          opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel query " + synopsis + "\n";
  if (!vm.count("what")) throw UsageError("say what to query", usage);
  std::vector<std::string> what = vm["what"].as<std::vector<std::string>>();
  TableFormat fmt = parse_table_format(vm["format"].as<std::string>());
  dse::Db db = dse::Db::open(vm["db"].as<std::string>(), true);
  db.exec("PRAGMA query_only=1");

  // Filters shared by runs/best/pareto.
  std::string filter = "1";
  struct Bind {
    std::string text;
    bool param_value;  // parameter values are stored as numbers when numeric: bind the same way
  };
  std::vector<Bind> binds;
  if (vm.count("sweep")) {
    filter += " AND w.hash IN (SELECT hash FROM sweep_designs WHERE sweep = ?)";
    binds.push_back({vm["sweep"].as<std::string>(), false});
  }
  if (vm.count("where"))
    for (const std::string& kv : vm["where"].as<std::vector<std::string>>()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw UsageError("--where: expected key=value, found '" + kv + "'", usage);
      filter += " AND w.hash IN (SELECT hash FROM params WHERE name = ? AND value = ?)";
      binds.push_back({kv.substr(0, eq), false});
      binds.push_back({kv.substr(eq + 1), true});
    }
  auto bind_all = [&](dse::Stmt& st, int first) {
    for (std::size_t i = 0; i < binds.size(); ++i) {
      double d = 0;
      if (binds[i].param_value && parse_double(binds[i].text, d))
        st.bind(first + int(i), d);
      else
        st.bind(first + int(i), binds[i].text);
    }
  };
  const std::string wide =
      "SELECT substr(w.hash, 1, 12) AS id, w.status, w.model, w.workload, w.schedule, w.params, "
      "w.latency_ms, w.tokens_per_s, w.energy_uj_per_token, w.area_mm2, w.utilization FROM "
      "runs_wide w";
  const std::string& cmd = what[0];
  if (cmd == "runs") {
    dse::Stmt st = db.prepare(wide + " WHERE " + filter + " ORDER BY w.hash");
    bind_all(st, 1);
    print_rows(st, fmt);
  } else if (cmd == "best") {
    if (!vm.count("by")) throw UsageError("best needs --by METRIC", usage);
    std::string m = vm["by"].as<std::string>();
    check_metric(m, "--by");
    dse::Stmt st =
        db.prepare(wide + ", metrics mm WHERE mm.hash = w.hash AND w.status = 'ok' AND " + filter +
                   " ORDER BY mm." + m + (larger_is_better(m) ? " DESC" : " ASC") + " LIMIT ?");
    bind_all(st, 1);
    st.bind(int(binds.size()) + 1, vm["top"].as<int>());
    print_rows(st, fmt);
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
        lt(y, "o", "mm") + ")" +
        (vm.count("sweep") ? " AND o.hash IN (SELECT hash FROM sweep_designs WHERE sweep = ?)"
                           : "") +
        ") ORDER BY mm." + x;
    dse::Stmt st = db.prepare(sql);
    bind_all(st, 1);
    if (vm.count("sweep")) st.bind(int(binds.size()) + 1, vm["sweep"].as<std::string>());
    print_rows(st, fmt);
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
    print_rows(st, fmt);
  } else if (cmd == "ops") {
    if (what.size() != 2) throw UsageError("ops needs one design id", usage);
    std::string h = resolve_hash(db, what[1]);
    dse::Stmt st = db.prepare(
        "SELECT name AS op, kind, unit, m, n, k, start_cycle, end_cycle, cycles, compute_cycles, "
        "stall_cycles, waited_for, macs, dram_bytes, sram_bytes, intensity, "
        "attained_flops_per_cycle, peak_flops_per_cycle, utilization, bound, energy_pj "
        "FROM op_metrics WHERE hash = ? AND step = ? ORDER BY idx");
    st.bind(1, h).bind(2, vm["step"].as<int>());
    print_rows(st, fmt);
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
      print_rows(st, fmt);
    } else {
      dse::Stmt st = db.prepare(
          "SELECT substr(w.hash, 1, 12) AS id, w.schedule, w.prefetch, w.params, " + cols +
          " FROM runs_wide w JOIN unit_metrics u ON u.hash = w.hash JOIN metrics m ON m.hash = "
          "w.hash WHERE " +
          filter + " ORDER BY w.hash, u.idx");
      bind_all(st, 1);
      print_rows(st, fmt);
    }
  } else if (cmd == "sql") {
    if (what.size() != 2) throw UsageError("sql needs one quoted statement", usage);
    dse::Stmt st = db.prepare(what[1]);
    print_rows(st, fmt);
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
      "in", po::value<std::vector<std::string>>()->required(), "databases to merge from");
  po::positional_options_description pos;
  pos.add("out", 1).add("in", -1);
  po::variables_map vm;
  if (!parse(
          "merge", "OUT.db IN.db...",
          "Merges results databases (e.g. the shards of a Slurm array) into OUT.db. Designs are\n"
          "keyed by content hash, so overlapping shards merge without duplicates.",
          opts, &pos, args, vm))
    return 0;
  dse::Db out = dse::Db::open(vm["out"].as<std::string>());
  for (const std::string& in : vm["in"].as<std::vector<std::string>>()) {
    { dse::Db check = dse::Db::open(in, true); }  // schema and kind checked before attaching
    std::int64_t before = 0, after = 0;
    {
      dse::Stmt c = out.prepare("SELECT count(*) FROM runs");
      if (c.step()) before = c.integer(0);
    }
    dse::Stmt att = out.prepare("ATTACH DATABASE ? AS src");
    att.bind(1, in);
    att.run();
    {
      dse::Transaction tx(out);
      for (const std::string& t : dse::result_tables())
        out.exec("INSERT OR IGNORE INTO main." + t + " SELECT * FROM src." + t);
      tx.commit();
    }
    out.exec("DETACH DATABASE src");
    dse::Stmt c = out.prepare("SELECT count(*) FROM runs");
    if (c.step()) after = c.integer(0);
    std::cout << in << ": " << (after - before) << " new runs\n";
  }
  return 0;
}

}  // namespace qaccel::cli
