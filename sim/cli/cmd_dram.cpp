// `qaccel dram`: the command-level DRAM on its own, driven by a trace file or synthetic traffic,
// for comparison with other DRAM simulators (Ramulator 2, DRAMsim3).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "arch/dram/address_map.hpp"
#include "arch/dram/checker.hpp"
#include "arch/dram/dram.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/table.hpp"

namespace qaccel::cli {

namespace {

using namespace qaccel::dram;

const char* kUsage =
    "--config DRAM.yaml|PRESET (--trace FILE | --synthetic stream|random|mixed)\n"
    "       [--requests N] [--seed S] [--channels N] [--read-queue N] [--write-queue N]\n"
    "       [--mapping NAME] [--scheduler frfcfs|fcfs] [--row-policy open|closed]\n"
    "       [--refresh all_bank|per_bank|none] [--tick] [--check] [--json]\n"
    "       [--write-trace FILE] [--show-config]";

DramConfig config_from(const po::variables_map& vm) {
  const std::string c = vm["config"].as<std::string>();
  std::error_code ec;
  DramConfig cfg;
  if (!std::filesystem::exists(c, ec)) {
    for (const std::string& p : preset_names())
      if (p == c) return preset(c);
    throw ConfigError(c + ": no such DRAM file, and not a preset name (presets: " +
                      join(preset_names(), ", ") + ")");
  }
  return load_dram(c);
}

template <class T>
void override_opt(const po::variables_map& vm, const char* key, T& field) {
  if (vm.count(key)) field = vm[key].as<T>();
}

}  // namespace

int cmd_dram(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("config", po::value<std::string>()->required(),
                     "DRAM file (dram: {preset: NAME, ...}) or a preset name")(
      "trace", po::value<std::string>(),
      "trace file: `LD <addr>` / `ST <addr>` or `<cycle> R|W <addr>` lines")(
      "synthetic", po::value<std::string>(), "stream | random | mixed (2 reads : 1 write)")(
      "requests", po::value<long long>()->default_value(200000), "synthetic: request count")(
      "seed", po::value<long long>()->default_value(1), "synthetic: random seed")(
      "channels", po::value<int>(), "override the channel count")("read-queue", po::value<int>(),
                                                                  "override the read queue depth")(
      "write-queue", po::value<int>(), "override the write queue depth")(
      "mapping", po::value<std::string>(), "override the address mapping")(
      "scheduler", po::value<std::string>(), "override: frfcfs | fcfs")(
      "row-policy", po::value<std::string>(), "override: open | closed")(
      "refresh", po::value<std::string>(), "override: all_bank | per_bank | none")(
      "tick", "step every cycle (the reference mode) instead of jumping between events")(
      "check", "replay the issued commands against every timing rule (exit 1 on a violation)")(
      "json", "print the results as JSON")("write-trace", po::value<std::string>(),
                                           "write the requests as an LD/ST trace and exit")(
      "show-config", "print the fully resolved DRAM description and exit");
  po::variables_map vm;
  if (!parse("dram", kUsage,
             "Runs the command-level DRAM engine on a trace. One request is offered per DRAM\n"
             "cycle, in order, and retried while its queue is full; the run ends when every\n"
             "read has returned and every write has been issued as a WR command. Prints\n"
             "`cycles: N` first, then time, bandwidth, row hits/misses/conflicts, average\n"
             "read latency, command counts and energy.",
             opts, nullptr, args, vm))
    return 0;
  DramConfig cfg = config_from(vm);
  override_opt(vm, "channels", cfg.org.channels);
  override_opt(vm, "read-queue", cfg.ctrl.read_queue);
  override_opt(vm, "write-queue", cfg.ctrl.write_queue);
  override_opt(vm, "mapping", cfg.mapping);
  if (vm.count("scheduler")) {
    const std::string s = vm["scheduler"].as<std::string>();
    if (s != "frfcfs" && s != "fcfs")
      throw UsageError("--scheduler: expected frfcfs or fcfs, found '" + s + "'", kUsage);
    cfg.ctrl.scheduler = s == "fcfs" ? Scheduler::fcfs : Scheduler::frfcfs;
  }
  if (vm.count("row-policy")) {
    const std::string s = vm["row-policy"].as<std::string>();
    if (s != "open" && s != "closed")
      throw UsageError("--row-policy: expected open or closed, found '" + s + "'", kUsage);
    cfg.ctrl.row_policy = s == "open" ? RowPolicy::open : RowPolicy::closed;
  }
  if (vm.count("refresh")) {
    const std::string s = vm["refresh"].as<std::string>();
    if (s != "all_bank" && s != "per_bank" && s != "none")
      throw UsageError("--refresh: expected all_bank, per_bank or none, found '" + s + "'", kUsage);
    cfg.ctrl.refresh = s == "all_bank"   ? Refresh::all_bank
                       : s == "per_bank" ? Refresh::per_bank
                                         : Refresh::none;
  }
  if (cfg.org.channels < 1 || cfg.ctrl.read_queue < 1 || cfg.ctrl.write_queue < 1)
    throw UsageError("--channels, --read-queue and --write-queue take positive numbers", kUsage);
  if (auto problems = check(cfg); !problems.empty())
    throw ConfigError(vm["config"].as<std::string>() +
                      " with the command-line overrides: " + join(problems, "; "));
  // The mapping is checked by building it.
  Dram dram(cfg, vm.count("check") > 0);
  if (vm.count("show-config")) {
    std::cout << cfg.to_yaml();
    return 0;
  }

  const bool has_trace = vm.count("trace"), has_syn = vm.count("synthetic");
  if (has_trace == has_syn) throw UsageError("give exactly one of --trace or --synthetic", kUsage);
  const std::uint64_t capacity = std::uint64_t(cfg.org.capacity_bytes());
  std::vector<TraceEntry> trace;
  std::string source;
  if (has_trace) {
    source = vm["trace"].as<std::string>();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(source, ec))
      throw ConfigError(source + ": no such file (or not a regular file)");
    std::ifstream in(source);
    if (!in) throw ConfigError(source + ": cannot open");
    trace = read_trace(in, source, capacity);
  } else {
    const long long n = vm["requests"].as<long long>();
    if (n < 1 || n > 1'000'000'000)
      throw UsageError("--requests: expected 1 to 1e9, found " + std::to_string(n), kUsage);
    const long long seed = vm["seed"].as<long long>();
    if (seed < 0) throw UsageError("--seed: expected a number >= 0", kUsage);
    source = vm["synthetic"].as<std::string>();
    trace = synthetic_trace(source, n, cfg.org.tx_bytes, capacity, std::uint64_t(seed));
    source = "synthetic " + source;
  }
  if (vm.count("write-trace")) {
    const std::string f = vm["write-trace"].as<std::string>();
    std::ofstream out(f);
    for (const TraceEntry& e : trace) {
      if (e.cycle >= 0)
        out << e.cycle << (e.write ? " W 0x" : " R 0x") << std::hex << e.addr;
      else
        out << (e.write ? "ST 0x" : "LD 0x") << std::hex << e.addr;
      out << std::dec << "\n";
    }
    out.close();
    if (!out) throw ConfigError(f + ": cannot write the trace");
    return 0;
  }

  const bool tick = vm.count("tick") > 0;
  // Stepping every cycle is the test reference; a trace that spans ages would take ages.
  i64 span = 0;
  for (const TraceEntry& e : trace)
    span = std::max(span, e.cycle);
  if (tick && span > 1'000'000'000)
    throw UsageError("--tick steps every cycle; this trace spans " + std::to_string(span) +
                         " cycles (at most 1e9 with --tick)",
                     kUsage);
  const auto t0 = std::chrono::steady_clock::now();
  const bool long_run = trace.size() >= 2'000'000;
  auto progress = [&](i64 done) {
    if (long_run && done % (1 << 20) == 0)
      std::cerr << "dram: " << done << "/" << trace.size() << " requests\n";
  };
  const Dram::TraceResult res = dram.run_trace(trace, tick, progress);
  const double host_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const DramTotals tot = dram.totals(res.cycles);

  std::vector<std::string> violations;
  if (vm.count("check"))
    for (int k = 0; k < dram.channels(); ++k)
      for (const std::string& v : check_commands(cfg, dram.channel(k).commands()))
        violations.push_back("channel " + std::to_string(k) + ": " + v);

  const double ns = double(res.cycles) * cfg.tck_ns();
  const double gbps = ns > 0 ? double(tot.bytes) / ns : 0;
  const i64 reads = tot.sum.reads;
  const double avg_lat = reads ? double(tot.sum.read_latency_cycles) / double(reads) : 0;
  std::vector<std::pair<std::string, std::string>> kv;
  auto put = [&](const std::string& k, const std::string& v) { kv.emplace_back(k, v); };
  auto num = [](double v, int prec) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(prec) << v;
    return o.str();
  };
  put("cycles", std::to_string(res.cycles));
  put("ns", num(ns, 1));
  put("bandwidth_gbps", num(gbps, 3));
  put("peak_gbps", num(cfg.peak_gbps(), 3));
  put("bandwidth_share", num(cfg.peak_gbps() > 0 ? gbps / cfg.peak_gbps() : 0, 4));
  put("reads", std::to_string(reads));
  put("writes", std::to_string(tot.sum.writes));
  put("forwarded_reads", std::to_string(tot.sum.forwarded_reads));
  put("row_hits", std::to_string(tot.sum.row_hits));
  put("row_misses", std::to_string(tot.sum.row_misses));
  put("row_conflicts", std::to_string(tot.sum.row_conflicts));
  put("avg_read_latency_cycles", num(avg_lat, 2));
  put("avg_queue_latency_cycles",
      num(double(tot.sum.queue_latency_cycles) /
              double(std::max<i64>(1, reads - tot.sum.forwarded_reads + tot.sum.writes)),
          2));
  put("front_end_stall_cycles", std::to_string(res.front_end_stall_cycles));
  for (int c = 0; c < kCmds; ++c)
    put(std::string("cmd_") + cmd_name(Cmd(c)), std::to_string(tot.sum.commands[std::size_t(c)]));
  put("energy_pj", num(tot.energy_pj(), 1));
  put("energy_act_pj", num(tot.act_pj, 1));
  put("energy_rd_pj", num(tot.rd_pj, 1));
  put("energy_wr_pj", num(tot.wr_pj, 1));
  put("energy_ref_pj", num(tot.ref_pj, 1));
  put("energy_background_pj", num(tot.background_pj, 1));
  put("host_seconds", num(host_s, 3));
  put("cycles_per_host_second", num(host_s > 0 ? double(res.cycles) / host_s : 0, 0));
  if (vm.count("check")) put("check_violations", std::to_string(violations.size()));

  if (vm.count("json")) {
    // json_escape gives the quoted string.
    std::cout << "{\n  \"config\": " << json_escape(vm["config"].as<std::string>())
              << ",\n  \"trace\": " << json_escape(source);
    for (const auto& [k, v] : kv)
      std::cout << ",\n  \"" << k << "\": " << v;
    std::cout << "\n}\n";
  } else {
    for (const auto& [k, v] : kv)
      std::cout << k << ": " << v << "\n";
  }
  for (const std::string& v : violations)
    std::cerr << "timing violation: " << v << "\n";
  return violations.empty() ? 0 : 1;
}

}  // namespace qaccel::cli
