#include "dse/db.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

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

// Added in schema version 3; also run on a version-2 file opened for writing.
const char* kRelativeMetrics = R"SQL(
CREATE TABLE relative_metrics(
  sweep TEXT NOT NULL, hash TEXT NOT NULL, baseline TEXT NOT NULL, baseline_hash TEXT NOT NULL,
  speedup REAL, energy_ratio REAL, PRIMARY KEY(sweep, hash));
)SQL";

// Result codes where the environment, not the file or the query, is at fault: a full disk,
// an I/O error, a lock held past the busy timeout, no memory, no permission to write.
bool environment_error(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_PERM:
      return true;
  }
  return false;
}

[[noreturn]] void throw_for(int rc, const std::string& msg) {
  if (environment_error(rc)) throw IoError(msg);
  throw ConfigError(msg);
}

[[noreturn]] void fail(sqlite3* db, const std::filesystem::path& path, const std::string& what) {
  std::string msg = "database " + path.string() + ": " + what +
                    (db ? std::string(": ") + sqlite3_errmsg(db) : "");
  throw_for(db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM, msg);
}

// A file: URI of the path (absolute; the characters a URI gives a meaning escaped), so that
// options such as mode=ro can follow and an ATTACH can take the same form.
std::string uri_of(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) abs = path;  // no working directory: SQLite resolves it as it would the plain name
  std::string uri = "file:";
  for (unsigned char c : abs.string()) {
    if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      uri += buf;
    } else {
      uri += char(c);
    }
  }
  return uri;
}

// Whether a read-only connection can read: a WAL database is read through its -shm (the index
// of the log), which SQLite creates beside the file when it is missing.
bool reads(sqlite3* db) {
  sqlite3_stmt* probe = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &probe, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(probe);
  sqlite3_finalize(probe);
  return (rc & 0xff) != SQLITE_READONLY && (rc & 0xff) != SQLITE_CANTOPEN;
}

// Where SQLite cannot make the -shm (a read-only directory or mount), the file can still be
// read as immutable (no log, no locks), but only when that shows exactly what a locked read
// would, which holds when
//  - there is no -wal: every committed change is in the file (the last connection to close
//    folds the log in and deletes it; an open one keeps it), and
//  - nothing can start writing while we read: the mount is read-only, or nobody may write the
//    file (a writer cannot open it) or its directory (a writer cannot create the -wal).
// Otherwise the read is refused with what to do (IoError: the environment is at fault).
// Root ignores permissions; a writer running as root is not guarded against.
void check_immutable_read(const std::filesystem::path& path, const std::string& why) {
  const std::string p = path.string();
  const std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  const std::string cannot =
      "SQLite cannot create " + p + "-shm, which it reads a WAL database through (" +
      (::access(dir.c_str(), W_OK) != 0 ? dir + " is not writable for this user" : why) + ")";
  std::error_code ec;
  if (std::filesystem::exists(p + "-wal", ec))
    throw IoError("database " + p + ": cannot read it: " + p +
                  "-wal may hold changes not yet in the file, and " + cannot +
                  "; copy both files to a writable directory and read the copy");
  struct statvfs mount {};
  struct stat file {
  }, d{};
  const bool nobody_writes = (::statvfs(dir.c_str(), &mount) == 0 && (mount.f_flag & ST_RDONLY)) ||
                             (::stat(p.c_str(), &file) == 0 && (file.st_mode & 0222) == 0) ||
                             (::stat(dir.c_str(), &d) == 0 && (d.st_mode & 0222) == 0);
  if (!nobody_writes)
    throw IoError("database " + p + ": cannot read it safely: others may write it, and " + cannot +
                  "; if nothing writes it any more, make it read-only (chmod a-w " + p +
                  "), or read a copy");
}

}  // namespace

