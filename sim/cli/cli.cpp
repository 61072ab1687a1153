#include "sim/cli/cli.hpp"

#include <cstdio>
#include <iostream>
#include <sstream>

#include "sim/base/text.hpp"
#include "sim/config/config.hpp"
#include "sim/report/table.hpp"
#include "workloads/weights.hpp"

namespace qaccel::cli {

bool parse(const std::string& command, const std::string& synopsis, const std::string& about,
           po::options_description& opts, const po::positional_options_description* positional,
           const std::vector<std::string>& args, po::variables_map& vm) {
  opts.add_options()("help,h", "print this help");
  std::ostringstream u;
  u << "usage: qaccel " << command << " " << synopsis << "\n\n" << about << "\n\n" << opts;
  try {
    po::command_line_parser p(args);
    p.options(opts);
    if (positional) p.positional(*positional);
    po::store(p.run(), vm);
    if (vm.count("help")) {
      std::cout << u.str();
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what(), u.str());
  }
  // An empty path names no file: SQLite would open a private temporary database for it and
  // the streams would fail with a message that names nothing.
  static const char* kPathOptions[] = {"checkpoint",  "config", "db",    "dump-logits", "expect",
                                       "file",        "in",     "json",  "model",       "ops-csv",
                                       "out",         "stats",  "trace", "trace-json",  "workload",
                                       "write-trace", "system"};
  for (const char* name : kPathOptions) {
    if (!vm.count(name)) continue;
    // A flag of the same name (`dram --json`) takes no value: nothing to check.
    const po::option_description* d = opts.find_nothrow(name, false);
    if (d && d->semantic()->max_tokens() == 0) continue;
    const po::variable_value& v = vm[name];
    bool empty = false;
    if (const auto* s = boost::any_cast<std::string>(&v.value())) empty = s->empty();
    if (const auto* l = boost::any_cast<std::vector<std::string>>(&v.value()))
      for (const std::string& s : *l)
        empty = empty || s.empty();
    if (empty)
      throw UsageError("--" + std::string(name) + ": empty path (give a file name)", u.str());
  }
  return true;
}

ModelSpec model_from_options(const po::variables_map& vm, const std::string& usage) {
  bool has_model = vm.count("model"), has_ckpt = vm.count("checkpoint");
  if (has_model == has_ckpt)
    throw UsageError("give exactly one of --model FILE or --checkpoint FILE", usage);
  ModelSpec m = has_model ? config::load_model(vm["model"].as<std::string>())
                          : spec_from_checkpoint(vm["checkpoint"].as<std::string>());
  apply_quant_option(vm, m);
  return m;
}

void apply_quant_option(const po::variables_map& vm, ModelSpec& m) {
  if (!vm.count("quant")) return;
  m.quant = parse_scheme(vm["quant"].as<std::string>());
  auto problems = m.problems();
  if (!problems.empty())
    throw ConfigError("--quant " + m.quant.name() + " does not fit model '" + m.name +
                      "': " + problems[0]);
}

std::string describe_model(const ModelSpec& m) {
  std::string s = m.name + ": dim " + std::to_string(m.dim) + ", hidden " +
                  std::to_string(m.hidden_dim) + ", " + std::to_string(m.n_layers) + " layers, " +
                  std::to_string(m.n_heads) + "/" + std::to_string(m.n_kv_heads) +
                  " heads, vocab " + std::to_string(m.vocab_size) + ", " +
                  human(double(m.n_params())) + " params, ";
  if (m.weights.kind == WeightSource::Kind::checkpoint)
    s += "checkpoint " + m.weights.path.string();
  else
    s += "synthetic weights (seed " + std::to_string(m.weights.seed) + ")";
  return s;
}

std::vector<int> parse_tokens(const std::string& text, int vocab_size, const std::string& option) {
  std::vector<int> out;
  for (const std::string& w : split_words(text)) {
    long long v = 0;
    if (!parse_int64(w, v)) throw ConfigError(option + ": '" + w + "' is not a token id (integer)");
    if (v < 0 || v >= vocab_size)
      throw ConfigError(option + ": token " + w + " is outside the vocabulary [0, " +
                        std::to_string(vocab_size) + ")");
    out.push_back(int(v));
  }
  if (out.empty()) throw ConfigError(option + ": no token ids given");
  return out;
}

}  // namespace qaccel::cli
