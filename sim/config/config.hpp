#pragma once
// The one place where YAML becomes typed specs. Every loader validates every key and throws
// ConfigError listing all problems ("file:line:col: key.path: found X, expected Y").
#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include <map>

#include "arch/common/memory.hpp"
#include "arch/common/tech.hpp"
#include "arch/common/unit.hpp"
#include "sim/engine.hpp"
#include "workloads/graph.hpp"
#include "workloads/ops.hpp"
#include "workloads/spec.hpp"

namespace qaccel::config {

// A system: clock, memory, units by name, and the mapping of op kinds to units. Unit
// parameters stay YAML until the System builds each unit through its registered factory
// (each implementation validates its own parameters, Ramulator style).
struct UnitEntry {
  std::string name, impl;
  YAML::Node params;  // the unit's mapping, `impl` included
};
struct SystemSpec {
  std::filesystem::path file;
  std::string yaml;  // the document as parsed (a sweep's design: with its parameter values)
  std::string name;
  double clock_ghz = 1.0;
  std::filesystem::path tech_file;
  TechSpec tech;
  DramSpec dram;
  std::int64_t global_buffer_kib = 1024;
  std::vector<UnitEntry> units;
  std::map<std::string, std::string> mapping;  // op kind (or "default") -> unit name
  // mapping.policy: intensity (Duplex-style): a GEMM-view op whose arithmetic intensity
  // (FLOPs per DRAM byte) is below the threshold goes to `intensity_low_unit` when it can.
  bool intensity_policy = false;
  double intensity_threshold = 0;
  std::string intensity_low_unit;
  Schedule schedule = Schedule::overlap;  // overlap: list scheduling; serial: program order
  Prefetch prefetch = Prefetch::none;     // next_op: fetch the next op's weights early
  AttentionOps attention = AttentionOps::per_layer;
};

SystemSpec load_system(const std::filesystem::path& file);
// The same from an already-loaded document (a sweep's design point); `file` names it in errors
// and anchors relative paths.
SystemSpec system_from_yaml(const YAML::Node& root, const std::filesystem::path& file);

// Builds the spec's units through the registry; parameter errors become a ConfigError naming
// the system file and key path (`system.units.mxu.rows`).
std::vector<std::unique_ptr<Unit>> build_units(const SystemSpec& s, UnitContext& ctx);

// Every op kind's name, for mapping keys.
std::vector<std::string> op_kind_names();

// A job names what the main command runs: a model and a workload (and, later, a system).
struct JobSpec {
  std::filesystem::path file;
  bool has_system = false;
  SystemSpec system;
  bool functional = false;  // mode: functional | timing (default timing)
  ModelSpec model;
  WorkloadSpec workload;
};

ModelSpec load_model(const std::filesystem::path& file);
WorkloadSpec load_workload(const std::filesystem::path& file);
JobSpec load_job(const std::filesystem::path& file);

// A layer list, as architects bring them from other tools: a YAML file `layers: [{gemm: {m, n,
// k, name?}}, ...]` or a SCALE-Sim GEMM topology CSV (`layer name, M, N, K` per line, with an
// optional header). Errors name the file and the line or key path.
// Dependencies: a YAML entry's `after: [names]` (default: the previous layer, so a list runs
// in order as SCALE-Sim runs it; `after: []` makes a layer independent); CSV layers form a
// chain. A cycle, an unknown or a duplicate name is an error naming the key path.
struct LayerList {
  std::string name;
  OpGraph graph;
};
LayerList load_layers(const std::filesystem::path& file);

// The kinds of config file, told apart by their single top-level key.
const std::vector<std::string>& config_kinds();
// Returns the file's kind, or throws ConfigError (unknown top-level key, not a mapping, ...).
std::string detect_kind(const std::filesystem::path& file);
// Loads the file as whatever kind it is; throws ConfigError with every problem found.
void validate_file(const std::filesystem::path& file);

}  // namespace qaccel::config
