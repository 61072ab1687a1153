// Sweeps, the results database and the driver. Workers are forked from the test process; the
// test process itself never elaborates SystemC.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "dse/db.hpp"
#include "dse/driver.hpp"
#include "dse/svg.hpp"
#include "dse/sweep.hpp"
#include "sim/base/error.hpp"
#include "test_util.hpp"

using namespace qaccel;
using namespace qaccel::dse;
using qaccel::test::TempDir;

namespace {

std::string cfg(const std::string& rel) {
  return test::source_dir() + "/configs/" + rel;
}

std::string sweep_text(const std::string& name, const std::string& params,
                       const std::string& extra = "") {
  return "sweep:\n  name: " + name + "\n  base: " + cfg("systems/edge-npu.yaml") + "\n  models: [" +
         cfg("models/tiny.yaml") + "]\n  workloads: [" + cfg("workloads/decode-32.yaml") +
         "]\n  parameters:\n" + params + extra;
}

const char* kGrid =
    "    units.mxu.rows: [4, 8, 16]\n    units.mxu.cols: \"=units.mxu.rows\"\n    "
    "units.mxu.dataflow: [ws, os]\n";

std::set<std::string> hashes(const std::vector<DesignPoint>& pts) {
  std::set<std::string> h;
  for (const auto& p : pts)
    h.insert(p.hash);
  return h;
}

std::set<std::string> stored(const std::filesystem::path& db_path) {
  Db db = Db::open(db_path, true);
  Stmt st = db.prepare("SELECT hash FROM runs");
  std::set<std::string> out;
  while (st.step())
    out.insert(st.text(0));
  return out;
}

std::string load_error(const std::string& text) {
  TempDir dir;
  try {
    load_sweep(dir.write("s.yaml", text));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string integrity(const std::filesystem::path& p);

SweepOptions opts(const std::filesystem::path& db, int workers = 2) {
  SweepOptions o;
  o.db_path = db, o.workers = workers, o.progress = false;
  return o;
}

}  // namespace

TEST(Sweep, GridOrderTiesAndHashes) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", sweep_text("g", kGrid)));
  auto pts = enumerate(s);
  ASSERT_EQ(pts.size(), 6u);
  // Last parameter fastest; the tie copies rows into cols.
  EXPECT_EQ(pts[0].params[0].second, "4");
  EXPECT_EQ(pts[0].params[2].second, "ws");
  EXPECT_EQ(pts[1].params[2].second, "os");
  EXPECT_EQ(pts[2].params[0].second, "8");
  for (const auto& p : pts)
    EXPECT_EQ(p.params[0].second, p.params[1].second);
  EXPECT_EQ(hashes(pts).size(), 6u);
  EXPECT_EQ(hashes(enumerate(s)), hashes(pts));  // same designs, same hashes
  EXPECT_NE(pts[0].system_yaml.find("rows: 4"), std::string::npos);
}

TEST(Sweep, RangesAndPow2) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write(
      "s.yaml",
      sweep_text("r",
                 "    units.mxu.rows: {from: 4, to: 64, scale: pow2}\n"
                 "    memory.bytes_per_cycle_per_channel: {from: 8, to: 20, step: 4}\n")));
  EXPECT_EQ(s.params[0].values, (std::vector<std::string>{"4", "8", "16", "32", "64"}));
  EXPECT_EQ(s.params[1].values, (std::vector<std::string>{"8", "12", "16", "20"}));
}

TEST(Sweep, RandomIsDeterministicPerSeed) {
  TempDir dir;
  std::string p =
      "    units.mxu.rows: {from: 2, to: 64, step: 2}\n    units.mxu.cols: {from: 2, to: 64, step: "
      "2}\n";
  auto a = enumerate(load_sweep(
      dir.write("a.yaml", sweep_text("r", p, "  strategy: {kind: random, count: 10, seed: 3}\n"))));
  auto b = enumerate(load_sweep(
      dir.write("b.yaml", sweep_text("r", p, "  strategy: {kind: random, count: 10, seed: 3}\n"))));
  auto c = enumerate(load_sweep(
      dir.write("c.yaml", sweep_text("r", p, "  strategy: {kind: random, count: 10, seed: 4}\n"))));
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(hashes(a), hashes(b));
  EXPECT_NE(hashes(a), hashes(c));
}

TEST(Sweep, ParameterConstraintsFilterDesigns) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write(
      "s.yaml", sweep_text("c", "    units.mxu.rows: [4, 8, 16]\n    units.mxu.cols: [4, 8, 16]\n",
                           "  constraints:\n    - \"units.mxu.rows * units.mxu.cols <= 64\"\n")));
  auto pts = enumerate(s);
  EXPECT_EQ(pts.size(), 6u);  // (4,4) (4,8) (4,16) (8,4) (8,8) (16,4)
  for (const auto& p : pts)
    EXPECT_LE(std::stoi(p.params[0].second) * std::stoi(p.params[1].second), 64);
}

TEST(Sweep, MalformedFilesNameFileAndKeyPath) {
  struct Case {
    std::string text, fragment;
  };
  std::vector<Case> cases = {
      {sweep_text("x", kGrid, "  strategi: {kind: grid}\n"),
       "sweep.strategi: unknown key (did you mean 'strategy'?)"},
      {sweep_text("x", "    units.mxu.rowz: [4]\n"),
       "sweep.parameters.units.mxu.rowz: value '4' does not make a valid system: "
       "system.units.mxu.rowz: unknown key (did you mean 'rows'?)"},
      {sweep_text("x", "    units.mxu.rows: [4, 0]\n"),
       "value '0' does not make a valid system: system.units.mxu.rows"},
      {sweep_text("x", "    units.mxu.rows: {from: 4, to: 64, scale: pow3}\n"),
       "sweep.parameters.units.mxu.rows.scale"},
      {sweep_text("x", "    units.mxu.rows: {from: 3, to: 64, scale: pow2}\n"),
       "a pow2 range starts at a power of two"},
      {sweep_text("x", "    units.mxu.rows: 7\n"), "expected a list of values"},
      {sweep_text("x", "    units.mxu.cols: \"=units.mxu.rows\"\n"),
       "tied to 'units.mxu.rows', which is not"},
      {sweep_text("x", kGrid, "  constraints: [\"area_mm3 <= 2\"]\n"),
       "unknown name 'area_mm3' (parameters of this sweep or metrics: did you mean 'area_mm2'?)"},
      {sweep_text("x", kGrid, "  constraints: [\"area_mm2 <=\"]\n"),
       "sweep.constraints[0]: constraint 'area_mm2 <='"},
      {sweep_text("x", kGrid, "  objectives: {latency: min}\n"),
       "sweep.objectives.latency: unknown metric (did you mean 'latency_ms'?)"},
      {sweep_text("x", kGrid,
                  "  strategy: {kind: nsga2, population: 8, generations: 2, seed: 1}\n  "
                  "objectives: {latency_ms: min}\n"),
       "nsga2 needs at least two objectives"},
      {sweep_text("x", kGrid, "  strategy: {kind: random}\n"), "missing required key 'count'"},
      {"sweep:\n  name: x\n  base: nowhere.yaml\n", "sweep.base: in the referenced file"},
  };
  for (const auto& c : cases) {
    std::string e = load_error(c.text);
    EXPECT_NE(e.find(c.fragment), std::string::npos) << "expected '" << c.fragment << "' in:\n"
                                                     << e;
    EXPECT_NE(e.find("s.yaml"), std::string::npos) << e;
  }
}

