#include "dse/driver.hpp"
#include "sim/functional.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <set>
#include <thread>

#include "qaccel/version.hpp"
#include "sim/base/error.hpp"
#include "workloads/rng.hpp"

namespace qaccel::dse {

namespace {

// The error text of a design that ran past --timeout (written by the worker or the driver).
std::string timeout_message(double timeout_s) {
  return "exceeded --timeout " + std::to_string(timeout_s) + " s";
}

volatile sig_atomic_t g_stop = 0;

// A worker's exit status when the database failed it (full disk, I/O error, lock timeout).
constexpr int kWorkerIoError = 75;  // EX_TEMPFAIL
void on_signal(int sig) {
  g_stop = sig;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

void bind_value(Stmt& st, int i, const std::string& v) {
  // Numbers are stored as numbers so `WHERE name = '...' AND value = 128` works.
  if (auto d = numeric(v)) {
    if (*d == std::floor(*d) && std::fabs(*d) < 9e15)
      st.bind(i, std::int64_t(*d));
    else
      st.bind(i, *d);
  } else {
    st.bind(i, v);
  }
}

}  // namespace

void record_sweep(Db& db, const SweepSpec& s) {
  db.prepare("INSERT OR IGNORE INTO sweeps(name, spec_file, spec, created) VALUES(?, ?, ?, ?)")
      .bind(1, s.name)
      .bind(2, s.file.string())
      .bind(3, s.text)
      .bind(4, now_utc())
      .run();
}

std::optional<std::string> run_status(Db& db, const std::string& hash) {
  Stmt st = db.prepare("SELECT status FROM runs WHERE hash = ?");
  st.bind(1, hash);
  if (st.step()) return st.text(0);
  return std::nullopt;
}

std::optional<std::map<std::string, double>> load_metrics(Db& db, const std::string& hash) {
  Stmt st = db.prepare("SELECT * FROM metrics WHERE hash = ?");
  st.bind(1, hash);
  if (!st.step()) return std::nullopt;
  std::map<std::string, double> m;
  for (int c = 0; c < st.columns(); ++c)
    if (st.name(c) != "hash") m[st.name(c)] = st.real(c);
  return m;
}

void store_result(Db& db, const SweepSpec& s, const DesignPoint& p, const std::string& status,
                  const std::string& error, double wall_s, const SimResult* res) {
  Transaction tx(db);
  db.prepare(
        "INSERT OR IGNORE INTO designs(hash, system_yaml, model, workload, model_file, "
        "workload_file, sim_version) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)")
      .bind(1, p.hash)
      .bind(2, p.system_yaml)
      .bind(3, s.models[p.model].name)
      .bind(4, s.workloads[p.workload].name)
      .bind(5, s.model_files[p.model].string())
      .bind(6, s.workload_files[p.workload].string())
      .bind(7, std::string(kVersion))
      .run();
  Stmt prm = db.prepare("INSERT OR IGNORE INTO params(hash, name, value) VALUES(?, ?, ?)");
  for (const auto& [name, value] : p.params) {
    prm.bind(1, p.hash).bind(2, name);
    bind_value(prm, 3, value);
    prm.run();
  }
  prm.bind(1, p.hash).bind(2, std::string("model")).bind(3, s.models[p.model].name).run();
  prm.bind(1, p.hash).bind(2, std::string("workload")).bind(3, s.workloads[p.workload].name).run();
  db.prepare("INSERT OR IGNORE INTO sweep_designs(sweep, hash, point) VALUES(?, ?, ?)")
      .bind(1, s.name)
      .bind(2, p.hash)
      .bind(3, p.index)
      .run();
  db.prepare(
        "INSERT OR IGNORE INTO runs(hash, status, error, wall_s, host, finished, sim_version, "
        "schedule, prefetch) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, p.hash)
      .bind(2, status)
      .bind(3, error)
      .bind(4, wall_s)
      .bind(5, hostname())
      .bind(6, now_utc())
      .bind(7, std::string(kVersion))
      .bind(8, std::string(to_string(p.system.schedule)))
      .bind(9, std::string(to_string(p.system.prefetch)))
      .run();
  if (res) {
    std::string cols = "hash", marks = "?";
    for (const std::string& n : metric_names())
      cols += ", " + n, marks += ", ?";
    Stmt m = db.prepare("INSERT OR IGNORE INTO metrics(" + cols + ") VALUES(" + marks + ")");
    m.bind(1, p.hash);
    auto values = metric_values(res->metrics);
    int i = 2;
    for (const std::string& n : metric_names())
      m.bind(i++, values.at(n));
    m.run();
    Stmt e = db.prepare("INSERT OR IGNORE INTO energy(hash, component, pj) VALUES(?, ?, ?)");
    for (const auto& [k, v] : res->metrics.energy_pj_by_component)
      e.bind(1, p.hash).bind(2, k).bind(3, v).run();
    Stmt stat = db.prepare(
        "INSERT OR IGNORE INTO stats(hash, name, unit, description, value) VALUES(?, ?, ?, ?, ?)");
    for (const Stat& st : res->stats)
      stat.bind(1, p.hash)
          .bind(2, st.name)
          .bind(3, st.unit)
          .bind(4, st.desc)
          .bind(5, st.value)
          .run();
    Stmt op = db.prepare(
        "INSERT OR IGNORE INTO op_metrics(hash, idx, step, name, kind, unit, m, n, k, cycles, "
        "compute_cycles, stall_cycles, macs, flops, dram_bytes, sram_bytes, intensity, "
        "attained_flops_per_cycle, peak_flops_per_cycle, utilization, bound, energy_pj, mapped_by, "
        "ready_cycle, start_cycle, end_cycle, waited_for, memory_cycles, hidden_memory_cycles, "
        "prefetched_bytes) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, "
        "?, ?, ?, ?, ?, ?, ?, ?)");
    std::int64_t idx = 0;
    for (const OpRecord& r : res->records) {
      op.bind(1, p.hash).bind(2, idx++).bind(3, r.step).bind(4, r.op.name);
      op.bind(5, std::string(to_string(r.op.kind)))
          .bind(6, r.unit)
          .bind(7, r.op.m)
          .bind(8, r.op.n)
          .bind(9, r.op.k);
      op.bind(10, r.cost.cycles)
          .bind(11, r.cost.compute_cycles)
          .bind(12, r.cost.stall_cycles)
          .bind(13, r.cost.macs);
      op.bind(14, r.cost.flops).bind(15, r.cost.dram_read_bytes + r.cost.dram_write_bytes);
      op.bind(16, r.cost.sram_read_bytes + r.cost.sram_write_bytes).bind(17, r.intensity);
      op.bind(18, r.attained_flops_per_cycle)
          .bind(19, r.peak_flops_per_cycle)
          .bind(20, r.utilization);
      op.bind(21, std::string(r.memory_bound ? "memory" : "compute")).bind(22, r.cost.energy_pj());
      op.bind(23, r.mapped_by)
          .bind(24, r.ready_cycle)
          .bind(25, r.start_cycle)
          .bind(26, r.end_cycle)
          .bind(27, r.waited_for);
      op.bind(28, r.memory_cycles).bind(29, r.hidden_memory_cycles).bind(30, r.prefetched_bytes);
      op.run();
    }
    Stmt unit = db.prepare(
        "INSERT OR IGNORE INTO unit_metrics(hash, idx, unit, ops, busy_cycles, stalled_cycles, "
        "idle_cycles, utilization) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    for (std::size_t i = 0; i < res->units.size(); ++i) {
      const UnitUsage& u = res->units[i];
      unit.bind(1, p.hash).bind(2, std::int64_t(i)).bind(3, u.name).bind(4, u.ops);
      unit.bind(5, u.busy_cycles).bind(6, u.stalled_cycles).bind(7, u.idle_cycles);
      unit.bind(8, u.utilization).run();
    }
  }
  tx.commit();
}

std::vector<DesignRow> design_rows(Db& db, const SweepSpec& s, std::int64_t max_designs) {
  QACCEL_ASSERT(!s.designs.empty(), "design_rows needs a design list");
  std::vector<DesignRow> rows;
  std::vector<DesignPoint> points;
  DesignStream stream(s, max_designs);
  for (DesignPoint p; stream.next(p);) {
    DesignRow r;
    r.design = s.designs[std::size_t(p.design)].name;
    r.model = s.models[std::size_t(p.model)].name;
    r.workload = s.workloads[std::size_t(p.workload)].name;
    r.hash = p.hash;
    r.status = run_status(db, p.hash).value_or("");
    if (auto m = load_metrics(db, p.hash)) {
      r.latency_ms = m->at("latency_ms");
      r.energy_uj_per_token = m->at("energy_uj_per_token");
      r.area_mm2 = m->at("area_mm2");
      r.tokens_per_s_per_mm2 = m->at("tokens_per_s_per_mm2");
    }
    rows.push_back(std::move(r));
    points.push_back(std::move(p));
  }
  if (s.baseline.empty()) return rows;
  // The baseline point of each model and workload.
  std::map<std::pair<int, int>, std::size_t> base;
  for (std::size_t i = 0; i < points.size(); ++i)
    if (rows[i].design == s.baseline) base[{points[i].model, points[i].workload}] = i;
  Transaction tx(db);
  db.prepare("DELETE FROM relative_metrics WHERE sweep = ?").bind(1, s.name).run();
  Stmt ins = db.prepare(
      "INSERT INTO relative_metrics(sweep, hash, baseline, baseline_hash, speedup, energy_ratio) "
      "VALUES(?, ?, ?, ?, ?, ?)");
  for (std::size_t i = 0; i < points.size(); ++i) {
    auto b = base.find({points[i].model, points[i].workload});
    if (b == base.end()) continue;
    const DesignRow &r = rows[i], &br = rows[b->second];
    if (!r.latency_ms || !br.latency_ms) continue;
    DesignRow& w = rows[i];
    if (*r.latency_ms > 0) w.speedup = *br.latency_ms / *r.latency_ms;
    if (*br.energy_uj_per_token > 0)
      w.energy_ratio = *r.energy_uj_per_token / *br.energy_uj_per_token;
    ins.bind(1, s.name).bind(2, r.hash).bind(3, s.baseline).bind(4, br.hash);
    w.speedup ? ins.bind(5, *w.speedup) : ins.bind_null(5);
    w.energy_ratio ? ins.bind(6, *w.energy_ratio) : ins.bind_null(6);
    ins.run();
  }
  tx.commit();
  return rows;
}

namespace {

// The worker: simulate one design and store it; never returns.
[[noreturn]] void worker(const SweepSpec& s, const DesignPoint& p,
                         const std::filesystem::path& db_path, pid_t driver, double timeout_s) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  // Die with the driver (kill -9 included): an orphan would store work nobody waits for.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != driver) _exit(4);
  int code = 0;
  auto t0 = std::chrono::steady_clock::now();
  try {
    Db db = Db::open(db_path);
    std::string status = "ok", error;
    std::optional<SimResult> res;
    try {
      System sys(p.system);
      const ModelSpec model = point_model(s, p);
      res = simulate(sys, model, s.workloads[p.workload]);
      if (!res->deadlock.empty()) {
        status = "failed", error = "internal error (a bug in qaccel): " + res->deadlock;
        res.reset();
      } else if (s.functional(model)) {
        const Verification v = verify_functional(sys, model, s.workloads[p.workload], res->records);
        if (!v.mismatch.empty()) {
          status = "failed", error = "functional mismatch: " + v.mismatch;
          res.reset();
        }
      }
      auto values = res ? metric_values(res->metrics) : std::map<std::string, double>{};
      for (const Constraint& c : s.constraints) {
        if (!c.on_results) continue;
        bool ok = constraint_holds(c, [&](const std::string& n) -> std::optional<double> {
          auto it = values.find(n);
          if (it != values.end()) return it->second;
          for (const auto& [k, v] : p.params)
            if (k == n) return numeric(v);
          return std::nullopt;
        });
        if (!ok) status = "infeasible", error = "violates " + c.expr.text();
      }
    } catch (const IoError&) {
      throw;  // the environment's (e.g. $TMPDIR for the op records), not the design's
    } catch (const std::exception& e) {
      status = "failed", error = e.what();
      res.reset();
    }
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Past the deadline is a timeout even if the driver (busy, or starved of CPU) has not
    // killed us yet: the outcome must not depend on when the driver polls.
    if (timeout_s > 0 && wall > timeout_s)
      status = "timeout", error = timeout_message(timeout_s), res.reset();
    store_result(db, s, p, status, error, wall, res ? &*res : nullptr);
  } catch (const IoError& e) {
    // Not the design's fault: the driver leaves it unrecorded so that a re-run retries it.
    std::cerr << "worker for design " << p.hash << ": " << e.what() << "\n";
    code = kWorkerIoError;
  } catch (const std::exception& e) {
    std::cerr << "worker for design " << p.hash << ": " << e.what() << "\n";
    code = 3;
  }
  std::cout.flush(), std::cerr.flush();
  _exit(code);  // no destructors: the driver's own database handle must stay untouched
}

struct Running {
  std::shared_ptr<const DesignPoint> point;
  pid_t pid;
  std::chrono::steady_clock::time_point start;
};

// Runs designs from a source with up to o.workers workers; updates the summary.
class Pool {
 public:
  using Source = std::function<bool(DesignPoint&)>;

  Pool(const SweepSpec& s, const SweepOptions& o, Db& db, SweepSummary& sum)
      : s_(s), o_(o), db_(db), sum_(sum), t0_(std::chrono::steady_clock::now()), driver_(getpid()) {
    if (!s.objectives.empty()) objective_ = s.objectives[0];
  }

  void count_distinct() { count_distinct_ = true; }

  void run(const std::vector<DesignPoint>& points, std::int64_t total_hint) {
    std::size_t i = 0;
    run(
        [&](DesignPoint& p) {
          if (i == points.size()) return false;
          p = points[i++];
          return true;
        },
        total_hint);
  }

  // Pulls designs one at a time as workers free up, so a sweep's memory does not grow with
  // its size. After a worker's I/O error, starts no more designs.
  void run(const Source& next_point, std::int64_t total_hint, bool hint_is_estimate = false) {
    total_ = std::max(total_hint, done_);
    bool more = true;
    while (!g_stop && ((more && !io_failed()) || !running_.empty())) {
      while (!g_stop && more && !io_failed() && int(running_.size()) < o_.workers) {
        auto p = std::make_shared<DesignPoint>();
        if (!(more = next_point(*p))) break;
        // nsga2 meets a design again in later generations: the summary counts designs, so
        // a repeat is neither a new point nor "already stored".
        if (count_distinct_ && !counted_.insert(p->hash).second) {
          ++done_;
          continue;
        }
        ++sum_.points;
        total_ = std::max(total_, done_ + std::int64_t(running_.size()) + 1);
        if (o_.retry_failed)
          db_.prepare("DELETE FROM runs WHERE hash = ? AND status IN ('failed', 'timeout')")
              .bind(1, p->hash)
              .run();
        if (auto st = run_status(db_, p->hash)) {
          // Done before (this sweep or another): link it to this sweep, count it, skip it.
          db_.prepare("INSERT OR IGNORE INTO sweep_designs(sweep, hash, point) VALUES(?, ?, ?)")
              .bind(1, s_.name)
              .bind(2, p->hash)
              .bind(3, p->index)
              .run();
          ++sum_.skipped, ++done_;
          note(*p, *st);
          continue;
        }
        std::cout.flush(), std::cerr.flush();
        pid_t pid = fork();
        if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
        if (pid == 0) worker(s_, *p, o_.db_path, driver_, o_.timeout_s);
        running_.push_back({p, pid, std::chrono::steady_clock::now()});
      }
      reap();
      progress(false);
      if (!running_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (hint_is_estimate && !more && running_.empty()) total_ = done_;
    if (g_stop) {
      for (const Running& r : running_)
        kill(r.pid, SIGKILL);
      for (const Running& r : running_)
        waitpid(r.pid, nullptr, 0);
      running_.clear();
    }
    progress(true);
  }

  bool io_failed() const { return sum_.io_errors > 0; }

 private:
  void reap() {
    for (std::size_t i = 0; i < running_.size();) {
      Running& r = running_[i];
      int status = 0;
      pid_t got = waitpid(r.pid, &status, WNOHANG);
      double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
      if (got == 0 && o_.timeout_s > 0 && secs > o_.timeout_s) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, nullptr, 0);
        store_result(db_, s_, *r.point, "timeout", timeout_message(o_.timeout_s), secs, nullptr);
        finish(*r.point, "timeout");
        running_.erase(running_.begin() + std::ptrdiff_t(i));
        continue;
      }
      if (got == 0) {
        ++i;
        continue;
      }
      std::optional<std::string> st = run_status(db_, r.point->hash);
      // SIGXFSZ: the worker's write passed the file-size limit, the environment's doing too.
      if (!st && ((WIFEXITED(status) && WEXITSTATUS(status) == kWorkerIoError) ||
                  (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ))) {
        ++sum_.io_errors;  // left unrecorded: a re-run retries it
      } else if (!st && !g_stop) {
        std::string why = WIFSIGNALED(status)
                              ? "worker died: signal " + std::to_string(WTERMSIG(status)) + " (" +
                                    strsignal(WTERMSIG(status)) + ")"
                              : "worker exited with status " + std::to_string(WEXITSTATUS(status)) +
                                    " without storing a result";
        store_result(db_, s_, *r.point, "failed", why, secs, nullptr);
        st = "failed";
      }
      if (st) finish(*r.point, *st);
      running_.erase(running_.begin() + std::ptrdiff_t(i));
    }
  }

  void finish(const DesignPoint& p, const std::string& st) {
    ++sum_.ran, ++done_;
    note(p, st);
  }

  void note(const DesignPoint& p, const std::string& st) {
    if (st == "ok")
      ++sum_.ok;
    else if (st == "failed")
      ++sum_.failed;
    else if (st == "timeout")
      ++sum_.timeouts;
    else if (st == "infeasible")
      ++sum_.infeasible;
    if (st != "ok" || !objective_) return;
    if (auto m = load_metrics(db_, p.hash)) {
      double v = m->at(objective_->metric);
      if (!best_ || (objective_->maximize ? v > *best_ : v < *best_)) best_ = v;
    }
  }

  void progress(bool final) {
    if (!o_.progress) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    double el = std::chrono::duration<double>(now - t0_).count();
    std::int64_t ran = sum_.ran;
    double rate = el > 0 ? double(ran) / el : 0;
    double eta = rate > 0 ? double(total_ - done_) / rate : 0;
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "\r%s: %lld/%lld done (%lld skipped, %lld failed), %.1f/s, ETA %.0f s",
                  s_.name.c_str(), (long long)done_, (long long)total_, (long long)sum_.skipped,
                  (long long)(sum_.failed + sum_.timeouts), rate, eta);
    std::cerr << buf;
    if (best_) std::cerr << ", best " << objective_->metric << " " << *best_;
    std::cerr << "   " << (final ? "\n" : "") << std::flush;
  }

  const SweepSpec& s_;
  const SweepOptions& o_;
  Db& db_;
  SweepSummary& sum_;
  std::vector<Running> running_;
  std::int64_t done_ = 0, total_ = 0;
  bool count_distinct_ = false;  // nsga2 only: a grid's memory must not grow with its size
  std::set<std::string> counted_;
  std::optional<Objective> objective_;
  std::optional<double> best_;
  std::chrono::steady_clock::time_point t0_, last_{};
  pid_t driver_;
};

// Objective vector to minimise; +inf for designs without an ok result.
std::vector<double> objectives_of(Db& db, const SweepSpec& s, const std::string& hash) {
  std::vector<double> out(s.objectives.size(), std::numeric_limits<double>::infinity());
  if (run_status(db, hash) != std::optional<std::string>("ok")) return out;
  auto m = load_metrics(db, hash);
  for (std::size_t i = 0; i < s.objectives.size(); ++i) {
    double v = m->at(s.objectives[i].metric);
    out[i] = s.objectives[i].maximize ? -v : v;
  }
  return out;
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) better = true;
  }
  return better;
}

