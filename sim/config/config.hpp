#pragma once
// The one place where YAML becomes typed specs. Every loader validates every key and throws
// ConfigError listing all problems ("file:line:col: key.path: found X, expected Y").
#include <filesystem>
#include <string>
#include <vector>

#include "workloads/spec.hpp"

namespace qaccel::config {

// A job names what the main command runs: a model and a workload (and, later, a system).
struct JobSpec {
  std::filesystem::path file;
  ModelSpec model;
  WorkloadSpec workload;
};

ModelSpec load_model(const std::filesystem::path& file);
WorkloadSpec load_workload(const std::filesystem::path& file);
JobSpec load_job(const std::filesystem::path& file);

// The kinds of config file, told apart by their single top-level key.
const std::vector<std::string>& config_kinds();
// Returns the file's kind, or throws ConfigError (unknown top-level key, not a mapping, ...).
std::string detect_kind(const std::filesystem::path& file);
// Loads the file as whatever kind it is; throws ConfigError with every problem found.
void validate_file(const std::filesystem::path& file);

}  // namespace qaccel::config
