#pragma once
// Runs a sweep's design points, each in its own worker process (SystemC elaborates once per
// process), N at a time. Workers write their own results in one transaction each, so a killed
// driver loses nothing finished, and a re-run only runs what is missing.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dse/db.hpp"
#include "dse/sweep.hpp"
#include "sim/simulate.hpp"

namespace qaccel::dse {

struct SweepOptions {
  std::filesystem::path db_path = "results/qaccel.db";
  int workers = 1;
  int shard = 0, shards = 1;  // run points whose index % shards == shard
  double timeout_s = 0;       // 0: none
  bool retry_failed = false;  // run again designs stored as failed or timed out
  bool progress = true;
  std::int64_t max_designs = kDefaultMaxDesigns;  // grid and random sweeps larger are refused
};

// One point of a design-list sweep as stored: its metrics and, with a baseline, how it
// compares with the baseline design on the same model and workload.
struct DesignRow {
  std::string design, model, workload, hash;
  std::string status;  // empty: not stored (another shard's, or interrupted)
  std::optional<double> latency_ms, energy_uj_per_token, area_mm2, tokens_per_s_per_mm2;
  std::optional<double> speedup;       // baseline latency / this latency
  std::optional<double> energy_ratio;  // this energy per token / the baseline's
};

struct SweepSummary {
  std::int64_t points = 0, ran = 0, skipped = 0, ok = 0, failed = 0, timeouts = 0, infeasible = 0;
  std::int64_t io_errors = 0;   // designs left unstored by a database error (then IoError)
  int stopped_by_signal = 0;    // SIGINT/SIGTERM number when interrupted
  std::string note;             // why random sampling stopped short, if it did
  std::vector<DesignRow> rows;  // a design-list sweep: every point, in order
};

SweepSummary run_sweep(const SweepSpec& s, const SweepOptions& o);

// Storage (also used by tests): the sweep row, one design's result, lookups.
void record_sweep(Db& db, const SweepSpec& s);
void store_result(Db& db, const SweepSpec& s, const DesignPoint& p, const std::string& status,
                  const std::string& error, double wall_s, const SimResult* res);
// A design-list sweep's points as stored in `db` (the unsharded list). With a baseline, also
// stores speedup and energy_ratio in relative_metrics for every point that has metrics and
// whose baseline point (same model and workload) has them, replacing the sweep's earlier rows,
// in one transaction.
std::vector<DesignRow> design_rows(Db& db, const SweepSpec& s, std::int64_t max_designs);
// Status of a stored run, if any.
std::optional<std::string> run_status(Db& db, const std::string& hash);
std::optional<std::map<std::string, double>> load_metrics(Db& db, const std::string& hash);

}  // namespace qaccel::dse