// NSGA-II (Deb et al. 2002): non-dominated sorting and crowding distance, binary tournaments,
// uniform crossover and per-gene reset mutation over the free parameters' value indexes.
void nsga2(const SweepSpec& s, Pool& pool, Db& db) {
  pool.count_distinct();
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < s.params.size(); ++i)
    if (s.params[i].tied_to.empty()) free.push_back(i);
  SplitMix64 g(s.seed);
  using Genome = std::vector<std::uint32_t>;
  auto values_of = [&](const Genome& gn) {
    std::vector<std::string> v(s.params.size());
    for (std::size_t f = 0; f < free.size(); ++f)
      v[free[f]] = s.params[free[f]].values[gn[f]];
    for (std::size_t i = 0; i < s.params.size(); ++i)
      if (!s.params[i].tied_to.empty())
        for (std::size_t j = 0; j < s.params.size(); ++j)
          if (s.params[j].path == s.params[i].tied_to) v[i] = v[j];
    return v;
  };
  auto random_genome = [&]() {
    Genome gn(free.size());
    for (int attempt = 0; attempt < 1000; ++attempt) {
      for (std::size_t f = 0; f < free.size(); ++f)
        gn[f] = g.below(std::uint32_t(s.params[free[f]].values.size()));
      if (params_allowed(s, values_of(gn))) return gn;
    }
    throw ConfigError(s.file.string() +
                      ": no design satisfies the parameter constraints (1000 random draws)");
  };
  struct Ind {
    Genome genome;
    DesignPoint point;
    std::vector<double> obj;
    int rank = 0;
    double crowd = 0;
  };
  std::int64_t index = 0;
  auto make = [&](Genome gn) {
    Ind ind;
    ind.point = make_point(s, index++, values_of(gn), 0, 0);
    ind.genome = std::move(gn);
    return ind;
  };
  auto evaluate = [&](std::vector<Ind>& pop, std::int64_t total) {
    std::vector<DesignPoint> pts;
    std::set<std::string> seen;
    for (const Ind& i : pop)
      if (seen.insert(i.point.hash).second) pts.push_back(i.point);
    pool.run(pts, total);
    for (Ind& i : pop)
      i.obj = objectives_of(db, s, i.point.hash);
  };
  auto rank_and_crowd = [&](std::vector<Ind>& pop) {
    const std::size_t n = pop.size();
    std::vector<std::vector<std::size_t>> dominated(n);
    std::vector<int> count(n, 0);
    std::vector<std::size_t> front;
    for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = 0; b < n; ++b)
        if (dominates(pop[a].obj, pop[b].obj))
          dominated[a].push_back(b);
        else if (dominates(pop[b].obj, pop[a].obj))
          ++count[a];
    for (std::size_t a = 0; a < n; ++a)
      if (count[a] == 0) front.push_back(a), pop[a].rank = 0;
    for (int r = 0; !front.empty(); ++r) {
      // Crowding distance within this front.
      for (std::size_t a : front)
        pop[a].crowd = 0;
      for (std::size_t m = 0; m < s.objectives.size(); ++m) {
        std::vector<std::size_t> f = front;
        std::stable_sort(f.begin(), f.end(), [&](std::size_t x, std::size_t y) {
          return pop[x].obj[m] < pop[y].obj[m];
        });
        double lo = pop[f.front()].obj[m], hi = pop[f.back()].obj[m];
        pop[f.front()].crowd = pop[f.back()].crowd = std::numeric_limits<double>::infinity();
        if (std::isfinite(hi - lo) && hi > lo)
          for (std::size_t i = 1; i + 1 < f.size(); ++i)
            pop[f[i]].crowd += (pop[f[i + 1]].obj[m] - pop[f[i - 1]].obj[m]) / (hi - lo);
      }
      std::vector<std::size_t> next;
      for (std::size_t a : front)
        for (std::size_t b : dominated[a])
          if (--count[b] == 0) pop[b].rank = r + 1, next.push_back(b);
      front = std::move(next);
    }
  };
  auto better = [](const Ind& a, const Ind& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.crowd > b.crowd;
  };

  const std::int64_t total = std::int64_t(s.population) * (s.generations + 1);
  std::vector<Ind> pop;
  for (int i = 0; i < s.population; ++i)
    pop.push_back(make(random_genome()));
  evaluate(pop, total);
  rank_and_crowd(pop);
  for (int gen = 0; gen < s.generations && !g_stop; ++gen) {
    std::vector<Ind> kids;
    auto tournament = [&]() -> const Ind& {
      const Ind& a = pop[g.below(std::uint32_t(pop.size()))];
      const Ind& b = pop[g.below(std::uint32_t(pop.size()))];
      return better(a, b) ? a : b;
    };
    while (int(kids.size()) < s.population) {
      const Ind& pa = tournament();
      const Ind& pb = tournament();
      Genome child = pa.genome;
      bool cross = g.below(100) < 90;
      for (std::size_t f = 0; f < free.size(); ++f) {
        if (cross && g.below(2)) child[f] = pb.genome[f];
        if (g.below(std::uint32_t(free.size() * 1000)) < 1000)  // mutation rate 1 / genes
          child[f] = g.below(std::uint32_t(s.params[free[f]].values.size()));
      }
      if (!params_allowed(s, values_of(child))) child = random_genome();
      kids.push_back(make(child));
    }
    evaluate(kids, total);
    for (Ind& k : kids)
      pop.push_back(std::move(k));
    rank_and_crowd(pop);
    std::stable_sort(pop.begin(), pop.end(), better);
    pop.resize(std::size_t(s.population));
    rank_and_crowd(pop);
  }
}

}  // namespace

