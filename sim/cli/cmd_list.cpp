#include <cstdio>
#include <iostream>

#include "arch/dram/address_map.hpp"
#include "sim/base/text.hpp"

#include "arch/common/memory.hpp"
#include "arch/common/unit.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"

namespace qaccel::cli {

int cmd_list(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("stats", po::value<std::string>(),
                     "also list every statistic of this system file")(
      "markdown", "print only the unit parameter tables, as Markdown (README's block)");
  po::variables_map vm;
  if (!parse("list", "[--stats SYSTEM.yaml | --markdown]",
             "Lists the unit implementations a system file can name (`impl:`), their parameters,\n"
             "the memory models, the op kinds a mapping can name, and the config file kinds.",
             opts, nullptr, args, vm))
    return 0;
  if (vm.count("markdown")) {
    if (vm.count("stats"))
      throw UsageError("--markdown prints only the parameter tables; drop --stats",
                       "usage: qaccel list [--stats SYSTEM.yaml | --markdown]");
    std::cout << units_markdown();
    return 0;
  }
  std::cout << "units (system.units.NAME.impl):\n" << units_text();
  std::cout << "\nmemory models (system.memory.model):\n";
  for (const auto& [name, info] : memory_registry())
    std::cout << "  " << name << ": " << info.summary << "\n";
  std::cout << "\nDRAM presets (memory.dram: {preset: NAME}, qaccel dram --config NAME):\n";
  for (const std::string& p : dram::preset_names()) {
    const dram::DramConfig c = dram::preset(p);
    std::printf(
        "  %-12s %-6s %5d MT/s  %2d ch x %d pc x %d rank, %2d banks, %5lld B rows, %g GB/s\n",
        p.c_str(), dram::standard_name(c.standard), c.rate_mtps, c.org.channels,
        c.org.pseudo_channels, c.org.ranks, c.org.banks_per_rank(), (long long)c.org.row_bytes(),
        c.peak_gbps());
  }
  std::cout << "DRAM timing names (timing.NAME, DRAM clock cycles):\n";
  for (const dram::TimingField& f : dram::timing_fields())
    std::cout << "  " << f.name << ": " << f.desc << "\n";
  std::cout << "DRAM address mappings: " << join(dram::AddressMap::known(), ", ") << "\n";
  std::cout << "\nop kinds (system.mapping keys, plus default):\n ";
  for (const std::string& k : config::op_kind_names())
    std::cout << " " << k;
  std::cout << "\n\nconfig kinds (top-level key):\n ";
  for (const std::string& k : config::config_kinds())
    std::cout << " " << k;
  std::cout << "\n";
  if (vm.count("stats")) {
    System sys(config::load_system(vm["stats"].as<std::string>()));
    std::cout << "\nstatistics of " << sys.spec().name << " (name, unit, description):\n";
    for (const Stat& s : sys.stats().all())
      std::cout << "  " << s.name << "  [" << s.unit << "]  " << s.desc << "\n";
  }
  return 0;
}

}  // namespace qaccel::cli
