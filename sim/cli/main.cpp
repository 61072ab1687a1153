// qaccel: command-line entry. Maps error kinds to exit codes: 0 ok, 1 a run's check failed or
// it could not finish, 2 the user's input is wrong (usage, config, input file), 3 a qaccel bug,
// 4 the environment failed (full disk, I/O error, database lock held too long).
#include <cstring>
#include <iostream>
#include <new>

#include "qaccel/version.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"run", "simulate a model workload or a layer list on a system and print its report",
     qaccel::cli::cmd_run},
    {"ref", "run the functional reference of a model on a prompt", qaccel::cli::cmd_ref},
    {"ops", "print the operator list of one forward pass", qaccel::cli::cmd_ops},
    {"validate", "check config files and report every error", qaccel::cli::cmd_validate},
    {"sweep", "run a design-space sweep into the results database", qaccel::cli::cmd_sweep},
    {"query", "ask the results database: runs, best, pareto, compare, ops, sql",
     qaccel::cli::cmd_query},
    {"merge", "merge results databases (sweep shards) without duplicates", qaccel::cli::cmd_merge},
    {"plot", "draw a roofline of a run or a sweep's Pareto front as SVG", qaccel::cli::cmd_plot},
    {"dram", "run the command-level DRAM on a trace (compare with other DRAM simulators)",
     qaccel::cli::cmd_dram},
    {"rdu", "dataflow RDU fabric: `rdu link` sizes a link's buffer (rate, stalls, occupancy)",
     qaccel::cli::cmd_rdu},
    {"list", "list unit implementations, their parameters and statistics", qaccel::cli::cmd_list},
};

void usage(std::ostream& os) {
  os << "qaccel " << qaccel::kVersion
     << " - accelerator simulator and design-space explorer for quantized LLM inference\n\n"
        "usage: qaccel <command> [options]    (qaccel <command> --help for its "
        "options)\n\ncommands:\n";
  for (const auto& c : kCommands)
    os << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
  os << "\nexit codes: 0 ok, 1 run failed or check mismatch, 2 bad usage/config/input, 3 internal "
        "error,\n            4 I/O or environment error (disk full, I/O error, lock timeout): "
        "retry once fixed\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "qaccel " << qaccel::kVersion << "\n";
    return 0;
  }
  const Command* cmd = nullptr;
  std::vector<std::string> names;
  for (const auto& c : kCommands) {
    names.push_back(c.name);
    if (name == c.name) cmd = &c;
  }
  if (!cmd) {
    std::string hint = qaccel::nearest(name, names);
    std::cerr << "qaccel: unknown command '" << name << "'"
              << (hint.empty() ? "" : " (did you mean '" + hint + "'?)") << "\n\n";
    usage(std::cerr);
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    const int rc = cmd->run(args);
    // Results go to stdout: a write that failed (a full disk, a closed pipe) is not success.
    std::cout.flush();
    if (!std::cout) throw qaccel::IoError("cannot write the results to standard output");
    return rc;
  } catch (const qaccel::cli::UsageError& e) {
    std::cerr << "qaccel " << name << ": " << e.what() << "\n\n" << e.usage();
    return 2;
  } catch (const qaccel::ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const qaccel::CheckError& e) {
    std::cerr << "check failed: " << e.what() << "\n";
    return 1;
  } catch (const qaccel::IoError& e) {
    std::cerr << "I/O error: " << e.what() << "\n";
    return 4;
  } catch (const qaccel::InternalError& e) {
    std::cerr << e.what() << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory (try a smaller model or --timing-only)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
