#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>

#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/functional.hpp"
#include "sim/report/table.hpp"
#include "sim/report/trace.hpp"
#include "sim/simulate.hpp"
#include "sim/system.hpp"
#include "workloads/ops.hpp"
#include "workloads/reference.hpp"
#include "workloads/rng.hpp"
#include "workloads/weights.hpp"

namespace qaccel::cli {

namespace {

std::string num(double v, const char* fmt = "%.6g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A failed output: bad input (a path that cannot be written: exit 2) or the environment's
// (a full disk or an I/O error: exit 4), printed as main prints those errors.
struct OutputError {
  std::string text;  // empty: written
  bool io = false;
  std::string line() const { return (io ? "I/O error: " : "error: ") + text; }
};

bool is_io_errno(int e) {
  return e == ENOSPC || e == EIO || e == EDQUOT || e == EFBIG;
}

// Writes an output file through `fill`, then flushes and closes it and checks every step: a
// full disk or /dev/full fails only at the flush, which a destructor would swallow. A regular
// file is written beside its path and renamed over it once complete, so a failed or killed
// run never leaves it half written (an existing file stays as it was); a device or pipe is
// written directly. Returns the error rather than throwing: the simulation has run, and an
// exception thrown once the SystemC kernel exists trips AddressSanitizer's false stack reports
// (see run_engine).
template <class Fill>
OutputError write_output(const std::string& option, const std::string& path, Fill fill) {
  struct stat st {};
  const bool special = ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  std::string tmp = path;
  if (!special) {
    tmp = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) {
      const int e = errno;
      return {option + ": cannot write " + path + " (" + std::strerror(e) + ")", is_io_errno(e)};
    }
    ::close(fd);
  }
  // Removes the partial file on every way out but success.
  struct Partial {
    const std::string* name;
    ~Partial() {
      if (name) ::unlink(name->c_str());
    }
  } partial{special ? nullptr : &tmp};
  std::ofstream os(tmp, std::ios::trunc);
  if (!os) return {option + ": cannot write " + path + " (" + std::strerror(errno) + ")", false};
  fill(os);
  errno = 0;
  os.flush();
  const int flush_errno = errno;
  if (os) os.close();
  if (!os) {
    const int e = flush_errno ? flush_errno : errno;
    return {option + ": write failed for " + path + " (" +
                (e ? std::strerror(e) : "disk full or I/O error") + ")",
            e == 0 || is_io_errno(e)};
  }
  if (!special) {
    // Give it the mode a plain create would have (mkstemp makes it 0600).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::chmod(tmp.c_str(), 0666 & ~mask);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int e = errno;
      return {option + ": cannot write " + path + " (" + std::strerror(e) + ")", is_io_errno(e)};
    }
    partial.name = nullptr;
  }
  return {};
}

// Before a run that may take minutes: each output path must be writable. Nothing is created
// or touched: a run that fails leaves no file behind.
void check_outputs(const po::variables_map& vm) {
  for (const char* opt : {"json", "ops-csv", "stats", "trace-json"})
    if (vm.count(opt)) {
      const std::string path = vm[opt].as<std::string>();
      const std::string what = std::string("--") + opt + ": cannot write " + path;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) throw ConfigError(what + " (it is a directory)");
        if (::access(path.c_str(), W_OK) != 0)
          throw ConfigError(what + " (" + std::strerror(errno) + ")");
        if (!S_ISREG(st.st_mode)) continue;  // a device or pipe is written in place
      }
      // A regular file is written beside its path and renamed: its directory must take it.
      const auto slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "."
                              : slash == 0               ? "/"
                                                         : path.substr(0, slash);
      if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw ConfigError(what + " (" + dir + ": " + std::strerror(errno) + ")");
    }
}

const char* schedule_name(Schedule s) {
  return s == Schedule::serial ? "serial" : "overlap";
}

