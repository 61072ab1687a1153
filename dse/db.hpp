#pragma once
// The results database: one SQLite file (WAL), schema versioned and checked, every run written
// in one transaction. Designs are keyed by a content hash, so re-runs skip and merges dedupe.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qaccel::dse {

class Stmt;

class Db {
 public:
  // Opens (creating when allowed and absent) and checks the schema. A foreign or corrupt file,
  // or one of another schema version, is a ConfigError naming the file. Read-only, a file in a
  // directory or mount this user cannot write is read where that is provably safe, or refused
  // (IoError) saying why and what to do.
  static Db open(const std::filesystem::path& path, bool readonly = false);
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), uri_(std::move(o.uri_)) {
    o.db_ = nullptr;
  }
  Db& operator=(Db&&) = delete;
  ~Db();
  void exec(const std::string& sql);
  Stmt prepare(const std::string& sql);
  // A user's SQL for `query sql`: exactly one statement (none, or text after the first, is a
  // ConfigError) that only reads: an authorizer refuses writes, ATTACH, VACUUM INTO and pragmas
  // that set anything, and the statement must be read-only to SQLite too.
  Stmt prepare_read_only(const std::string& sql);
  sqlite3* raw() { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // The file: URI it was opened by, with its options (mode=ro, immutable=1).
  const std::string& uri() const { return uri_; }

 private:
  Db(sqlite3* db, std::filesystem::path path, std::string uri)
      : db_(db), path_(std::move(path)), uri_(std::move(uri)) {}
  sqlite3* db_;
  std::filesystem::path path_;
  std::string uri_;
};

// A prepared statement with positional binds (1-based) and typed column reads.
class Stmt {
 public:
  Stmt(Db& db, sqlite3_stmt* s) : db_(&db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  ~Stmt();
  Stmt& bind(int i, const std::string& v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, std::int64_t(v)); }
  Stmt& bind_null(int i);
  bool step();  // true while a row is available
  void run();   // step to completion, then reset for reuse
  void reset();
  int columns() const;
  std::string name(int c) const;
  std::string text(int c) const;
  double real(int c) const;
  std::int64_t integer(int c) const;
  bool is_null(int c) const;
  bool is_numeric(int c) const;
  int type(int c) const;           // SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL
  std::string bytes(int c) const;  // text or blob with every byte (embedded NULs too)

 private:
  Db* db_;
  sqlite3_stmt* s_;
};

// RAII transaction: commits on commit(), rolls back otherwise (exceptions, early returns).
class Transaction {
 public:
  explicit Transaction(Db& db);
  void commit();
  ~Transaction();

 private:
  Db& db_;
  bool done_ = false;
};

// 2: runs.schedule and runs.prefetch, per-op times (ready, start, end, what the op waited for,
// memory cycles, prefetched bytes, mapping) in op_metrics, and the unit_metrics table.
// 3: relative_metrics (speedup and energy ratio of a design-list sweep's rows against its
// baseline design). A version-2 file opened for writing is upgraded in place; read-only, it is
// read as it is (no relative metrics).
inline constexpr int kSchemaVersion = 3;

struct MergeCounts {
  std::int64_t added = 0;     // designs the target had no run of
  std::int64_t replaced = 0;  // target runs replaced by a better or newer one from the source
};

// Merges the database at `in` into `out`: every table. Designs, parameters and sweeps are
// unions; a design's run and everything measured for it (metrics, energy, ops, units, stats)
// travel as one unit, and the source's wins when it ranks higher (ok or infeasible over failed
// or timeout) or, at equal rank, finished later. Afterwards no failed or timed-out run has
// measurements. Merging a file into itself is a ConfigError.
MergeCounts merge_database(Db& out, const std::filesystem::path& in);
// The first results table `schema` ("main", or an attached name) lacks, or "".
std::string missing_table(Db& db, const std::string& schema = "main");

// Every table that holds results, in an order that merges with `INSERT OR IGNORE INTO
// main.T SELECT * FROM src.T` (the same schema on both sides).
const std::vector<std::string>& result_tables();

}  // namespace qaccel::dse
