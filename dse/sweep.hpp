#pragma once
// Sweep files (configs/sweeps/*.yaml): a base system, models and workloads, parameters by key
// path into the system config, constraints, a strategy, objectives; or, instead of the base and
// parameters, an explicit list of designs (each its own system file and quantization scheme,
// optionally one of them the baseline of relative metrics). Parsed and validated like every
// config; design points carry their fully resolved system and a content hash.
#include <yaml-cpp/yaml.h>
#include <algorithm>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "dse/expr.hpp"
#include "sim/config/config.hpp"
#include "workloads/rng.hpp"

namespace qaccel::dse {

struct ParamSpec {
  std::string path;                 // key path inside `system:`, e.g. units.mxu.rows
  std::vector<std::string> values;  // candidate values (YAML scalars)
  std::string tied_to;              // non-empty: takes the value of that parameter
};

struct Objective {
  std::string metric;
  bool maximize = false;
};

struct Constraint {
  Expr expr;
  bool on_results = false;  // mentions a metric: checked after the run (status 'infeasible')
  std::string where;        // "FILE: sweep.constraints[i]", for errors found while evaluating
};

enum class Strategy { grid, random, nsga2 };

// One entry of `designs:`: a named system with an optional quantization scheme that replaces
// every model's `quant` for this design.
struct DesignSpec {
  std::string name;  // unique in the sweep, printable
  std::filesystem::path system_file;
  YAML::Node system;               // the system document
  std::optional<QuantSpec> quant;  // absent: each model keeps its own scheme
};

// The most float32 weights and KV cache a functional sweep's reference may hold per run.
constexpr double kSweepReferenceGib = 8.0;

struct SweepSpec {
  std::filesystem::path file;
  std::string name;
  std::filesystem::path base_file;
  YAML::Node base;  // the base system document
  std::vector<std::filesystem::path> model_files, workload_files;
  std::vector<ModelSpec> models;
  std::vector<WorkloadSpec> workloads;
  std::vector<ParamSpec> params;
  std::vector<DesignSpec> designs;  // non-empty: a design list (no base, parameters, strategy)
  // The models whose runs check every matmul against the functional reference (a mismatch
  // fails the run): `functional: true` (all), `false` (none, the default) or a list of names.
  std::vector<std::string> functional_models;
  bool functional(const ModelSpec& m) const {
    return std::find(functional_models.begin(), functional_models.end(), m.name) !=
           functional_models.end();
  }
  std::string baseline;  // a design's name: speedup and energy_ratio relative to it
  std::vector<Constraint> constraints;
  Strategy strategy = Strategy::grid;
  int count = 0;                        // random
  int population = 0, generations = 0;  // nsga2
  std::uint64_t seed = 1;
  std::vector<Objective> objectives;
  std::string text;          // the sweep file as written (stored with the sweep)
  std::string content_salt;  // base, tech, model and workload file texts: part of every hash
};

// Parses and validates a sweep file; errors name the file and key path. Throws ConfigError.
SweepSpec load_sweep(const std::filesystem::path& file);

struct DesignPoint {
  std::int64_t index = 0;                                   // position in the strategy's order
  std::vector<std::pair<std::string, std::string>> params;  // path -> value, in spec order
  int model = 0, workload = 0;                              // indexes into the spec's lists
  int design = -1;                                          // index into designs, or -1
  std::string system_yaml;                                  // the resolved system document
  config::SystemSpec system;
  std::string hash;  // content hash (32 hex digits)
};

// Applies parameter values to the base system and validates the result (ConfigError naming
// the design's parameter values on a bad combination).
DesignPoint make_point(const SweepSpec& s, std::int64_t index,
                       const std::vector<std::string>& values, int model, int workload);
// Design `design` of a design list on one model and workload: its params are `design` (the
// name) and, when the design sets one, `quant` (the canonical scheme name); its hash covers the
// system, the tech table, the model and workload files and the quant override.
DesignPoint make_design_point(const SweepSpec& s, std::int64_t index, int design, int model,
                              int workload);
// The model a point simulates: the sweep's model with the design's quant override, if any.
ModelSpec point_model(const SweepSpec& s, const DesignPoint& p);
// Whether the parameter constraints allow these values.
bool params_allowed(const SweepSpec& s, const std::vector<std::string>& values);
// Evaluates one constraint; an error (a value that is not a finite number, a parameter that
// is not a number) is a ConfigError naming the sweep file, the key and the constraint.
bool constraint_holds(const Constraint& c,
                      const std::function<std::optional<double>(const std::string&)>& lookup);

// Sweeps with more designs than this are refused unless the limit is raised (--max-designs):
// a typo in a range should not start a month of simulation.
inline constexpr std::int64_t kDefaultMaxDesigns = 1'000'000;

// Designs a grid or random sweep names before parameter constraints: the product of the
// parameters' distinct value counts (random: at most `count` of them; a design list: its
// length) times models times workloads. nsga2: population x (generations + 1) evaluations.
// Saturates at INT64_MAX. Cheap: nothing is enumerated.
std::int64_t design_count(const SweepSpec& s);

// Grid, random or listed designs in order (a list: designs x models x workloads, the last
// fastest), built one at a time (memory does not grow with the grid):
// parameter constraints applied, duplicate values and duplicate model or workload files
// dropped. Random sampling draws distinct designs until `count`, the whole space, or 100 draws
// per wanted design, whichever comes first (note() then says why it stopped short).
class DesignStream {
 public:
  // ConfigError when design_count(s) exceeds max_designs. With shards > 1, yields only the
  // designs whose index % shards == shard (the others are counted, never built).
  DesignStream(const SweepSpec& s, std::int64_t max_designs, int shard = 0, int shards = 1);
  // The next design; false at the end or once *stop (a signal number) is set.
  bool next(DesignPoint& p);
  // Counts the designs left without building them (parameter constraints applied): cheap,
  // but the stream is used up.
  std::int64_t count_rest();
  void stop_on(const volatile int* stop) { stop_ = stop; }
  std::int64_t upper_bound() const { return bound_; }
  const std::string& note() const { return note_; }