Db Db::open(const std::filesystem::path& path, bool readonly) {
  // SQLite opens a new private temporary database for "", which never has the schema.
  if (path.empty()) throw ConfigError("database path is empty (give a file name)");
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (readonly && !exists) throw ConfigError("database " + path.string() + ": no such file");
  // A FIFO would block the open and a device would be read without end.
  if (exists && !std::filesystem::is_regular_file(path, ec))
    throw ConfigError("database " + path.string() + ": not a regular file");
  std::error_code mkdir_ec;
  if (!exists && path.has_parent_path())
    std::filesystem::create_directories(path.parent_path(), mkdir_ec);
  // Without read permission SQLite's messages would only say "unable to open".
  if (readonly && ::access(path.c_str(), R_OK) != 0)
    throw IoError("database " + path.string() + ": cannot read it: " + std::strerror(errno));
  sqlite3* raw = nullptr;
  // Opened by URI so that ATTACH (merge) takes the same form, with its options.
  std::string uri = uri_of(path) + (readonly ? "?mode=ro" : "");
  int flags = SQLITE_OPEN_URI |
              (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr); rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    // A path through a missing directory or a file is the user's mistake, not the system's.
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    // The directory could not be made: say why (permission denied is the system's answer,
    // not "not a directory").
    if (mkdir_ec && mkdir_ec != std::errc::not_a_directory && mkdir_ec != std::errc::file_exists)
      throw IoError("database " + path.string() + ": cannot create directory " + dir.string() +
                    ": " + mkdir_ec.message());
    if (!std::filesystem::is_directory(dir, ec))
      throw ConfigError("database " + path.string() + ": cannot open: " + dir.string() +
                        " is not a directory");
    throw_for(rc, "database " + path.string() + ": cannot open: " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  if (readonly && !reads(raw)) {
    const std::string why = sqlite3_errmsg(raw);
    sqlite3_close(raw);
    raw = nullptr;
    check_immutable_read(path, why);
    uri += "&immutable=1";
    if (sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
      std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
      sqlite3_close(raw);
      throw IoError("database " + path.string() + ": cannot open read-only: " + msg);
    }
    sqlite3_extended_result_codes(raw, 1);
  }
  Db db(raw, path, uri);
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
      db.exec(kRelativeMetrics);
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
  if (version == 2 && !readonly) {
    // Version 3 only adds relative_metrics: upgrade in place (a reader takes version 2 as is,
    // with no relative metrics).
    Transaction tx(db);
    Stmt again = db.prepare("PRAGMA user_version");
    if (again.step() && again.integer(0) == 2) {
      again.reset();
      db.exec(kRelativeMetrics);
      db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    }
    again.reset();
    tx.commit();
    version = kSchemaVersion;
  }
  if (version != kSchemaVersion && !(readonly && version == 2))
    throw ConfigError("database " + path.string() + ": schema version " + std::to_string(version) +
                      (version < kSchemaVersion ? " (written by an older qaccel)"
                                                : " (written by a newer qaccel)") +
                      ", this qaccel reads version " + std::to_string(kSchemaVersion) +
                      " (re-run the sweep into a new file)");
  return db;
}

const std::vector<std::string>& result_tables() {
  static const std::vector<std::string> tables = {
      "sweeps",     "designs", "sweep_designs", "params",          "runs", "metrics", "energy",
      "op_metrics", "stats",   "unit_metrics",  "relative_metrics"};
  return tables;
}

Db::~Db() {
  if (db_) sqlite3_close(db_);
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw_for(rc, "database " + path_.string() + ": " + msg);
  }
}

Stmt Db::prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
    fail(db_, path_, "SQL error");
  return Stmt(*this, s);
}

