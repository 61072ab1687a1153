#pragma once
// Sweep files (configs/sweeps/*.yaml): a base system, models and workloads, parameters by key
// path into the system config, constraints, a strategy, objectives. Parsed and validated like
// every config; design points carry their fully resolved system and a content hash.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "dse/expr.hpp"
#include "sim/config/config.hpp"

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
};

enum class Strategy { grid, random, nsga2 };

struct SweepSpec {
  std::filesystem::path file;
  std::string name;
  std::filesystem::path base_file;
  YAML::Node base;  // the base system document
  std::vector<std::filesystem::path> model_files, workload_files;
  std::vector<ModelSpec> models;
  std::vector<WorkloadSpec> workloads;
  std::vector<ParamSpec> params;
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
  std::string system_yaml;                                  // the resolved system document
  config::SystemSpec system;
  std::string hash;  // content hash (32 hex digits)
};

// Applies parameter values to the base system and validates the result (ConfigError naming
// the design's parameter values on a bad combination).
DesignPoint make_point(const SweepSpec& s, std::int64_t index,
                       const std::vector<std::string>& values, int model, int workload);
// Values of the free (untied) parameters, for index i of each free parameter.
bool params_allowed(const SweepSpec& s, const std::vector<std::string>& values);

// Grid or random designs in order (parameter constraints applied, duplicates dropped).
std::vector<DesignPoint> enumerate(const SweepSpec& s);

// Numeric value of a parameter string, if it is a number.
std::optional<double> numeric(const std::string& v);

}  // namespace qaccel::dse