void write_json(std::ostream& os, const System& sys, const ModelSpec& m, const WorkloadSpec& w,
                bool functional, const RecordLog& recs, const std::vector<UnitUsage>& usage,
                const RunTotals& t, double tokens) {
  const auto& s = sys.spec();
  os << "{\"system\": {\"name\": " << json_escape(s.name)
     << ", \"file\": " << json_escape(s.file.string()) << ", \"clock_ghz\": " << num(s.clock_ghz)
     << ", \"tech\": " << json_escape(s.tech.name)
     << ", \"memory\": {\"kind\": " << json_escape(s.dram.kind)
     << ", \"channels\": " << s.dram.channels
     << ", \"bytes_per_cycle_per_channel\": " << num(s.dram.bytes_per_cycle_per_channel)
     << ", \"latency_cycles\": " << s.dram.latency_cycles
     << ", \"model\": " << json_escape(s.dram.model) << ", \"arbitration\": "
     << json_escape(s.dram.arbitration == Arbitration::fcfs ? "fcfs" : "round_robin")
     << "}, \"schedule\": " << json_escape(schedule_name(s.schedule))
     << ", \"prefetch\": " << json_escape(s.prefetch == Prefetch::next_op ? "next_op" : "none")
     << ", \"global_buffer_kib\": " << s.global_buffer_kib
     << ", \"area_mm2\": " << num(sys.area_mm2()) << ", \"resolved_yaml\": " << json_escape(s.yaml)
     << ", \"units\": [";
  for (std::size_t i = 0; i < sys.units().size(); ++i) {
    const Unit& u = *sys.units()[i];
    os << (i ? ", " : "") << "{\"name\": " << json_escape(u.name())
       << ", \"impl\": " << json_escape(std::string(u.impl()))
       << ", \"peak_flops_per_cycle\": " << num(u.peak_flops_per_cycle())
       << ", \"area_mm2\": " << num(u.area_mm2()) << "}";
  }
  os << "]},\n\"model\": {\"name\": " << json_escape(m.name)
     << ", \"scheme\": " << json_escape(m.quant.name()) << ", \"params\": " << m.n_params()
     << ", \"dim\": " << m.dim << ", \"hidden_dim\": " << m.hidden_dim
     << ", \"n_layers\": " << m.n_layers << ", \"n_heads\": " << m.n_heads
     << ", \"n_kv_heads\": " << m.n_kv_heads << ", \"vocab_size\": " << m.vocab_size
     << ", \"seq_len\": " << m.seq_len << "},\n\"workload\": {\"name\": " << json_escape(w.name)
     << ", \"phase\": " << json_escape(w.phase == Phase::prefill ? "prefill" : "decode")
     << ", \"batch\": " << w.batch << ", \"prompt_len\": " << w.prompt_len
     << ", \"context_len\": " << w.context_len << ", \"generated_tokens\": " << w.generated_tokens
     << "},\n\"mode\": " << json_escape(functional ? "functional" : "timing")
     << ",\n\"totals\": {\"cycles\": " << t.cycles << ", \"latency_ns\": " << num(sys.ns(t.cycles))
     << ", \"compute_cycles\": " << t.compute_cycles << ", \"stall_cycles\": " << t.stall_cycles
     << ", \"macs\": " << t.macs << ", \"flops\": " << t.flops
     << ", \"dram_bytes\": " << t.dram_bytes << ", \"sram_bytes\": " << t.sram_bytes
     << ", \"tokens\": " << num(tokens)
     << ", \"tokens_per_s\": " << num(tokens / (sys.ns(t.cycles) * 1e-9))
     << ", \"energy_pj\": " << num(t.dynamic_pj + t.leakage_pj)
     << ", \"energy_pj_per_token\": " << num((t.dynamic_pj + t.leakage_pj) / tokens)
     << ", \"energy_pj_by_component\": {";
  bool first = true;
  for (const auto& [k, v] : t.energy_pj_by_component)
    os << (first ? "" : ", ") << json_escape(k) << ": " << num(v), first = false;
  os << "}},\n\"ops\": [";
  bool first_op = true;
  for (const OpRecord& r : recs) {
    os << (first_op ? "\n " : ",\n ") << "{\"name\": " << json_escape(r.op.name)
       << ", \"step\": " << r.step
       << ", \"kind\": " << json_escape(std::string(to_string(r.op.kind)))
       << ", \"unit\": " << json_escape(r.unit) << ", \"mapped_by\": " << json_escape(r.mapped_by)
       << ", \"m\": " << r.op.m << ", \"n\": " << r.op.n << ", \"k\": " << r.op.k
       << ", \"ready_cycle\": " << r.ready_cycle << ", \"start_cycle\": " << r.start_cycle
       << ", \"end_cycle\": " << r.end_cycle << ", \"waited_for\": " << json_escape(r.waited_for)
       << ", \"cycles\": " << r.cost.cycles << ", \"ns\": " << num(sys.ns(r.cost.cycles))
       << ", \"compute_cycles\": " << r.cost.compute_cycles
       << ", \"stall_cycles\": " << r.cost.stall_cycles
       << ", \"memory_cycles\": " << r.memory_cycles
       << ", \"hidden_memory_cycles\": " << r.hidden_memory_cycles
       << ", \"prefetched_bytes\": " << r.prefetched_bytes << ", \"macs\": " << r.cost.macs
       << ", \"flops\": " << r.cost.flops
       << ", \"dram_bytes\": " << (r.cost.dram_read_bytes + r.cost.dram_write_bytes)
       << ", \"sram_bytes\": " << (r.cost.sram_read_bytes + r.cost.sram_write_bytes)
       << ", \"intensity\": " << num(r.intensity)
       << ", \"attained_flops_per_cycle\": " << num(r.attained_flops_per_cycle)
       << ", \"peak_flops_per_cycle\": " << num(r.peak_flops_per_cycle)
       << ", \"utilization\": " << num(r.utilization)
       << ", \"bound\": " << json_escape(r.memory_bound ? "memory" : "compute")
       << ", \"energy_pj\": " << num(r.cost.energy_pj())
       << ", \"compute_pj\": " << num(r.cost.compute_pj) << ", \"sram_pj\": " << num(r.cost.sram_pj)
       << ", \"dram_pj\": " << num(r.cost.dram_pj) << "}";
    first_op = false;
  }
  os << "\n],\n\"units\": [";
  for (std::size_t i = 0; i < usage.size(); ++i) {
    const UnitUsage& u = usage[i];
    os << (i ? ",\n " : "\n ") << "{\"name\": " << json_escape(u.name) << ", \"ops\": " << u.ops
       << ", \"busy_cycles\": " << u.busy_cycles << ", \"stalled_cycles\": " << u.stalled_cycles
       << ", \"idle_cycles\": " << u.idle_cycles << ", \"utilization\": " << num(u.utilization)
       << "}";
  }
  os << "\n],\n\"stats\": [";
  const auto& stats = const_cast<System&>(sys).stats().all();
  for (std::size_t i = 0; i < stats.size(); ++i)
    os << (i ? ",\n " : "\n ") << "{\"name\": " << json_escape(stats[i].name)
       << ", \"unit\": " << json_escape(stats[i].unit)
       << ", \"desc\": " << json_escape(stats[i].desc)
       << ", \"value\": " << num(stats[i].value, "%.17g") << "}";
  os << "\n]}\n";
}

