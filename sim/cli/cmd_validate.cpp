#include <iostream>

#include "dse/sweep.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"

namespace qaccel::cli {

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("file", po::value<std::vector<std::string>>()->required(),
                     "config files to check");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  if (!parse("validate", "FILE...",
             "Checks config files of any kind (model, workload, job) and reports every error with\n"
             "file, line and key path. Exits 0 when all are valid, 2 otherwise.",
             opts, &pos, args, vm))
    return 0;
  int bad = 0;
  for (const std::string& f : vm["file"].as<std::vector<std::string>>()) {
    try {
      std::string kind = config::detect_kind(f);
      if (kind == "sweep") {
        dse::SweepSpec s = dse::load_sweep(f);
        std::size_t n = s.strategy == dse::Strategy::nsga2 ? 0 : dse::enumerate(s).size();
        std::cout << f << ": ok (sweep, "
                  << (n ? std::to_string(n) + " design points" : "nsga2 search") << ")\n";
        continue;
      }
      config::validate_file(f);
      std::cout << f << ": ok (" << kind << ")\n";
    } catch (const ConfigError& e) {
      ++bad;
      std::cerr << e.what() << "\n";
    }
  }
  if (bad) std::cerr << bad << " file(s) with errors\n";
  return bad ? 2 : 0;
}

}  // namespace qaccel::cli