namespace {

// Pragmas that only describe the database, whatever their argument.
const std::set<std::string> kIntrospectionPragmas = {
    "table_info",      "table_xinfo", "table_list",       "index_list",
    "index_info",      "index_xinfo", "foreign_key_list", "foreign_key_check",
    "integrity_check", "quick_check", "function_list",    "pragma_list",
    "collation_list",  "module_list", "database_list",    "compile_options"};
// Pragmas that read a setting when given no value (and would set it with one).
const std::set<std::string> kReadablePragmas = {
    "user_version",   "application_id", "schema_version", "page_count",   "page_size",
    "freelist_count", "encoding",       "journal_mode",   "data_version", "auto_vacuum"};

// Allows reading only. VACUUM INTO asks for ATTACH first, so refusing ATTACH refuses it too.
int read_only_authorizer(void*, int action, const char* a1, const char* a2, const char*,
                         const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_UPDATE:
      // A table-valued pragma (pragma_table_info('runs')) asks this of the schema table
      // while preparing; sqlite3_stmt_readonly below still refuses any real write.
      return a1 && std::strcmp(a1, "sqlite_master") == 0 ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_PRAGMA: {
      std::string name = a1 ? a1 : "";
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      if (kIntrospectionPragmas.count(name) || (!a2 && kReadablePragmas.count(name)))
        return SQLITE_OK;
      return SQLITE_DENY;
    }
  }
  return SQLITE_DENY;
}

}  // namespace

Stmt Db::prepare_read_only(const std::string& sql) {
  sqlite3_set_authorizer(db_, read_only_authorizer, nullptr);
  sqlite3_stmt* s = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &s, &tail);
  std::string err = rc == SQLITE_OK ? "" : sqlite3_errmsg(db_);
  Stmt st(*this, s);  // finalizes on every path below
  sqlite3_stmt* next = nullptr;
  std::size_t at = tail ? std::size_t(tail - sql.c_str()) : sql.size();
  int rc2 = rc == SQLITE_OK && s ? sqlite3_prepare_v2(db_, tail, -1, &next, nullptr) : SQLITE_OK;
  if (next) sqlite3_finalize(next);
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  if (rc == SQLITE_AUTH || (rc != SQLITE_OK && err == "not authorized"))
    throw ConfigError(
        "query: only reading is allowed (no writes, ATTACH, VACUUM, or pragmas that "
        "set anything): " +
        err);
  if (rc != SQLITE_OK) throw_for(rc, "query: SQL error: " + err);
  if (!s) throw ConfigError("query: the SQL is empty (give one SELECT statement)");
  if (next || rc2 != SQLITE_OK)
    throw ConfigError("query: more than one statement (text after the first at offset " +
                      std::to_string(at) + "); give exactly one");
  if (!sqlite3_stmt_readonly(s))
    throw ConfigError("query: only reading is allowed; this statement would write");
  return st;
}