// Row by row: a long decode's records are read back from their log, never all in memory.
void write_ops_csv(std::ostream& os, const RecordLog& recs) {
  write_csv_row(os, {"op",
                     "step",
                     "kind",
                     "unit",
                     "m",
                     "n",
                     "k",
                     "compute_cycles",
                     "stall_cycles",
                     "cycles",
                     "utilization",
                     "macs",
                     "sram_bytes",
                     "dram_bytes",
                     "energy_pj",
                     "start_cycle",
                     "end_cycle",
                     "hidden_memory_cycles",
                     "waited_for",
                     "placed_by"});
  for (const OpRecord& r : recs)
    write_csv_row(os, {r.op.name,
                       std::to_string(r.step),
                       std::string(to_string(r.op.kind)),
                       r.unit,
                       std::to_string(r.op.m),
                       std::to_string(r.op.n),
                       std::to_string(r.op.k),
                       std::to_string(r.cost.compute_cycles),
                       std::to_string(r.cost.stall_cycles),
                       std::to_string(r.cost.cycles),
                       num(r.utilization),
                       std::to_string(r.cost.macs),
                       std::to_string(r.cost.sram_read_bytes + r.cost.sram_write_bytes),
                       std::to_string(r.cost.dram_read_bytes + r.cost.dram_write_bytes),
                       num(r.cost.energy_pj()),
                       std::to_string(r.start_cycle),
                       std::to_string(r.end_cycle),
                       std::to_string(r.hidden_memory_cycles),
                       r.waited_for,
                       r.mapped_by});
}