// Deep or long formulas are refused with a message, never a stack overflow; a long flat sum
// within the bound evaluates without recursion.
TEST(Expr, DeepAndLongFormulasAreRefusedNotACrash) {
  auto error_of = [](const std::string& text) -> std::string {
    try {
      Expr::parse(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const std::string deep = std::string(200000, '(') + "1" + std::string(200000, ')') + " < 2";
  EXPECT_NE(error_of(deep).find("characters, more than 4096"), std::string::npos);
  EXPECT_LT(error_of(deep).size(), 300u);  // the formula is quoted cut short
  const std::string nested = std::string(65, '(') + "1" + std::string(65, ')') + " < 2";
  EXPECT_NE(error_of(nested).find("nested more than 64 levels"), std::string::npos);
  EXPECT_NE(error_of(std::string(65, '-') + "1 < 2").find("nested more than 64"),
            std::string::npos);
  EXPECT_TRUE(Expr::parse(std::string(64, '(') + "1" + std::string(64, ')') + " < 2")
                  .holds([](const std::string&) { return std::nullopt; }));
  std::string sum = "x";
  while (sum.size() + 12 < Expr::kMaxLength)
    sum += "+x";
  Expr e = Expr::parse(sum + " == " + std::to_string((sum.size() + 1) / 2));
  EXPECT_TRUE(e.holds([](const std::string&) { return 1.0; }));
  EXPECT_EQ(e.names(), std::set<std::string>{"x"});
  // In a sweep file: the error names the file and the constraint's key path.
  std::string err = load_error(
      sweep_text("d", "    units.mxu.rows: [4]\n",
                 "  constraints: [\"" + std::string(100000, '(') + "units.mxu.rows < 2\"]\n"));
  EXPECT_NE(err.find("s.yaml"), std::string::npos) << err;
  EXPECT_NE(err.find("constraints[0]"), std::string::npos) << err;
}

TEST(SweepRun, StoresEveryDesignOnceAndResumes) {
  TempDir dir;
  SweepSpec s = load_sweep(
      dir.write("s.yaml", sweep_text("g", kGrid, "  constraints: [\"area_mm2 <= 10.6\"]\n")));
  auto db = dir.path / "r.db";
  SweepSummary a = run_sweep(s, opts(db));
  EXPECT_EQ(a.points, 6);
  EXPECT_EQ(a.ran, 6);
  EXPECT_EQ(a.ok + a.infeasible, 6);
  EXPECT_GT(a.infeasible, 0);  // the 16x16 arrays exceed 10.6 mm2
  EXPECT_EQ(stored(db), hashes(enumerate(s)));
  SweepSummary b = run_sweep(s, opts(db));
  EXPECT_EQ(b.ran, 0);
  EXPECT_EQ(b.skipped, 6);
  Db d = Db::open(db, true);
  Stmt st = d.prepare("SELECT count(*) FROM params WHERE name = 'units.mxu.rows' AND value = 8");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.integer(0), 2);  // ws and os
  Stmt ops = d.prepare("SELECT count(DISTINCT hash) FROM op_metrics");
  ASSERT_TRUE(ops.step());
  EXPECT_EQ(ops.integer(0), 6);
  // Every statistic of every run, with its unit; the array's MACs match the run's matmul MACs.
  Stmt stats = d.prepare(
      "SELECT count(*) FROM stats s JOIN op_metrics o ON o.hash = s.hash WHERE s.name = 'mxu.macs' "
      "GROUP BY s.hash HAVING s.value = sum(CASE WHEN o.unit = 'mxu' THEN o.macs ELSE 0 END) / "
      "1.0");
  int agreeing = 0;
  while (stats.step())
    ++agreeing;
  EXPECT_EQ(agreeing, 6);
}

// Schedule and prefetch per run, per-unit usage, per-op times: consistent with each other and
// with the run's metrics, for both schedules.
TEST(SweepRun, StoresScheduleUnitUsageAndOpTimes) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write(
      "s.yaml",
      sweep_text("u", "    schedule: [overlap, serial]\n    prefetch: [none, next_op]\n")));
  auto db = dir.path / "u.db";
  EXPECT_EQ(run_sweep(s, opts(db)).ok, 4);
  Db d = Db::open(db, true);
  auto count = [&](const std::string& sql) {
    Stmt st = d.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.integer(0);
  };
  // The runs' columns agree with the swept values, and the view shows them.
  EXPECT_EQ(count("SELECT count(*) FROM runs r JOIN params p ON p.hash = r.hash AND p.name = "
                  "'schedule' AND p.value = r.schedule JOIN params q ON q.hash = r.hash AND "
                  "q.name = 'prefetch' AND q.value = r.prefetch"),
            4);
  EXPECT_EQ(count("SELECT count(DISTINCT schedule || prefetch) FROM runs_wide"), 4);
  // Two units per run; each unit's busy + stalled + idle is the makespan, its ops and busy
  // cycles are those of the ops it ran.
  EXPECT_EQ(count("SELECT count(*) FROM unit_metrics"), 8);
  EXPECT_EQ(count("SELECT count(*) FROM unit_metrics u JOIN metrics m ON m.hash = u.hash WHERE "
                  "u.busy_cycles + u.stalled_cycles + u.idle_cycles = m.cycles AND "
                  "abs(u.utilization - 1.0 * u.busy_cycles / m.cycles) < 1e-12"),
            8);
  EXPECT_EQ(count("SELECT count(*) FROM unit_metrics u WHERE u.ops = (SELECT count(*) FROM "
                  "op_metrics o WHERE o.hash = u.hash AND o.unit = u.unit) AND u.busy_cycles = "
                  "(SELECT sum(compute_cycles) FROM op_metrics o WHERE o.hash = u.hash AND "
                  "o.unit = u.unit) AND u.stalled_cycles = (SELECT sum(stall_cycles) FROM "
                  "op_metrics o WHERE o.hash = u.hash AND o.unit = u.unit)"),
            8);
  // Per op: end - start is its cycles, it starts once ready, and the makespan is the last end.
  EXPECT_EQ(
      count(
          "SELECT count(*) FROM op_metrics WHERE end_cycle - start_cycle != cycles OR "
          "start_cycle < ready_cycle OR (start_cycle > ready_cycle) != (waited_for LIKE 'unit%' OR "
          "waited_for LIKE 'order%') OR (stall_cycles > 0) != (waited_for LIKE '%memory')"),
      0);
  EXPECT_EQ(count("SELECT count(*) FROM metrics m WHERE m.cycles = (SELECT max(end_cycle) FROM "
                  "op_metrics o WHERE o.hash = m.hash)"),
            4);
  // Serial runs wait for program order and never overlap two ops; overlapped ones wait for units.
  EXPECT_EQ(
      count("SELECT count(*) FROM op_metrics o JOIN runs r ON r.hash = o.hash WHERE "
            "o.waited_for LIKE (CASE r.schedule WHEN 'serial' THEN 'unit%' ELSE 'order%' END)"),
      0);
  EXPECT_EQ(count("SELECT count(*) FROM op_metrics a JOIN op_metrics b ON a.hash = b.hash AND "
                  "a.idx < b.idx JOIN runs r ON r.hash = a.hash AND r.schedule = 'serial' WHERE "
                  "a.start_cycle < b.end_cycle AND b.start_cycle < a.end_cycle"),
            0);
  EXPECT_GT(count("SELECT count(*) FROM op_metrics o JOIN runs r ON r.hash = o.hash AND "
                  "r.prefetch = 'next_op' WHERE o.prefetched_bytes > 0"),
            0);
}

