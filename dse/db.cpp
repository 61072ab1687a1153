#include "dse/db.hpp"

#include "sim/base/error.hpp"

namespace qaccel::dse {

namespace {

// 'qacc' as the SQLite application id: tells our files from anyone else's.
constexpr int kApplicationId = 0x71616363;

const char* kSchema = R"SQL(
CREATE TABLE sweeps(
  name TEXT PRIMARY KEY, spec_file TEXT, spec TEXT, created TEXT);
CREATE TABLE designs(
  hash TEXT PRIMARY KEY, system_yaml TEXT NOT NULL, model TEXT, workload TEXT,
  model_file TEXT, workload_file TEXT, sim_version TEXT NOT NULL);
CREATE TABLE sweep_designs(
  sweep TEXT NOT NULL, hash TEXT NOT NULL, point INTEGER, PRIMARY KEY(sweep, hash));
CREATE TABLE params(
  hash TEXT NOT NULL, name TEXT NOT NULL, value, PRIMARY KEY(hash, name));
CREATE TABLE runs(
  hash TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK(status IN ('ok', 'failed', 'timeout', 'infeasible')),
  error TEXT, wall_s REAL, host TEXT, finished TEXT, sim_version TEXT,
  schedule TEXT, prefetch TEXT);
CREATE TABLE metrics(
  hash TEXT PRIMARY KEY, cycles INTEGER, compute_cycles INTEGER, stall_cycles INTEGER,
  macs INTEGER, flops INTEGER, dram_bytes INTEGER, sram_bytes INTEGER, latency_ms REAL,
  tokens REAL, tokens_per_s REAL, energy_pj REAL, energy_uj_per_token REAL, area_mm2 REAL,
  tokens_per_s_per_mm2 REAL, peak_flops_per_cycle REAL, attained_flops_per_cycle REAL,
  utilization REAL, peak_dram_bytes_per_cycle REAL, attained_dram_bytes_per_cycle REAL);
CREATE TABLE energy(
  hash TEXT NOT NULL, component TEXT NOT NULL, pj REAL, PRIMARY KEY(hash, component));
CREATE TABLE op_metrics(
  hash TEXT NOT NULL, idx INTEGER NOT NULL, step INTEGER, name TEXT, kind TEXT, unit TEXT,
  m INTEGER, n INTEGER, k INTEGER, cycles INTEGER, compute_cycles INTEGER, stall_cycles INTEGER,
  macs INTEGER, flops INTEGER, dram_bytes INTEGER, sram_bytes INTEGER, intensity REAL,
  attained_flops_per_cycle REAL, peak_flops_per_cycle REAL, utilization REAL, bound TEXT,
  energy_pj REAL, mapped_by TEXT, ready_cycle INTEGER, start_cycle INTEGER, end_cycle INTEGER,
  waited_for TEXT, memory_cycles INTEGER, hidden_memory_cycles INTEGER, prefetched_bytes INTEGER,
  PRIMARY KEY(hash, idx));
CREATE TABLE unit_metrics(
  hash TEXT NOT NULL, idx INTEGER NOT NULL, unit TEXT NOT NULL, ops INTEGER, busy_cycles INTEGER,
  stalled_cycles INTEGER, idle_cycles INTEGER, utilization REAL, PRIMARY KEY(hash, unit));
CREATE TABLE stats(
  hash TEXT NOT NULL, name TEXT NOT NULL, unit TEXT, description TEXT, value REAL,
  PRIMARY KEY(hash, name));
CREATE INDEX params_by_name_value ON params(name, value);
CREATE INDEX runs_by_status ON runs(status);
CREATE INDEX sweep_designs_by_hash ON sweep_designs(hash);
CREATE VIEW runs_wide AS
  SELECT r.hash AS hash, r.status AS status, r.error AS error, r.wall_s AS wall_s, d.model AS model,
         d.workload AS workload, r.schedule AS schedule, r.prefetch AS prefetch,
         (SELECT group_concat(p.name || '=' || p.value, ' ') FROM params p WHERE p.hash = r.hash) AS params,
         m.cycles, m.latency_ms, m.tokens_per_s, m.energy_uj_per_token, m.area_mm2,
         m.tokens_per_s_per_mm2, m.utilization, m.dram_bytes, m.energy_pj
  FROM runs r JOIN designs d ON d.hash = r.hash LEFT JOIN metrics m ON m.hash = r.hash;
)SQL";

[[noreturn]] void fail(sqlite3* db, const std::filesystem::path& path, const std::string& what) {
  throw ConfigError("database " + path.string() + ": " + what +
                    (db ? std::string(": ") + sqlite3_errmsg(db) : ""));
}

}  // namespace