// The optional outputs every run writes (--ops-csv, --stats, --trace-json), after `first`
// (--json, when given): every one is attempted; the exit code is 4 when any failed for the
// environment (a full disk), else 2 when any failed.
int write_outputs(const po::variables_map& vm, System& sys, const SimResult& res,
                  const std::string& title, OutputError first = {}) {
  std::vector<OutputError> errors;
  if (!first.text.empty()) errors.push_back(first);
  auto put = [&](const char* opt, auto fill) {
    if (!vm.count(opt)) return;
    OutputError e = write_output(std::string("--") + opt, vm[opt].as<std::string>(), fill);
    if (!e.text.empty()) errors.push_back(e);
  };
  put("ops-csv", [&](std::ostream& os) { write_ops_csv(os, res.records); });
  put("stats", [&](std::ostream& os) { sys.stats().dump_text(os); });
  put("trace-json", [&](std::ostream& os) { write_trace_json(os, sys, res, title); });
  bool io = false;
  for (const OutputError& e : errors)
    std::cerr << e.line() << "\n", io = io || e.io;
  return errors.empty() ? 0 : io ? 4 : 2;
}

void print_system(const System& sys) {
  const auto& s = sys.spec();
  std::cout << "system     " << s.name << ": " << num(s.clock_ghz) << " GHz, " << s.dram.kind << " "
            << num(sys.peak_dram_bytes_per_cycle()) << " B/cycle ("
            << num(sys.peak_dram_bytes_per_cycle() * s.clock_ghz) << " GB/s), units";
  for (const auto& u : sys.units())
    std::cout << " " << u->name() << " (" << u->impl() << ", " << human(u->peak_flops_per_cycle())
              << " FLOP/cycle)";
  std::cout << ", area " << num(sys.area_mm2(), "%.2f") << " mm2\n";
  std::cout << "schedule   " << schedule_name(s.schedule) << ", prefetch "
            << (s.prefetch == Prefetch::next_op ? "next_op" : "none") << ", memory " << s.dram.model
            << " (" << (s.dram.arbitration == Arbitration::fcfs ? "fcfs" : "round_robin") << ")\n";
}

// Per unit over the run: what it did with the makespan.
void print_units(const std::vector<UnitUsage>& units) {
  Table t;
  t.add_column("unit");
  for (const char* c : {"ops", "busy_cycles", "stalled_cycles", "idle_cycles", "busy_%"})
    t.add_column(c, true);
  for (const UnitUsage& u : units)
    t.add_row({u.name, std::to_string(u.ops), std::to_string(u.busy_cycles),
               std::to_string(u.stalled_cycles), std::to_string(u.idle_cycles),
               fixed(100.0 * u.utilization, 1)});
  std::cout << "\n";
  t.render(std::cout, TableFormat::table);
}

// The latency line: the makespan, and the ops' compute and exposed-stall sums (with overlap
// they can add up to more than the makespan).
void print_latency(const System& sys, const RunTotals& t) {
  std::cout << "\nlatency    " << t.cycles << " cycles = " << num(sys.ns(t.cycles) / 1e6, "%.4f")
            << " ms (makespan; summed over ops: " << t.compute_cycles << " compute, "
            << t.stall_cycles << " exposed memory stall)\n";
}