// SIGKILL of the driver mid-sweep loses nothing finished; the re-run completes the set exactly.
TEST(SweepRun, ResumeAfterSigkillGivesTheFullSet) {
  TempDir dir;
  SweepSpec s =
      load_sweep(dir.write("s.yaml", sweep_text("k",
                                                "    units.mxu.rows: {from: 2, to: 40, step: 2}\n  "
                                                "  units.mxu.dataflow: [ws, os, is]\n")));
  auto db = dir.path / "k.db";
  Db::open(db);  // create the schema before two processes race for it
  pid_t pid = fork();
  if (pid == 0) {
    run_sweep(s, opts(db, 1));
    _exit(0);
  }
  // Wait until some, not all, results are stored, then kill -9.
  for (int i = 0; i < 2000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (stored(db).size() >= 5) break;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its worker dies with it
  std::size_t partial = stored(db).size();
  EXPECT_GE(partial, 5u);
  EXPECT_LT(partial, 60u);
  EXPECT_EQ(integrity(db), "ok");
  SweepSummary r = run_sweep(s, opts(db));
  EXPECT_EQ(r.skipped, std::int64_t(partial));
  EXPECT_EQ(stored(db), hashes(enumerate(s)));
  EXPECT_EQ(integrity(db), "ok");
}

TEST(SweepRun, TwoSweepsIntoOneDatabaseAtOnce) {
  TempDir dir;
  SweepSpec a = load_sweep(
      dir.write("a.yaml", sweep_text("a", "    units.mxu.rows: {from: 2, to: 24, step: 2}\n")));
  SweepSpec b = load_sweep(
      dir.write("b.yaml", sweep_text("b", "    units.mxu.cols: {from: 2, to: 24, step: 2}\n")));
  auto db = dir.path / "two.db";
  Db::open(db);
  pid_t pa = fork();
  if (pa == 0) _exit(run_sweep(a, opts(db, 1)).ok == 12 ? 0 : 1);
  pid_t pb = fork();
  if (pb == 0)
    _exit(run_sweep(b, opts(db, 1)).ok + run_sweep(b, opts(db, 1)).skipped == 24 ? 0 : 1);
  int sa = 0, sb = 0;
  waitpid(pa, &sa, 0);
  waitpid(pb, &sb, 0);
  EXPECT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
  EXPECT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
  std::set<std::string> want = hashes(enumerate(a));
  for (const auto& h : hashes(enumerate(b)))
    want.insert(h);
  EXPECT_EQ(stored(db), want);
  EXPECT_EQ(integrity(db), "ok");
}

TEST(SweepRun, ShardsMergeWithoutDuplicates) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", sweep_text("m", kGrid)));
  SweepOptions o0 = opts(dir.path / "s0.db"), o1 = opts(dir.path / "s1.db");
  o0.shard = 0, o0.shards = 2, o1.shard = 1, o1.shards = 2;
  EXPECT_EQ(run_sweep(s, o0).points, 3);
  EXPECT_EQ(run_sweep(s, o1).points, 3);
  // Merge overlapping inputs (shard 0 twice) through SQL as `qaccel merge` does.
  Db out = Db::open(dir.path / "all.db");
  for (const char* in : {"s0.db", "s1.db", "s0.db"}) {
    out.prepare("ATTACH DATABASE ? AS src").bind(1, (dir.path / in).string()).run();
    for (const std::string& t : result_tables())
      out.exec("INSERT OR IGNORE INTO main." + t + " SELECT * FROM src." + t);
    out.exec("DETACH DATABASE src");
  }
  EXPECT_EQ(stored(dir.path / "all.db"), hashes(enumerate(s)));
  // Every per-run table came along, once per design: two units and the statistics of each.
  for (const char* sql :
       {"SELECT count(DISTINCT hash) FROM unit_metrics", "SELECT count(DISTINCT hash) FROM stats",
        "SELECT count(DISTINCT hash) FROM op_metrics"}) {
    Stmt st = out.prepare(sql);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.integer(0), 6) << sql;
  }
  Stmt units = out.prepare("SELECT count(*) FROM unit_metrics");
  ASSERT_TRUE(units.step());
  EXPECT_EQ(units.integer(0), 12);
}

TEST(SweepRun, NsgaIsDeterministicPerSeed) {
  TempDir dir;
  std::string text =
      sweep_text("n",
                 "    units.mxu.rows: {from: 2, to: 32, step: 2}\n    units.mxu.cols: {from: 2, "
                 "to: 32, step: 2}\n",
                 "  strategy: {kind: nsga2, population: 6, generations: 2, seed: 9}\n"
                 "  objectives: {latency_ms: min, area_mm2: min}\n");
  SweepSpec s = load_sweep(dir.write("s.yaml", text));
  run_sweep(s, opts(dir.path / "a.db"));
  run_sweep(s, opts(dir.path / "b.db"));
  auto a = stored(dir.path / "a.db");
  EXPECT_EQ(a, stored(dir.path / "b.db"));
  EXPECT_GE(a.size(), 6u);
  EXPECT_LE(a.size(), 18u);
}

TEST(SweepRun, TimeoutIsRecordedAndTheSweepGoesOn) {
  TempDir dir;
  std::string text = "sweep:\n  name: t\n  base: " + cfg("systems/datacenter.yaml") +
                     "\n  models: [" + cfg("models/llama-2-7b.yaml") + "]\n  workloads: [" +
                     cfg("workloads/prefill-512.yaml") +
                     "]\n  parameters:\n    units.mxu.rows: [4, 8]\n";
  SweepSpec s = load_sweep(dir.write("s.yaml", text));
  SweepOptions o = opts(dir.path / "t.db");
  o.timeout_s = 0.001;
  SweepSummary r = run_sweep(s, o);
  EXPECT_EQ(r.timeouts, 2);
  Db d = Db::open(dir.path / "t.db", true);
  Stmt st = d.prepare("SELECT error FROM runs WHERE status = 'timeout'");
  ASSERT_TRUE(st.step());
  EXPECT_NE(st.text(0).find("exceeded --timeout"), std::string::npos);
}

