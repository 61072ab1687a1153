#pragma once
// Strict, error-collecting access to YAML: every accessor records the key as known, checks type
// and range, and on a problem records "file:line:col: key.path: found X, expected Y" instead of
// throwing, so one validation pass reports every error. finish() rejects unknown keys with a
// "did you mean" suggestion.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qaccel::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::filesystem::path file) : file_(std::move(file)) {}
  void error(const YAML::Mark& mark, const std::string& path, const std::string& msg);
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::filesystem::path& file() const { return file_; }
  // Throws ConfigError listing every error (one per line) if there are any.
  void throw_if_errors() const;

 private:
  std::filesystem::path file_;
  std::vector<std::string> errors_;
};

// Reads a YAML file with guards against inputs that crash or stall yaml-cpp (size, nesting).
// Throws ConfigError naming the file on a missing file or a syntax error.
YAML::Node load_yaml_file(const std::filesystem::path& file);
// The same for text already in memory (built-in files); `file` names it in messages.
YAML::Node load_yaml_text(const std::string& text, const std::filesystem::path& file);

// Human description of a node for messages: the scalar in quotes, or "a list" / "a mapping".
std::string describe(const YAML::Node& n);

class MapReader {
 public:
  // `path` is the key path of `node` ("model", "model.quant"); a non-mapping node is reported.
  MapReader(const YAML::Node& node, std::string path, Diagnostics& diag);

  bool valid() const { return valid_; }
  bool has(const std::string& key) const;
  std::string path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  YAML::Mark mark() const { return node_.Mark(); }
  Diagnostics& diag() { return diag_; }

  // Each returns the value, or `def` when absent (required when def is nullopt; an error and
  // a zero value are recorded then).
  long long integer(const std::string& key, long long lo, long long hi,
                    std::optional<long long> def = {});
  double number(const std::string& key, double lo, double hi, std::optional<double> def = {});
  bool boolean(const std::string& key, std::optional<bool> def = {});
  std::string string(const std::string& key, std::optional<std::string> def = {});
  // A string naming something (sweep, model, workload, system): printable UTF-8, at most 200
  // bytes; anything else is an error at the key.
  std::string name(const std::string& key, std::optional<std::string> def = {});
  std::string choice(const std::string& key, const std::vector<std::string>& allowed,
                     std::optional<std::string> def = {});
  // The raw child (null node when absent); marks the key known.
  YAML::Node child(const std::string& key);
  MapReader map(const std::string& key);

  // Records an error at `key` (or at the map itself when key is empty).
  void error(const std::string& key, const std::string& msg);
  // Flags keys never asked for, suggesting the nearest known one.
  void finish();

 private:
  std::optional<std::string> scalar(const std::string& key, const char* expected);
  // Const lookup: never inserts into the mapping.
  YAML::Node at(const std::string& key) const {
    const YAML::Node& c = node_;
    return c[key];
  }

  YAML::Node node_;
  std::string path_;
  Diagnostics& diag_;
  bool valid_ = true;
  std::set<std::string> known_;
};

}  // namespace qaccel::config