int run_layers(const config::SystemSpec& spec, const config::LayerList& layers,
               const po::variables_map& vm) {
  check_outputs(vm);
  System sys(spec);
  SimOptions so;
  so.record_memory = vm.count("trace-json") > 0;
  SimResult res = simulate_graph(sys, layers.graph, so);
  if (!res.deadlock.empty()) throw InternalError(res.deadlock);
  const RecordLog& recs = res.records;
  const RunTotals& t = res.totals;
  print_system(sys);
  std::cout << "workload   layer list " << layers.name << ": " << layers.graph.size()
            << " GEMMs, timing-only\n\n";
  Table tab;
  for (const char* c : {"layer", "unit"})
    tab.add_column(c);
  for (const char* c : {"m", "n", "k", "compute_cycles", "stall_cycles", "cycles", "util_%",
                        "sram_bytes", "dram_bytes"})
    tab.add_column(c, true);
  for (const OpRecord& r : recs)
    tab.add_row({r.op.name, r.unit, std::to_string(r.op.m), std::to_string(r.op.n),
                 std::to_string(r.op.k), std::to_string(r.cost.compute_cycles),
                 std::to_string(r.cost.stall_cycles), std::to_string(r.cost.cycles),
                 fixed(100.0 * r.utilization, 1),
                 std::to_string(r.cost.sram_read_bytes + r.cost.sram_write_bytes),
                 std::to_string(r.cost.dram_read_bytes + r.cost.dram_write_bytes)});
  tab.render(std::cout, TableFormat::table);
  print_units(res.units);
  print_latency(sys, t);
  std::cout << "energy     " << num((t.dynamic_pj + t.leakage_pj) / 1e6, "%.4f") << " uJ\n";
  std::cout << "area       " << num(sys.area_mm2(), "%.3f") << " mm2\n";
  return write_outputs(vm, sys, res, "qaccel: " + sys.spec().name + " / layers " + layers.name);
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("config", po::value<std::string>()->required(),
                     "a job file (system + model + workload) or a system file")(
      "model", po::value<std::string>(), "model file (overrides the job's)")(
      "quant", po::value<std::string>(),
      "quantization scheme replacing the model's, e.g. mxfp4, bitmod3-g128, w4a8-g128")(
      "workload", po::value<std::string>(), "workload file (overrides the job's)")(
      "functional", po::bool_switch(),
      "compute every number and check each matmul against the reference")(
      "timing-only", po::bool_switch(), "shapes only (for 7B+ models); the same cycle counts")(
      "json", po::value<std::string>(),
      "write the full run (resolved config, totals, ops, stats) as JSON")(
      "ops-csv", po::value<std::string>(), "write one CSV row per op and step")(
      "stats", po::value<std::string>(),
      "write every statistic (name, value, unit, description) as text")(
      "schedule", po::value<std::string>(), "overlap | serial (overrides the system's)")(
      "prefetch", po::value<std::string>(), "none | next_op (overrides the system's)")(
      "trace-json", po::value<std::string>(),
      "write a Chrome/Perfetto trace: a track per unit (a slice per op), DRAM bandwidth")(
      "max-memory-gib", po::value<double>()->default_value(16.0),
      "functional mode: refuse larger float weights");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  const std::string synopsis =
      "(JOB.yaml | SYSTEM.yaml --model M.yaml --workload W.yaml) [--quant SCHEME]\n"
      "       [--functional|--timing-only]\n"
      "       [--schedule overlap|serial] [--prefetch none|next_op] [--json OUT] [--ops-csv OUT]\n"
      "       [--stats OUT] [--trace-json OUT]";
  if (!parse("run", synopsis,
             "Simulates a workload's forward passes on a system, op by op, and prints the report:\n"
             "per-op cycles, bound, utilization and energy; latency, tokens/s, energy per token, "
             "area.",
             opts, &pos, args, vm))
    return 0;
  const std::string usage = "usage: qaccel run " + synopsis + "\n";
  if (vm["functional"].as<bool>() && vm["timing-only"].as<bool>())
    throw UsageError("--functional and --timing-only exclude each other", usage);

  const std::string file = vm["config"].as<std::string>();
  std::string kind = config::detect_kind(file);
  config::JobSpec job;
  if (kind == "job") {
    job = config::load_job(file);
    if (!job.has_system)
      throw ConfigError(file + ": job.system: missing; `qaccel run` needs a system to simulate");
  } else if (kind == "system") {
    job.system = config::load_system(file);
    if (!vm.count("workload"))
      throw UsageError("a system file needs --workload (and --model for a model workload)", usage);
  } else {
    throw UsageError(file + " is a " + kind + " file; give a job or a system file", usage);
  }
  if (vm.count("schedule")) {
    const std::string v = vm["schedule"].as<std::string>();
    if (v != "overlap" && v != "serial")
      throw UsageError("--schedule: expected overlap or serial, found '" + v + "'", usage);
    job.system.schedule = v == "serial" ? Schedule::serial : Schedule::overlap;
  }
  if (vm.count("prefetch")) {
    const std::string v = vm["prefetch"].as<std::string>();
    if (v != "none" && v != "next_op")
      throw UsageError("--prefetch: expected none or next_op, found '" + v + "'", usage);
    job.system.prefetch = v == "next_op" ? Prefetch::next_op : Prefetch::none;
  }
  // A layer list (YAML `layers:` or SCALE-Sim CSV) is simulated as plain GEMMs, no model.
  if (vm.count("workload") && config::detect_kind(vm["workload"].as<std::string>()) == "layers") {
    if (vm.count("model") || vm["functional"].as<bool>())
      throw UsageError("a layer list runs timing-only and takes no --model or --quant", usage);
    if (vm.count("json"))
      throw UsageError("--json is for model workloads; use --ops-csv for layer lists", usage);
    return run_layers(job.system, config::load_layers(vm["workload"].as<std::string>()), vm);
  }
  if (kind == "system" && !vm.count("model"))
    throw UsageError("a model workload needs --model", usage);
  if (vm.count("model")) job.model = config::load_model(vm["model"].as<std::string>());
  if (vm.count("workload")) job.workload = config::load_workload(vm["workload"].as<std::string>());
  apply_quant_option(vm, job.model);
  const ModelSpec& m = job.model;
  const WorkloadSpec& w = job.workload;
  auto problems = w.problems(m);
  if (!problems.empty())
    throw ConfigError("workload '" + w.name + "' on model '" + m.name + "': " + problems[0]);
  bool functional =
      vm["functional"].as<bool>() || (job.functional && !vm["timing-only"].as<bool>());
  if (functional) check_reference_memory(m, vm["max-memory-gib"].as<double>(), w.end_position());

  check_outputs(vm);
  System sys(job.system);
  const bool prefill = w.phase == Phase::prefill;
  const int steps = w.passes();
  // Per-op table, summed over the steps (op names repeat in every pass), and the ops their
  // rule's unit refused (they ran on the default unit: say so, not only in --ops-csv). Both are
  // gathered as the records come, so a long decode needs none of them kept.
  struct Row {
    std::string unit, kind;
    std::int64_t calls = 0;
    std::int64_t cycles = 0, flops = 0;
    double energy = 0, peak = 0;
    std::int64_t memory_bound = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  std::map<std::string, std::int64_t> fallbacks;  // "kind: rule unit reason" -> ops
  SimOptions so;
  so.record_memory = vm.count("trace-json") > 0;
  so.keep_records = functional || vm.count("json") || vm.count("ops-csv") || vm.count("trace-json");
  so.on_record = [&](const OpRecord& r) {
    auto [it, fresh] = rows.try_emplace(r.op.name);
    if (fresh) order.push_back(r.op.name);
    Row& row = it->second;
    row.unit = r.unit, row.kind = std::string(to_string(r.op.kind)), ++row.calls;
    row.cycles += r.cost.cycles, row.flops += r.cost.flops, row.energy += r.cost.energy_pj();
    row.peak = r.peak_flops_per_cycle, row.memory_bound += r.memory_bound;
    if (auto at = r.mapped_by.find("fallback: "); at != std::string::npos) {
      const std::string rest = r.mapped_by.substr(at + 10);  // "RULE_UNIT why"
      const auto sp = rest.find(' ');
      ++fallbacks[std::string(to_string(r.op.kind)) + " ops ran on '" + r.unit + "' instead of '" +
                  rest.substr(0, sp) +
                  "': " + (sp == std::string::npos ? "" : rest.substr(sp + 1))];
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  SimResult res = simulate(sys, m, w, so);
  if (!res.deadlock.empty()) throw InternalError(res.deadlock);
  double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const RecordLog& recs = res.records;
  const RunTotals& t = res.totals;
  const double tokens = res.metrics.tokens;

  print_system(sys);
  std::cout << "model      " << describe_model(m) << "\n";
  std::cout << "scheme     " << m.quant.name() << "\n";
  std::cout << "workload   " << w.name << ": "
            << (!prefill ? std::to_string(steps) + " decode steps from context " +
                               std::to_string(w.context_len)
                : w.generated_tokens == 0
                    ? "prefill of " + std::to_string(w.prompt_len) + " tokens"
                    : "prefill of " + std::to_string(w.prompt_len) + " tokens, then " +
                          std::to_string(w.generated_tokens) + " decode steps")
            << ", batch " << w.batch << "\n";
  std::cout << "mode       " << (functional ? "functional" : "timing-only") << "\n";
  for (const auto& [what, n] : fallbacks)
    std::cout << "fallback   " << n << " " << what << "\n";
  std::cout << "\n";

  Table tab;
  tab.add_column("op");
  tab.add_column("unit");
  tab.add_column("calls", true);
  tab.add_column("cycles", true);
  tab.add_column("share_%", true);
  tab.add_column("bound");
  tab.add_column("util_%", true);
  tab.add_column("energy_nj", true);
  for (const std::string& n : order) {
    const Row& r = rows[n];
    double util = r.cycles ? 100.0 * double(r.flops) / (double(r.cycles) * r.peak) : 0.0;
    tab.add_row({n, r.unit, std::to_string(r.calls), std::to_string(r.cycles),
                 fixed(100.0 * double(r.cycles) / double(std::max<std::int64_t>(t.cycles, 1)), 2),
                 r.memory_bound * 2 > r.calls ? "memory" : "compute", fixed(util, 1),
                 fixed(r.energy / 1e3, 1)});
  }
  tab.render(std::cout, TableFormat::table);

  const double energy = t.dynamic_pj + t.leakage_pj;
  print_units(res.units);
  print_latency(sys, t);
  std::cout << "throughput " << num(res.metrics.tokens_per_s, "%.1f") << " tokens/s ("
            << num(tokens) << " tokens)\n";
  std::cout << "energy     " << num(energy / tokens / 1e6, "%.4f") << " uJ/token, "
            << num(energy / 1e6, "%.4f") << " uJ total:";
  for (const auto& [k, v] : t.energy_pj_by_component)
    std::cout << " " << k << " " << fixed(100.0 * v / energy, 1) << "%";
  std::cout << "\narea       " << num(sys.area_mm2(), "%.3f") << " mm2\n";
  std::cout << "simulated  " << res.ops << " ops in " << num(sim_s, "%.3f") << " s host time\n";

  if (functional) {
    Verification v = verify_functional(sys, m, w, recs);
    if (!v.mismatch.empty()) throw CheckError(v.mismatch);
    std::cout << "verified: " << v.matmuls << " ops bit-exact (matmuls recomputed on "
              << (v.units.empty() ? "no unit" : join(v.units, ", "))
              << " from the reference's quantized inputs); the other " << v.reference_kernel_ops
              << " ops of the timing run execute the reference's own kernels\n";
  }
  OutputError json_error;
  if (vm.count("json"))
    json_error = write_output("--json", vm["json"].as<std::string>(), [&](std::ostream& os) {
      write_json(os, sys, m, w, functional, recs, res.units, t, tokens);
    });
  return write_outputs(vm, sys, res, "qaccel: " + sys.spec().name + " / " + m.name + " / " + w.name,
                       json_error);
}

}  // namespace qaccel::cli