 private:
  bool next_combo();  // advances values_ to the next allowed parameter combination
  bool stopped() const { return stop_ && *stop_; }

  const SweepSpec& s_;
  int shard_, shards_;
  std::int64_t bound_ = 0, index_ = 0, draws_ = 0, wanted_ = 0;
  std::vector<std::size_t> free_;                  // untied parameters
  std::vector<std::vector<std::size_t>> choices_;  // per free parameter: distinct value indexes
  std::vector<std::size_t> odometer_;
  bool started_ = false, done_ = false;
  std::vector<int> models_, workloads_;  // distinct by file content
  std::size_t mw_ = 0;                   // position in models_ x workloads_ for values_
  int design_ = 0;                       // a design list: the current design
  std::vector<std::string> values_;
  // Random: 128-bit fingerprints of the combinations drawn so far (about 40 bytes each
  // instead of a copy of every value; a collision is as likely as 2^-128 per pair).
  struct PairHash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const {
      return std::size_t(p.first ^ (p.second * 0x9e3779b97f4a7c15ULL));
    }
  };
  std::unordered_set<std::pair<std::uint64_t, std::uint64_t>, PairHash> seen_;
  SplitMix64 rng_{1};
  bool have_combo_ = false;
  std::string note_;
  const volatile int* stop_ = nullptr;
};

// Every design of a grid, random or listed sweep (for tests and small sweeps).
std::vector<DesignPoint> enumerate(const SweepSpec& s,
                                   std::int64_t max_designs = kDefaultMaxDesigns);

// Numeric value of a parameter string, if it is a number.
std::optional<double> numeric(const std::string& v);

}  // namespace qaccel::dse