TEST(Database, ForeignCorruptAndFutureFilesAreRejected) {
  TempDir dir;
  auto expect = [](const std::filesystem::path& p, const std::string& fragment) {
    try {
      Db::open(p);
      FAIL() << p;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect(dir.write("garbage.db", std::string(4096, 'x')), "not a SQLite database");
  {
    sqlite3* raw = nullptr;
    sqlite3_open((dir.path / "foreign.db").c_str(), &raw);
    sqlite3_exec(raw, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  expect(dir.path / "foreign.db", "not a qaccel results database");
  { Db::open(dir.path / "future.db").exec("PRAGMA user_version=99"); }
  expect(dir.path / "future.db", "schema version 99 (written by a newer qaccel)");
  // A file of the previous schema (no unit_metrics, no per-op times): refused by name.
  { Db::open(dir.path / "old.db").exec("PRAGMA user_version=1"); }
  expect(dir.path / "old.db",
         "schema version 1 (written by an older qaccel), this qaccel reads "
         "version 3");
  // Version 2 (no relative_metrics): read as it is, upgraded in place when opened to write.
  {
    Db v2 = Db::open(dir.path / "v2.db");
    v2.exec("DROP TABLE relative_metrics");
    v2.exec("PRAGMA user_version=2");
  }
  auto version_and_table = [&](Db& db) {
    Stmt v = db.prepare(
        "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM "
        "sqlite_master WHERE name = 'relative_metrics')");
    EXPECT_TRUE(v.step());
    return std::pair<std::int64_t, std::int64_t>(v.integer(0), v.integer(1));
  };
  {
    Db r = Db::open(dir.path / "v2.db", true);
    EXPECT_EQ(version_and_table(r), (std::pair<std::int64_t, std::int64_t>(2, 0)));
  }
  {
    Db w = Db::open(dir.path / "v2.db");
    EXPECT_EQ(version_and_table(w), (std::pair<std::int64_t, std::int64_t>(3, 1)));
  }
  // Truncated copies of a real database: an error, never a crash.
  auto good = dir.path / "good.db";
  { Db::open(good); }
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (std::size_t cut : {std::size_t(10), std::size_t(100), bytes.size() / 2}) {
    auto p = dir.write("cut" + std::to_string(cut) + ".db", bytes.substr(0, cut));
    try {
      Db::open(p, true);
    } catch (const ConfigError&) {
    }
  }
}

// The timeline stays bounded however many ops: sub-pixel bars merge, wide ones stay apart.
TEST(Timeline, ManyOpsStayBoundedAndEveryLaneIsDrawn) {
  Gantt g;
  g.title = "t";
  g.lanes = {"mxu", "vpu", "idle"};
  g.kinds = {{"gemv", "#17becf"}, {"softmax", "#d62728"}};
  g.span = 2'000'000;
  g.ns_per_cycle = 1;
  for (std::int64_t i = 0; i < 100'000; ++i)  // 10-cycle ops, 10 cycles apart, on two lanes
    g.bars.push_back({int(i % 2), int(i % 2), i * 20, i * 20 + 10, "op " + std::to_string(i)});
  g.bars.push_back({0, 0, 1'000'000, 1'500'000, "a wide one"});
  const std::string svg = render_gantt_svg(g);
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto p = svg.find(what); p != std::string::npos; p = svg.find(what, p + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count("<g class=\"lane\""), 3u);
  EXPECT_NE(svg.find("data-unit=\"idle\""), std::string::npos);
  EXPECT_NE(svg.find("<title>a wide one</title>"), std::string::npos);  // drawn on its own
  EXPECT_LT(count("<rect"), 3u * 2 * 1000);  // about two shapes per pixel per lane at most
  EXPECT_LT(svg.size(), 1'000'000u);
  EXPECT_NE(svg.find("100000 ops narrower than a pixel"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

namespace {

std::int64_t count_of(Db& d, const std::string& sql) {
  Stmt st = d.prepare(sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.integer(0);
}

std::string integrity(const std::filesystem::path& p) {
  Db d = Db::open(p, true);
  Stmt st = d.prepare("PRAGMA integrity_check");
  std::string out;
  while (st.step())
    out += st.text(0);
  return out;
}

std::vector<std::string> tables_of(Db& d) {
  Stmt st = d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  std::vector<std::string> t;
  while (st.step())
    t.push_back(st.text(0));
  return t;
}

const char* kTwo = "    units.mxu.rows: [4, 8]\n";

}  // namespace

// Every table arrives; ok beats failed whichever side has it, with the ok run's measurements
// and nothing left over from the failed one; the later of two failures wins; a file is not
// merged into itself (under any name).
TEST(Merge, EveryTableAndTheBetterRunWithItsMeasurements) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", sweep_text("m", kTwo)));
  auto good = dir.path / "good.db", bad = dir.path / "bad.db";
  ASSERT_EQ(run_sweep(s, opts(good)).ok, 2);
  std::filesystem::copy_file(good, bad);
  const std::string h = enumerate(s)[0].hash;
  std::vector<std::string> measured = {"metrics", "energy", "op_metrics", "unit_metrics", "stats"};
  {
    Db b = Db::open(bad);
    b.exec(
        "UPDATE runs SET status = 'failed', error = 'old failure', finished = "
        "'2000-01-01T00:00:00Z' WHERE hash = '" +
        h + "'");
    for (const auto& t : measured)
      b.exec("DELETE FROM " + t + " WHERE hash = '" + h + "'");
  }
  // Into a fresh file: every table, row for row.
  {
    Db all = Db::open(dir.path / "all.db");
    MergeCounts n = merge_database(all, good);
    EXPECT_EQ(n.added, 2);
    Db g = Db::open(good, true);
    for (const std::string& t : tables_of(g))
      EXPECT_EQ(count_of(all, "SELECT count(*) FROM " + t),
                count_of(g, "SELECT count(*) FROM " + t))
          << t;
    EXPECT_GT(count_of(all, "SELECT count(*) FROM stats"), 0);
  }
  // Target failed, source ok: the ok run replaces it, measurements and all.
  {
    Db b = Db::open(bad);
    MergeCounts n = merge_database(b, good);
    EXPECT_EQ(n.added, 0);
    EXPECT_EQ(n.replaced, 1);
    EXPECT_EQ(run_status(b, h), std::optional<std::string>("ok"));
    Db g = Db::open(good, true);
    for (const auto& t : measured)
      EXPECT_EQ(count_of(b, "SELECT count(*) FROM " + t), count_of(g, "SELECT count(*) FROM " + t))
          << t;
  }
  // Target ok, source failed: nothing changes.
  {
    Db b = Db::open(bad);
    b.exec(
        "UPDATE runs SET status = 'failed', error = 'old failure', finished = "
        "'2000-01-01T00:00:00Z' WHERE hash = '" +
        h + "'");
    for (const auto& t : measured)
      b.exec("DELETE FROM " + t + " WHERE hash = '" + h + "'");
  }
  {
    Db g = Db::open(good);
    MergeCounts n = merge_database(g, bad);
    EXPECT_EQ(n.added + n.replaced, 0);
    EXPECT_EQ(run_status(g, h), std::optional<std::string>("ok"));
    EXPECT_GT(count_of(g, "SELECT count(*) FROM metrics WHERE hash = '" + h + "'"), 0);
  }
  // Two failures: the later one's row wins; no failed run carries measurements.
  auto later = dir.path / "later.db";
  std::filesystem::copy_file(bad, later);
  {
    Db l = Db::open(later);
    l.exec(
        "UPDATE runs SET error = 'new failure', finished = '2030-01-01T00:00:00Z' WHERE hash = '" +
        h + "'");
  }
  {
    Db b = Db::open(bad);
    // A leftover of an older qaccel's merge: metrics on a failed run. The merge clears it.
    b.exec("INSERT INTO metrics(hash, cycles) VALUES('" + h + "', 1)");
    EXPECT_EQ(merge_database(b, later).replaced, 1);
    Stmt e = b.prepare("SELECT error FROM runs WHERE hash = ?");
    e.bind(1, h);
    ASSERT_TRUE(e.step());
    EXPECT_EQ(e.text(0), "new failure");
    for (const auto& t : measured)
      EXPECT_EQ(count_of(b, "SELECT count(*) FROM " + t +
                                " t JOIN runs r ON r.hash = t.hash AND "
                                "r.status IN ('failed', 'timeout')"),
                0)
          << t;
  }
  // Into itself, also through a hard link and a relative path: refused at once.
  std::filesystem::create_hard_link(good, dir.path / "link.db");
  for (const auto& p : {good, dir.path / "link.db", dir.path / "." / "good.db"}) {
    auto t0 = std::chrono::steady_clock::now();
    Db g = Db::open(good);
    try {
      merge_database(g, p);
      ADD_FAILURE() << p;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("itself"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  }
  for (const auto& p : {good, bad, later, dir.path / "all.db"})
    EXPECT_EQ(integrity(p), "ok") << p;
}

// `query sql` reads and only reads, one statement at a time.
TEST(Query, UserSqlIsOneReadOnlyStatement) {
  TempDir dir;
  auto p = dir.path / "q.db";
  { Db::open(p); }
  Db d = Db::open(p, true);
  auto error_of = [&](const std::string& sql) -> std::string {
    try {
      Stmt st = d.prepare_read_only(sql);
      while (st.step()) {
      }
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("VACUUM INTO '" + (dir.path / "copy.db").string() + "'").find("only reading"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path / "copy.db"));
  EXPECT_NE(error_of("ATTACH DATABASE '" + (dir.path / "new.db").string() + "' AS x"), "");
  EXPECT_FALSE(std::filesystem::exists(dir.path / "new.db"));
  EXPECT_NE(error_of("PRAGMA user_version = 7"), "");
  EXPECT_NE(error_of("PRAGMA journal_mode = DELETE"), "");
  EXPECT_NE(error_of("PRAGMA wal_checkpoint"), "");
  EXPECT_NE(error_of("DELETE FROM runs"), "");
  EXPECT_NE(error_of("CREATE TEMP TABLE t(x)"), "");
  EXPECT_NE(error_of("BEGIN"), "");
  EXPECT_NE(error_of("SELECT 1; DELETE FROM runs").find("more than one statement"),
            std::string::npos);
  EXPECT_NE(error_of("SELECT 1; SELECT 2").find("more than one statement"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("  -- just a comment\n").find("empty"), std::string::npos);
  for (const char* ok :
       {"SELECT count(*) FROM runs", "SELECT 1;", "SELECT 1; -- done\n", "PRAGMA table_info(runs)",
        "PRAGMA user_version",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT x FROM c"})
    EXPECT_EQ(error_of(ok), "") << ok;
  EXPECT_NO_THROW(Db::open(p, true));  // nothing above changed the file
}

// A grid is counted, not built: a huge one is refused at once, a large one starts at once
// and its memory does not grow; random sampling of a tiny space ends.
TEST(Sweep, LargeGridsAreCountedAndBuiltLazily) {
  TempDir dir;
  const std::string big =
      "    units.mxu.rows: {from: 1, to: 512, step: 1}\n    units.mxu.cols: {from: 1, to: 512, "
      "step: 1}\n    units.mxu.dataflow: [ws, os, is]\n    schedule: [overlap, serial]\n";
  SweepSpec s = load_sweep(dir.write("big.yaml", sweep_text("big", big)));
  EXPECT_EQ(design_count(s), 512 * 512 * 6);
  try {
    DesignStream d(s, kDefaultMaxDesigns);
    ADD_FAILURE() << "not refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("more than --max-designs 1000000"), std::string::npos)
        << e.what();
  }
  auto t0 = std::chrono::steady_clock::now();
  DesignStream d(s, 10'000'000, 3, 4);
  DesignPoint p;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(d.next(p));
    EXPECT_EQ(p.index % 4, 3);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // Duplicate values make one design each.
  SweepSpec dup = load_sweep(
      dir.write("dup.yaml", sweep_text("dup",
                                       "    units.mxu.rows: [4, 8, 4, 8]\n    units.mxu.dataflow: "
                                       "[ws, ws]\n")));
  EXPECT_EQ(design_count(dup), 2);
  EXPECT_EQ(hashes(enumerate(dup)).size(), enumerate(dup).size());
  // Random sampling over two designs with a count of ten million: both, once, then a note.
  SweepSpec tiny = load_sweep(dir.write(
      "tiny.yaml",
      sweep_text("tiny", kTwo, "  strategy: {kind: random, count: 10000000, seed: 1}\n")));
  EXPECT_EQ(design_count(tiny), 2);
  DesignStream r(tiny, kDefaultMaxDesigns);
  int n = 0;
  while (r.next(p))
    ++n;
  EXPECT_EQ(n, 2);
  EXPECT_NE(r.note().find("each was drawn once"), std::string::npos) << r.note();
  // Constraints that exclude almost everything: the draw budget ends the search.
  SweepSpec few = load_sweep(dir.write(
      "few.yaml", sweep_text("few", "    units.mxu.rows: {from: 1, to: 1000, step: 1}\n",
                             "  constraints: [\"units.mxu.rows < 2\"]\n  strategy: {kind: random, "
                             "count: 500, seed: 1}\n")));
  DesignStream f(few, kDefaultMaxDesigns);
  n = 0;
  while (f.next(p))
    ++n;
  EXPECT_EQ(n, 1);
  EXPECT_NE(f.note().find("stopped after 50000 draws"), std::string::npos) << f.note();
  // A signal stops the stream.
  volatile int stop = 0;
  DesignStream g(s, 10'000'000);
  g.stop_on(&stop);
  EXPECT_TRUE(g.next(p));
  stop = SIGTERM;
  EXPECT_FALSE(g.next(p));
}

// A full disk is the environment's fault: IoError, never a design stored as failed, and the
// same sweep afterwards runs exactly what is missing.
TEST(SweepRun, FullDiskIsAnIoErrorAndResumeRunsWhatIsMissing) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", sweep_text("full", kGrid)));
  auto db = dir.path / "f.db";
  // In the library: SQLITE_FULL from a page limit is an IoError.
  {
    Db d = Db::open(db);
    Stmt pc = d.prepare("PRAGMA page_count");
    ASSERT_TRUE(pc.step());
    d.exec("PRAGMA max_page_count = " + std::to_string(pc.integer(0)));
    DesignPoint p = enumerate(s)[0];
    p.system_yaml = std::string(1 << 20, '#');
    EXPECT_THROW(store_result(d, s, p, "ok", "", 0, nullptr), IoError);
    EXPECT_EQ(run_status(d, p.hash), std::nullopt);
  }
  // A whole sweep on a file-size limit (as a full disk): the child exits with what it caught.
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead of killing
    rlimit lim{256 * 1024, 256 * 1024};
    setrlimit(RLIMIT_FSIZE, &lim);
    try {
      run_sweep(s, opts(db, 2));
      _exit(0);
    } catch (const IoError&) {
      _exit(4);
    } catch (...) {
      _exit(5);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
  EXPECT_EQ(integrity(db), "ok");
  std::size_t partial = stored(db).size();
  EXPECT_LT(partial, 6u);
  {
    Db d = Db::open(db, true);
    EXPECT_EQ(count_of(d, "SELECT count(*) FROM runs WHERE status != 'ok'"), 0);
  }
  SweepSummary r = run_sweep(s, opts(db));
  EXPECT_EQ(r.ran, std::int64_t(6 - partial));
  EXPECT_EQ(r.ok, 6);
  EXPECT_EQ(stored(db), hashes(enumerate(s)));
  EXPECT_EQ(integrity(db), "ok");
}

// A run whose op records outgrow memory spills them to $TMPDIR: when that fails, the design is
// left unrecorded (not stored as failed) and the sweep is an IoError; a re-run completes it.
TEST(SweepRun, AnUnwritableTmpdirIsAnIoErrorNotAFailedDesign) {
#if defined(__SANITIZE_ADDRESS__)
  // The error is thrown once SystemC has switched stacks: ASan then reports falsely
  // (google/sanitizers#189) and the worker dies of it.
  GTEST_SKIP() << "an exception after SystemC's stack switches trips ASan's false reports";
#endif
  TempDir dir;
  dir.write("w.yaml",
            "workload:\n  name: g30\n  phase: decode\n  context_len: 256\n  "
            "generated_tokens: 30\n  batch: 1\n");
  std::string text = "sweep:\n  name: tmp\n  base: " + cfg("systems/datacenter.yaml") +
                     "\n  models: [" + cfg("models/llama-2-7b.yaml") + "]\n  workloads: [" +
                     (dir.path / "w.yaml").string() +
                     "]\n  parameters:\n    units.mxu.dataflow: [ws, os]\n";
  SweepSpec s = load_sweep(dir.write("s.yaml", text));
  auto db = dir.path / "t.db";
  pid_t pid = fork();
  if (pid == 0) {
    ::setenv("TMPDIR", "/nonexistent/qaccel", 1);
    try {
      run_sweep(s, opts(db, 2));
      _exit(0);
    } catch (const IoError&) {
      _exit(4);
    } catch (...) {
      _exit(5);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
  EXPECT_TRUE(stored(db).empty());
  SweepSummary r = run_sweep(s, opts(db));
  EXPECT_EQ(r.ran, 2);
  EXPECT_EQ(r.ok, 2);
}

// Only regular files are databases: a FIFO or a device is refused at once, never opened.
TEST(Database, FifoAndDeviceAreRefused) {
  TempDir dir;
  auto fifo = dir.path / "fifo.db";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::filesystem::path& p : {fifo, std::filesystem::path("/dev/zero")})
    for (bool ro : {true, false}) {
      try {
        Db::open(p, ro);
        ADD_FAILURE() << p;
      } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
      }
    }
  Db out = Db::open(dir.path / "out.db");
  EXPECT_THROW(merge_database(out, fifo), ConfigError);
}

// Kill -9 at random moments, resume each time: in the end exactly one run, one link to the
// sweep and one set of measurements per design, no failure recorded, an intact file.
TEST(SweepRun, RandomSigkillsThenResumeLeaveOneRowPerDesign) {
  TempDir dir;
  SweepSpec s = load_sweep(
      dir.write("s.yaml", sweep_text("kr",
                                     "    units.mxu.rows: {from: 2, to: 16, step: 2}\n    "
                                     "units.mxu.dataflow: [ws, os]\n")));
  auto db = dir.path / "k.db";
  Db::open(db);
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL ^ std::uint64_t(getpid());
  for (int round = 0; round < 4; ++round) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    pid_t pid = fork();
    if (pid == 0) {
      run_sweep(s, opts(db, 2));
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + (seed >> 33) % 400));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // orphaned workers die too
  run_sweep(s, opts(db));
  EXPECT_EQ(stored(db), hashes(enumerate(s)));
  Db d = Db::open(db, true);
  EXPECT_EQ(count_of(d, "SELECT count(*) FROM runs"), 16);
  EXPECT_EQ(count_of(d, "SELECT count(*) FROM runs WHERE status != 'ok'"), 0);
  EXPECT_EQ(count_of(d, "SELECT count(*) FROM sweep_designs WHERE sweep = 'kr'"), 16);
  EXPECT_EQ(count_of(d, "SELECT count(*) FROM metrics"), 16);
  EXPECT_EQ(count_of(d, "SELECT count(*) FROM (SELECT hash FROM unit_metrics GROUP BY hash)"), 16);
  EXPECT_EQ(integrity(db), "ok");
}

// Names reach the SVG as well-formed XML whatever bytes they hold.
TEST(Svg, ControlCharactersAndBadUtf8AreReplaced) {
  Chart c;
  c.title = "sweep \x01\x1b[31m <&> \xff\xfe caf\xc3\xa9 \xed\xa0\x80";
  c.xlabel = "x", c.ylabel = "y";
  Series se;
  se.name = std::string("a\0b", 3), se.color = "#000";
  se.points = {{1, 1}, {2, 2}};
  se.labels = {"\x7f", "ok"};
  c.series.push_back(se);
  Gantt g;
  g.title = "t\x02";
  g.lanes = {"mxu\x03"};
  g.kinds = {{"k\x04", "#111"}};
  g.bars = {{0, 0, 0, 10, "op\x05"}};
  g.span = 10;
  for (const std::string& svg : {render_svg(c), render_gantt_svg(g)}) {
    for (unsigned char ch : svg)
      EXPECT_TRUE(ch >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r') << int(ch);
    EXPECT_NE(svg.find("\xEF\xBF\xBD"), std::string::npos);
    EXPECT_EQ(svg.find("\xff"), std::string::npos);
    EXPECT_EQ(svg.find("\xed\xa0\x80"), std::string::npos);  // a UTF-16 surrogate
  }
  EXPECT_NE(render_svg(c).find("caf\xc3\xa9"), std::string::npos);  // valid UTF-8 stays
  EXPECT_NE(render_svg(c).find("&lt;&amp;&gt;"), std::string::npos);
}

// A combination that is not a valid system shows only when its design is built: the valid
// designs still run, then the sweep reports it (ConfigError, exit 2).
TEST(SweepRun, AnInvalidDesignDoesNotStopTheOthers) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", sweep_text("inv", kTwo)));
  s.params[0].values = {"4", "0", "8"};  // past the load-time check of each value
  auto db = dir.path / "i.db";
  try {
    run_sweep(s, opts(db));
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("1 design(s) are not valid systems"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("units.mxu.rows=0"), std::string::npos) << e.what();
  }
  EXPECT_EQ(stored(db).size(), 2u);
}

namespace {

// A design list on the tiny model (and stories15M): two systems, quant overrides, a baseline.
std::string designs_text(const std::string& designs, const std::string& extra = "",
                         const std::string& models = "") {
  return "sweep:\n  name: formats\n  designs:\n" + designs + "  models: [" +
         (models.empty() ? cfg("models/tiny.yaml") : models) + "]\n  workloads: [" +
         cfg("workloads/decode-32.yaml") + ", " + cfg("workloads/prefill-64.yaml") + "]\n" + extra;
}

const std::string kDesigns = "    - {name: int8, system: " + cfg("systems/edge-npu.yaml") +
                             ", quant: w8a8-g32}\n"
                             "    - {name: int4, system: " +
                             cfg("systems/edge-npu.yaml") +
                             ", quant: w4a8-g32}\n"
                             "    - name: bitserial\n      system: " +
                             cfg("systems/bitmod.yaml") + "\n";

}  // namespace

TEST(Sweep, DesignListParsesAndEnumeratesDesignsModelsWorkloads) {
  TempDir dir;
  const std::string models = cfg("models/tiny.yaml") + ", " + cfg("models/stories15M.yaml");
  SweepSpec s =
      load_sweep(dir.write("s.yaml", designs_text(kDesigns,
                                                  "  baseline: int8\n  objectives: {latency_ms: "
                                                  "min}\n",
                                                  models)));
  ASSERT_EQ(s.designs.size(), 3u);
  EXPECT_EQ(s.designs[0].name, "int8");
  ASSERT_TRUE(s.designs[1].quant);
  EXPECT_EQ(s.designs[1].quant->name(), "w4a8-g32-kv16");
  EXPECT_FALSE(s.designs[2].quant);
  EXPECT_EQ(s.baseline, "int8");
  EXPECT_TRUE(s.params.empty());
  EXPECT_EQ(design_count(s), 3 * 2 * 2);
  auto pts = enumerate(s);
  ASSERT_EQ(pts.size(), 12u);
  for (std::size_t i = 0; i < pts.size(); ++i) {  // designs x models x workloads, last fastest
    EXPECT_EQ(pts[i].index, std::int64_t(i));
    EXPECT_EQ(pts[i].design, int(i / 4));
    EXPECT_EQ(pts[i].model, int(i / 2 % 2));
    EXPECT_EQ(pts[i].workload, int(i % 2));
    ASSERT_FALSE(pts[i].params.empty());
    EXPECT_EQ(pts[i].params[0],
              (std::pair<std::string, std::string>("design", s.designs[i / 4].name)));
  }
  EXPECT_EQ(pts[4].params[1], (std::pair<std::string, std::string>("quant", "w4a8-g32-kv16")));
  EXPECT_EQ(pts[8].params.size(), 1u);  // no override: no quant parameter
  EXPECT_EQ(hashes(pts).size(), 12u);
  EXPECT_EQ(hashes(enumerate(s)), hashes(pts));
  // The quant override reaches the simulated model, and only there.
  EXPECT_EQ(point_model(s, pts[4]).quant, parse_scheme("w4a8-g32"));
  EXPECT_EQ(point_model(s, pts[8]).quant, s.models[0].quant);
  // Same system and files, another quant: another hash.
  EXPECT_EQ(pts[0].system_yaml, pts[4].system_yaml);
  EXPECT_NE(pts[0].hash, pts[4].hash);
  SweepSpec other = s;
  other.designs[0].quant = parse_scheme("w8a8-g64");
  EXPECT_NE(make_design_point(other, 0, 0, 0, 0).hash, pts[0].hash);
  // Shards split the list by index; --max-designs counts it.
  std::set<std::string> sharded;
  for (int shard = 0; shard < 3; ++shard) {
    DesignStream d(s, kDefaultMaxDesigns, shard, 3);
    for (DesignPoint p; d.next(p);) {
      EXPECT_EQ(p.index % 3, shard);
      sharded.insert(p.hash);
    }
  }
  EXPECT_EQ(sharded, hashes(pts));
  DesignStream counted(s, kDefaultMaxDesigns);
  EXPECT_EQ(counted.count_rest(), 12);
  EXPECT_THROW(DesignStream(s, 11), ConfigError);
}

TEST(Sweep, DesignListErrorsNameFileAndKeyPath) {
  struct Case {
    std::string text, fragment;
  };
  const std::string grid = "  parameters:\n    units.mxu.rows: [4]\n";
  std::vector<Case> cases = {
      {designs_text(kDesigns, "  base: " + cfg("systems/edge-npu.yaml") + "\n"),
       "sweep.base: not with 'designs'"},
      {designs_text(kDesigns, grid), "sweep.parameters: not with 'designs'"},
      {designs_text(kDesigns, "  strategy: {kind: grid}\n"), "sweep.strategy: not with 'designs'"},
      {designs_text("    - {name: a, system: nowhere.yaml}\n"),
       "sweep.designs[0].system: in the referenced file:"},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") +
                    "}\n    - {name: b, system: " + cfg("models/tiny.yaml") + "}\n"),
       "sweep.designs[1].system: in the referenced file:\n  "},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") + ", quant: w9a8}\n"),
       "sweep.designs[0].quant: quantization scheme 'w9a8'"},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") +
                    ", quant: w4a8-g128}\n"),
       "sweep.designs[0].quant: scheme 'w4a8-g128' does not fit model 'tiny'"},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") +
                    ", quant: w4a8-g32}\n    - {name: a, system: " + cfg("systems/bitmod.yaml") +
                    "}\n"),
       "sweep.designs[1].name: duplicate design name 'a'"},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") +
                    ", quant: w4a8-g32}\n    - {name: b, system: " + cfg("systems/edge-npu.yaml") +
                    ", quant: w4a8-g32}\n"),
       "sweep.designs[1]: design 'b' has the same system and quant as design 'a'"},
      {designs_text("    - {name: a, system: " + cfg("systems/edge-npu.yaml") + ", qaunt: w4a8}\n"),
       "sweep.designs[0].qaunt: unknown key (did you mean 'quant'?)"},
      {designs_text("    - {system: " + cfg("systems/edge-npu.yaml") + "}\n"),
       "sweep.designs[0]: missing required key 'name'"},
      {designs_text("    []\n"), "sweep.designs: expected a non-empty list"},
      {designs_text(kDesigns, "  baseline: fp16\n"),
       "sweep.baseline: 'fp16' is not a design of this sweep (designs: int8, int4, bitserial)"},
      {sweep_text("x", kGrid, "  baseline: a\n"),
       "sweep.baseline: names a design of a 'designs' list"},
  };
  for (const auto& c : cases) {
    std::string e = load_error(c.text);
    EXPECT_NE(e.find(c.fragment), std::string::npos) << "expected '" << c.fragment << "' in:\n"
                                                     << e;
    EXPECT_NE(e.find("s.yaml"), std::string::npos) << e;
  }
}

// A design list end to end: every point stored with its design and quant, speedup and energy
// ratio against the baseline in relative_metrics (the baseline's exactly 1), and a re-run
// runs nothing and gives the same rows.
TEST(SweepRun, DesignListStoresRelativeMetricsAgainstTheBaseline) {
  TempDir dir;
  SweepSpec s = load_sweep(dir.write("s.yaml", designs_text(kDesigns, "  baseline: int8\n")));
  auto db = dir.path / "d.db";
  SweepSummary a = run_sweep(s, opts(db));
  EXPECT_EQ(a.points, 6);
  EXPECT_EQ(a.ok, 6);
  ASSERT_EQ(a.rows.size(), 6u);
  Db d = Db::open(db, true);
  auto count = [&](const std::string& sql) {
    Stmt st = d.prepare(sql);
    EXPECT_TRUE(st.step()) << sql;
    return st.integer(0);
  };
  EXPECT_EQ(count("SELECT count(*) FROM params WHERE name = 'design'"), 6);
  EXPECT_EQ(count("SELECT count(*) FROM params WHERE name = 'quant' AND value = 'w4a8-g32-kv16'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM relative_metrics WHERE sweep = 'formats'"), 6);
  // The quant reached the simulation: int4 weights move fewer DRAM bytes than int8 ones.
  EXPECT_EQ(count("SELECT count(*) FROM metrics a JOIN params pa ON pa.hash = a.hash AND "
                  "pa.value = 'int8' JOIN metrics b JOIN params pb ON pb.hash = b.hash AND "
                  "pb.value = 'int4' JOIN designs da ON da.hash = a.hash JOIN designs db ON "
                  "db.hash = b.hash AND db.workload = da.workload WHERE b.dram_bytes < "
                  "a.dram_bytes"),
            2);
  Stmt st = d.prepare(
      "SELECT p.value, d.workload, m.latency_ms, m.energy_uj_per_token, r.speedup, "
      "r.energy_ratio, bm.latency_ms, bm.energy_uj_per_token, r.baseline FROM relative_metrics r "
      "JOIN params p ON p.hash = r.hash AND p.name = 'design' JOIN designs d ON d.hash = r.hash "
      "JOIN metrics m ON m.hash = r.hash JOIN metrics bm ON bm.hash = r.baseline_hash");
  int rows = 0;
  while (st.step()) {
    ++rows;
    EXPECT_EQ(st.text(8), "int8");
    if (st.text(0) == "int8") {
      EXPECT_EQ(st.real(4), 1.0);  // exactly
      EXPECT_EQ(st.real(5), 1.0);
    }
    EXPECT_DOUBLE_EQ(st.real(4), st.real(6) / st.real(2)) << st.text(0) << " " << st.text(1);
    EXPECT_DOUBLE_EQ(st.real(5), st.real(3) / st.real(7)) << st.text(0) << " " << st.text(1);
  }
  EXPECT_EQ(rows, 6);
  // The summary rows say the same, in order.
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    const DesignRow& r = a.rows[i];
    EXPECT_EQ(r.design, s.designs[i / 2].name);
    EXPECT_EQ(r.status, "ok");
    ASSERT_TRUE(r.speedup && r.energy_ratio && r.latency_ms && r.tokens_per_s_per_mm2);
    const DesignRow& b = a.rows[i % 2];
    EXPECT_DOUBLE_EQ(*r.speedup, *b.latency_ms / *r.latency_ms);
    EXPECT_GT(*r.tokens_per_s_per_mm2, 0);
  }
  EXPECT_EQ(*a.rows[0].speedup, 1.0);
  SweepSummary b = run_sweep(s, opts(db));
  EXPECT_EQ(b.ran, 0);
  EXPECT_EQ(b.skipped, 6);
  ASSERT_EQ(b.rows.size(), 6u);
  for (std::size_t i = 0; i < b.rows.size(); ++i)
    EXPECT_EQ(b.rows[i].speedup, a.rows[i].speedup);
}

// `functional:` checks every matmul a unit recomputes against the reference: the test-only
// flipbit unit (one wrong bit, registered in this binary by test_system.cpp) fails its run
// with the mismatch as the error, the real array passes; a timing-only run of the same design
// has another hash and passes (nothing is compared).
TEST(SweepRun, FunctionalRunsFailOnAMismatch) {
  TempDir dir;
  const std::string sys_bad = dir.write(
      "flip.yaml", "system:\n  name: flip\n  clock_ghz: 1.0\n  tech: " + cfg("tech/45nm.yaml") +
                       "\n  memory: {kind: lpddr4, channels: 1, bytes_per_cycle_per_channel: 8}\n"
                       "  units:\n    mxu: {impl: flipbit}\n    vpu: {impl: vector, lanes: 16}\n"
                       "  mapping: {matmul: mxu, gemv: mxu, classifier: mxu, default: vpu}\n");
  auto text = [&](const std::string& functional) {
    return "sweep:\n  name: f\n  designs:\n    - {name: good, system: " +
           cfg("systems/edge-npu.yaml") + "}\n    - {name: bad, system: " + sys_bad +
           "}\n  models: [" + cfg("models/tiny.yaml") + "]\n  workloads: [" +
           cfg("workloads/decode-32.yaml") + "]\n" + functional;
  };
  SweepSpec s = load_sweep(dir.write("s.yaml", text("  functional: true\n")));
  auto db = dir.path / "r.db";
  SweepSummary a = run_sweep(s, opts(db));
  EXPECT_EQ(a.ok, 1);
  EXPECT_EQ(a.failed, 1);
  {
    Db d = Db::open(db, true);
    Stmt st = d.prepare(
        "SELECT r.error FROM runs r JOIN params p ON p.hash = r.hash AND p.name = 'design' AND "
        "p.value = 'bad'");
    ASSERT_TRUE(st.step());
    EXPECT_NE(st.text(0).find("functional mismatch: op L0.wq at position 32 on unit 'mxu'"),
              std::string::npos)
        << st.text(0);
  }
  SweepSpec t = load_sweep(dir.write("t.yaml", text("")));
  SweepSummary b = run_sweep(t, opts(db));
  EXPECT_EQ(b.ran, 2);  // new hashes: timing-only runs are other designs
  EXPECT_EQ(b.ok, 2);
}
