#pragma once
// Shared plumbing of the `qaccel` subcommands.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "sim/base/error.hpp"
#include "workloads/spec.hpp"

namespace qaccel::dse {
class Db;
class Stmt;
}  // namespace qaccel::dse

namespace qaccel::cli {

namespace po = boost::program_options;

// Wrong command-line usage: main prints the message and the command's usage, exit 2.
class UsageError : public ConfigError {
 public:
  UsageError(const std::string& msg, std::string usage)
      : ConfigError(msg), usage_(std::move(usage)) {}
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
};

// Parses args into vm (with --help added). Returns false when --help was printed.
// Unknown options, missing values and bad types become UsageError.
bool parse(const std::string& command, const std::string& synopsis, const std::string& about,
           po::options_description& opts, const po::positional_options_description* positional,
           const std::vector<std::string>& args, po::variables_map& vm);

// The model a command names with --model FILE or --checkpoint FILE (exactly one), with an
// optional --quant SCHEME override.
ModelSpec model_from_options(const po::variables_map& vm, const std::string& usage);
// --quant SCHEME: replaces the model's quantization (ConfigError when it does not fit).
void apply_quant_option(const po::variables_map& vm, ModelSpec& m);

// One line describing a model: shapes, parameters, weight source.
std::string describe_model(const ModelSpec& m);

// ConfigError unless the run `hash` has ops stored for pass `step` (says which it has).
void check_step(dse::Db& db, const std::string& hash, int step);

// The run filters of `query` and `plot`: --sweep NAME (its designs) and --where KEY=VALUE
// (runs whose swept parameter KEY has VALUE). Checked on construction: an unknown sweep or
// parameter is a ConfigError listing the known ones, a malformed --where a UsageError.
class RunFilter {
 public:
  RunFilter(dse::Db& db, const po::variables_map& vm, const std::string& usage);
  // The condition on the column `hash` ("1" without filters); its values bind in order.
  std::string sql(const std::string& hash) const;
  // Binds the values of one sql() from parameter index `first`; returns the next free index.
  int bind(dse::Stmt& st, int first) const;

 private:
  std::string sweep_;
  // Parameter values are stored as numbers when numeric: they bind the same way.
  std::vector<std::pair<std::string, std::string>> where_;
};

// Token ids from a string like "72 101, 108".
std::vector<int> parse_tokens(const std::string& text, int vocab_size, const std::string& option);

int cmd_validate(const std::vector<std::string>& args);
int cmd_ref(const std::vector<std::string>& args);
int cmd_ops(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_list(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_query(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_dram(const std::vector<std::string>& args);
int cmd_rdu(const std::vector<std::string>& args);

}  // namespace qaccel::cli
