#include <cstdio>
#include <iostream>

#include "arch/dram/address_map.hpp"
#include "sim/base/text.hpp"

#include "arch/common/memory.hpp"
#include "arch/common/unit.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"
#include "workloads/spec.hpp"

namespace qaccel::cli {

namespace {

std::string_view elem_name(Elem e) {
  switch (e) {
    case Elem::f32:
      return "float32";
    case Elem::int_code:
      return "int code";
    case Elem::half:
      return "binary16";
    case Elem::bf16:
      return "bfloat16";
  }
  return "?";
}

// Every weight and activation format, from the tables in workloads/spec.cpp.
void print_formats() {
  constexpr int kG = 128;  // the group size of the storage column
  std::cout << "weight formats (model.quant.weights; scheme FORMAT[-aACT][-gN|-pc][-kvN]):\n";
  std::printf("  %-9s %-8s %4s  %-24s %-18s %-9s %-8s %s\n", "name", "element", "bits",
              "scale groups", "bits/weight G=128", "codes", "act", "summary");
  for (const WeightFormatInfo& f : weight_formats()) {
    std::string groups = "none", codes = "-", act = "-";
    double per_weight = f.bits;
    if (f.fixed_group) {
      groups = "fixed block of " + std::to_string(f.fixed_group);
      per_weight += double(f.group_bits) / f.fixed_group;
    } else if (f.grouped) {
      const int g = default_group(f.id);
      groups = "32/64/128/pc (dflt " + (g ? std::to_string(g) : std::string("pc")) + ")";
      per_weight += double(f.group_bits) / kG;
    }
    char storage[48];
    std::snprintf(storage, sizeof storage, "%.8g", per_weight);
    std::string st = storage;
    if (f.tensor_bits) st += " +" + std::to_string(f.tensor_bits) + "/tensor";
    if (f.elem == Elem::int_code) codes = "|c|<=" + std::to_string(f.code_max);
    if (f.id != WeightFormat::fp32) act = std::string(to_string(default_act(f.id)));
    std::printf("  %-9s %-8s %4d  %-24s %-18s %-9s %-8s %s\n", std::string(f.name).c_str(),
                std::string(elem_name(f.elem)).c_str(), f.bits, groups.c_str(), st.c_str(),
                codes.c_str(), act.c_str(), std::string(f.summary).c_str());
  }
  std::cout
      << "  (bits/weight: element bits plus each group's scale (float32; E8M0 or E4M3 in the\n"
         "  fixed blocks), zero point and type selector, at G = 128 or the fixed block; act:\n"
         "  the activation format taken when none is named; codes: the integer codes the\n"
         "  matmul multiplies)\n";
  std::cout << "activation formats (model.quant.activations; scheme -a8, -a16, -aACT):\n";
  for (const ActFormatInfo& a : act_formats())
    std::printf("  %-9s %-8s %4d  %s\n", std::string(a.name).c_str(),
                std::string(elem_name(a.elem)).c_str(), a.bits, std::string(a.summary).c_str());
  std::cout << "KV cache (model.quant.kv_bits; scheme -kvN): 32 float32, 16 binary16, 8 int8,\n"
               "  4 int4 (int8 and int4 with a float32 scale per position and KV head)\n";
}

}  // namespace

int cmd_list(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("stats", po::value<std::string>(),
                     "also list every statistic of this system file")(
      "markdown", "print only the unit parameter tables, as Markdown (README's block)")(
      "section", po::value<std::vector<std::string>>(),
      "`formats` (also as the first argument): print only the numeric formats");
  po::positional_options_description pos;
  pos.add("section", -1);
  po::variables_map vm;
  const std::string usage = "usage: qaccel list [formats | --stats SYSTEM.yaml | --markdown]";
  if (!parse("list", "[formats | --stats SYSTEM.yaml | --markdown]",
             "Lists the unit implementations a system file can name (`impl:`), their parameters,\n"
             "the memory models, the op kinds a mapping can name, the config file kinds and the\n"
             "numeric formats. `qaccel list formats` prints only the weight, activation and\n"
             "KV-cache formats a model's quant section or a scheme name can name.",
             opts, &pos, args, vm))
    return 0;
  if (vm.count("section")) {
    const auto& what = vm["section"].as<std::vector<std::string>>();
    if (what.size() != 1)
      throw UsageError("give one section (formats), found " + std::to_string(what.size()), usage);
    if (what[0] != "formats")
      throw UsageError("unknown section '" + what[0].substr(0, 40) + "' (expected formats)", usage);
    if (vm.count("stats") || vm.count("markdown"))
      throw UsageError("`qaccel list formats` takes no options", usage);
    print_formats();
    return 0;
  }
  if (vm.count("markdown")) {
    if (vm.count("stats"))
      throw UsageError("--markdown prints only the parameter tables; drop --stats", usage);
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
  std::cout << "\n\n";
  print_formats();
  if (vm.count("stats")) {
    System sys(config::load_system(vm["stats"].as<std::string>()));
    std::cout << "\nstatistics of " << sys.spec().name << " (name, unit, description):\n";
    for (const Stat& s : sys.stats().all())
      std::cout << "  " << s.name << "  [" << s.unit << "]  " << s.desc << "\n";
  }
  return 0;
}

}  // namespace qaccel::cli