namespace {

std::vector<std::string> columns_of(Db& db, const std::string& schema, const std::string& table) {
  Stmt st = db.prepare("SELECT name FROM pragma_table_info(?, ?) ORDER BY cid");
  st.bind(1, table).bind(2, schema);
  std::vector<std::string> cols;
  while (st.step())
    cols.push_back(st.text(0));
  return cols;
}

std::string quote_id(const std::string& s) {
  std::string o = "\"";
  for (char c : s)
    o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

}  // namespace

std::string missing_table(Db& db, const std::string& schema) {
  // A results file of this schema has every table; version 2 lacks only relative_metrics.
  for (const std::string& t : result_tables()) {
    if (t == "relative_metrics") continue;
    Stmt st =
        db.prepare("SELECT 1 FROM " + schema + ".sqlite_master WHERE type = 'table' AND name = ?");
    st.bind(1, t);
    if (!st.step()) return t;
  }
  return "";
}

MergeCounts merge_database(Db& out, const std::filesystem::path& in) {
  // The same file under another name (link, relative path) would attach the database to
  // itself and wait on its own lock: compare device and inode.
  struct stat a {
  }, b{};
  if (::stat(out.path().c_str(), &a) == 0 && ::stat(in.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino)
    throw ConfigError("merge: " + in.string() + " is the output database " + out.path().string() +
                      " itself");
  std::string uri;
  {
    Db check = Db::open(in, true);  // kind, schema version and regular file checked first
    uri = check.uri();              // read-only, immutable where that is safe (see open)
  }
  out.prepare("ATTACH DATABASE ? AS src").bind(1, uri).run();
  struct Detach {
    Db& db;
    ~Detach() { sqlite3_exec(db.raw(), "DETACH DATABASE src", nullptr, nullptr, nullptr); }
  } detach{out};
  MergeCounts n;
  Transaction tx(out);
  // A design's identity is shared; its run and measurements move together, the better wins.
  const std::set<std::string> identity = {"sweeps", "designs", "sweep_designs", "params"};
  auto rank_of = [](const std::string& alias) {
    return "(CASE " + alias + ".status WHEN 'ok' THEN 2 WHEN 'infeasible' THEN 2 ELSE 1 END)";
  };
  out.exec("DROP TABLE IF EXISTS temp.merge_winners");
  out.exec("CREATE TEMP TABLE merge_winners(hash TEXT PRIMARY KEY, replaces INTEGER)");
  // Finish times compare as instants, not text: "...T16:00:00+02:00" is before "...T15:00:00Z".
  out.exec(
      "INSERT INTO temp.merge_winners SELECT s.hash, m.hash IS NOT NULL FROM src.runs s "
      "LEFT JOIN main.runs m ON m.hash = s.hash WHERE m.hash IS NULL OR " +
      rank_of("s") + " > " + rank_of("m") + " OR (" + rank_of("s") + " = " + rank_of("m") +
      " AND coalesce(julianday(s.finished), 0) > coalesce(julianday(m.finished), 0))");
  {
    Stmt c = out.prepare(
        "SELECT count(*) - coalesce(sum(replaces), 0), coalesce(sum(replaces), 0) "
        "FROM temp.merge_winners");
    if (c.step()) n.added = c.integer(0), n.replaced = c.integer(1);
  }
  std::vector<std::string> tables;
  {
    Stmt t = out.prepare(
        "SELECT name FROM src.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    while (t.step())
      tables.push_back(t.text(0));
  }
  // A missing table would leave the runs it replaces without their measurements.
  if (const std::string t = missing_table(out, "src"); !t.empty())
    throw ConfigError("merge: " + in.string() + " has no table '" + t +
                      "' (not a complete qaccel results database); nothing merged");
  std::vector<std::string> measured;  // per-run tables other than runs
  for (const std::string& t : tables) {
    std::vector<std::string> cols = columns_of(out, "main", t);
    if (cols.empty())
      throw ConfigError("merge: " + in.string() + " has a table '" + t + "' that " +
                        out.path().string() + " lacks");
    std::string list;
    for (const std::string& c : cols)
      list += (list.empty() ? "" : ", ") + quote_id(c);
    const std::string copy = "INSERT OR IGNORE INTO main." + quote_id(t) + "(" + list +
                             ") SELECT " + list + " FROM src." + quote_id(t);
    bool per_run = !identity.count(t) && std::count(cols.begin(), cols.end(), "hash");
    if (!per_run) {
      out.exec(copy);
      continue;
    }
    if (t != "runs") measured.push_back(t);
    out.exec("DELETE FROM main." + quote_id(t) +
             " WHERE hash IN (SELECT hash FROM temp.merge_winners WHERE replaces)");
    out.exec(copy + " WHERE hash IN (SELECT hash FROM temp.merge_winners)");
  }
  // Measurements belong to finished runs only (older merges could leave some on a failed one).
  for (const std::string& t : measured)
    out.exec("DELETE FROM main." + quote_id(t) +
             " WHERE hash IN (SELECT hash FROM main.runs WHERE status IN ('failed', 'timeout'))");
  out.exec("DROP TABLE temp.merge_winners");
  tx.commit();
  return n;
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
int Stmt::type(int c) const {
  return sqlite3_column_type(s_, c);
}
std::string Stmt::bytes(int c) const {
  const bool blob = sqlite3_column_type(s_, c) == SQLITE_BLOB;
  const void* p = blob ? sqlite3_column_blob(s_, c) : sqlite3_column_text(s_, c);
  const int n = sqlite3_column_bytes(s_, c);  // after the conversion above
  return p ? std::string(static_cast<const char*>(p), std::size_t(n)) : std::string();
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