Db Db::open(const std::filesystem::path& path, bool readonly) {
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (readonly && !exists) throw ConfigError("database " + path.string() + ": no such file");
  if (!exists && path.has_parent_path())
    std::filesystem::create_directories(path.parent_path(), ec);
  sqlite3* raw = nullptr;
  int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    throw ConfigError("database " + path.string() + ": cannot open: " + msg);
  }
  Db db(raw, path);
  sqlite3_busy_timeout(raw, 30000);  // concurrent writers (workers, other sweeps) wait their turn
  int app = 0, version = 0, tables = 0;
  try {
    Stmt a = db.prepare("PRAGMA application_id");
    if (a.step()) app = int(a.integer(0));
    Stmt v = db.prepare("PRAGMA user_version");
    if (v.step()) version = int(v.integer(0));
    Stmt t = db.prepare("SELECT count(*) FROM sqlite_master");
    if (t.step()) tables = int(t.integer(0));
  } catch (const ConfigError&) {
    throw ConfigError("database " + path.string() +
                      ": not a SQLite database (corrupt or another kind of file)");
  }
  if (tables == 0 && app == 0) {
    if (readonly) throw ConfigError("database " + path.string() + ": empty (no qaccel results)");
    db.exec("PRAGMA journal_mode=WAL");
    Transaction tx(db);
    // Another process may have created the schema while this one waited for the lock.
    Stmt again = db.prepare("SELECT count(*) FROM sqlite_master");
    if (again.step() && again.integer(0) == 0) {
      db.exec(kSchema);
      db.exec("PRAGMA application_id=" + std::to_string(kApplicationId));
      db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    }
    again.reset();
    tx.commit();
    return open(path, readonly);
  }
  if (app != kApplicationId)
    throw ConfigError("database " + path.string() +
                      ": not a qaccel results database (application id " + std::to_string(app) +
                      ")");
  if (version != kSchemaVersion)
    throw ConfigError("database " + path.string() + ": schema version " + std::to_string(version) +
                      (version < kSchemaVersion ? " (written by an older qaccel)"
                                                : " (written by a newer qaccel)") +
                      ", this qaccel reads version " + std::to_string(kSchemaVersion) +
                      " (re-run the sweep into a new file)");
  return db;
}

const std::vector<std::string>& result_tables() {
  static const std::vector<std::string> tables = {
      "sweeps",  "designs", "sweep_designs", "params", "runs",
      "metrics", "energy",  "op_metrics",    "stats",  "unit_metrics"};
  return tables;
}

Db::~Db() {
  if (db_) sqlite3_close(db_);
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw ConfigError("database " + path_.string() + ": " + msg);
  }
}

Stmt Db::prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
    fail(db_, path_, "SQL error");
  return Stmt(*this, s);
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::bind(int i, const std::string& v) {
  sqlite3_bind_text(s_, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_->raw(), db_->path(), "query failed");
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

int Stmt::columns() const {
  return sqlite3_column_count(s_);
}
std::string Stmt::name(int c) const {
  return sqlite3_column_name(s_, c);
}
std::string Stmt::text(int c) const {
  const unsigned char* t = sqlite3_column_text(s_, c);
  return t ? reinterpret_cast<const char*>(t) : "";
}
double Stmt::real(int c) const {
  return sqlite3_column_double(s_, c);
}
std::int64_t Stmt::integer(int c) const {
  return sqlite3_column_int64(s_, c);
}
bool Stmt::is_null(int c) const {
  return sqlite3_column_type(s_, c) == SQLITE_NULL;
}
bool Stmt::is_numeric(int c) const {
  int t = sqlite3_column_type(s_, c);
  return t == SQLITE_INTEGER || t == SQLITE_FLOAT;
}

Transaction::Transaction(Db& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}
Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace qaccel::dse
