#include <iostream>

#include "dse/sweep.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"

namespace qaccel::cli {

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("file", po::value<std::vector<std::string>>()->required(),
                     "config files to check")(
      "max-designs", po::value<std::int64_t>()->default_value(dse::kDefaultMaxDesigns),
      "sweeps: refuse more designs than this (counted before constraints), as sweep does");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  if (!parse("validate", "FILE...",
             "Checks config files of any kind (model, workload, job) and reports every error with\n"
             "file, line and key path. Exits 0 when all are valid, 2 otherwise. A sweep's designs\n"
             "are counted (parameter constraints applied) and the first 1000 built as systems.",
             opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel validate FILE...\n";
  if (vm["max-designs"].as<std::int64_t>() < 1)
    throw UsageError("--max-designs must be >= 1", usage);
  int bad = 0;
  for (const std::string& f : vm["file"].as<std::vector<std::string>>()) {
    try {
      std::string kind = config::detect_kind(f);
      if (kind == "sweep") {
        dse::SweepSpec s = dse::load_sweep(f);
        // Designs are counted, not built (building takes a config load each); the first
        // kBuilt are built, so a bad combination of values there surfaces here.
        constexpr std::int64_t kBuilt = 1000;
        std::int64_t n = 0, built = 0;
        const std::int64_t max_designs = vm["max-designs"].as<std::int64_t>();
        if (s.strategy == dse::Strategy::nsga2 && dse::design_count(s) > max_designs)
          throw ConfigError(f + ": nsga2 population x (generations + 1) = " +
                            std::to_string(dse::design_count(s)) +
                            " evaluations, more than --max-designs " + std::to_string(max_designs));
        if (s.strategy != dse::Strategy::nsga2) {
          dse::DesignStream designs(s, max_designs);
          for (dse::DesignPoint p; built < kBuilt && designs.next(p);)
            ++built;
          n = built + designs.count_rest();
        }
        std::cout << f << ": ok (sweep, "
                  << (s.strategy == dse::Strategy::nsga2 ? std::string("nsga2 search")
                                                         : std::to_string(n) + " design points")
                  << (n > built ? ", the first " + std::to_string(built) + " built and checked"
                                : std::string())
                  << ")\n";
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