SweepSummary run_sweep(const SweepSpec& s, const SweepOptions& o) {
  Db db = Db::open(o.db_path);
  record_sweep(db, s);
  SweepSummary sum;
  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  g_stop = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  try {
    Pool pool(s, o, db, sum);
    if (s.strategy == Strategy::nsga2) {
      if (o.shards != 1)
        throw ConfigError(
            "--shard: an nsga2 search cannot be sharded (its generations depend on each other)");
      // Its sorting is quadratic in the population: the same limit as for grids applies.
      if (std::int64_t n = design_count(s); n > o.max_designs)
        throw ConfigError(s.file.string() +
                          ": nsga2 population x (generations + 1) = " + std::to_string(n) +
                          " evaluations, more than --max-designs " + std::to_string(o.max_designs));
      nsga2(s, pool, db);
    } else {
      DesignStream designs(s, o.max_designs, o.shard, o.shards);
      designs.stop_on(&g_stop);
      // A combination of values that is not a valid system shows only when built: the valid
      // designs still run, and the sweep ends with the first such error (exit 2).
      std::int64_t invalid = 0;
      std::string first_invalid;
      auto next = [&](DesignPoint& p) {
        for (;;) {
          try {
            return designs.next(p);
          } catch (const ConfigError& e) {
            if (!invalid++) first_invalid = e.what();
          }
        }
      };
      // Before constraints, so an estimate for the ETA; exact once the designs run out.
      const std::int64_t bound = designs.upper_bound();
      pool.run(next, bound / o.shards + (bound % o.shards != 0), true);
      sum.note = designs.note();
      if (!s.designs.empty() && !pool.io_failed() && !g_stop)
        sum.rows = design_rows(db, s, o.max_designs);
      if (invalid && !pool.io_failed())
        throw ConfigError(std::to_string(invalid) +
                          " design(s) are not valid systems (the others ran); the first:\n" +
                          first_invalid);
    }
    if (pool.io_failed())
      throw IoError("database " + o.db_path.string() + ": " + std::to_string(sum.io_errors) +
                    " design(s) could not be stored (a full disk, an I/O error or the file-size "
                    "limit; worker messages above, if any, say which); they are not recorded as "
                    "failed, so running the same command again once the cause is fixed runs "
                    "them");
  } catch (...) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    throw;
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sum.stopped_by_signal = int(g_stop);
  return sum;
}

}  // namespace qaccel::dse
