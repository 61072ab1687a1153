// `qaccel rdu`: tools of the dataflow RDU fabric. `qaccel rdu link` runs the fabric's own link
// model (arch/rdu/link.hpp) on a producer and a consumer, so an architect can size a link's
// buffer: sustained rate, stalls and occupancy for a capacity, a latency and a credit latency.
// `qaccel rdu map` compiles one decoder layer for a system's RDU unit and reports both
// mappings (one fused section per layer against one section per op): sections, tiles, hops,
// link load, spills and the tier of every weight and KV tensor.
#include <chrono>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "arch/rdu/fabric.hpp"
#include "arch/rdu/link.hpp"
#include "arch/rdu/place.hpp"
#include "sim/base/text.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/report/table.hpp"

namespace qaccel::cli {

namespace {

using rdu::i64;

const char* kUsage = "<subcommand> [options]    (qaccel rdu <subcommand> --help for its options)";
const char* kLinkUsage =
    "link --capacity C --latency L --credit-latency R [--vectors N]\n"
    "       [--consumer-interval K] [--lanes N] [--elem-bits B] [--step] [--json]";

struct Sub {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

// Stepping every vector costs about a SystemC wait per side and vector.
constexpr i64 kMaxStepVectors = 100'000'000;
constexpr i64 kMaxVectors = 10'000'000'000;

// A whole number, also written like 1e9; UsageError naming the option otherwise or when out of
// [lo, hi].
i64 number_option(const po::variables_map& vm, const char* name, i64 lo, i64 hi, const char* why,
                  const std::string& usage) {
  const std::string text = vm[name].as<std::string>();
  long long v = 0;
  double f = 0;
  if (!parse_int64(text, v)) {
    if (!parse_double(text, f) || f != std::floor(f) || std::fabs(f) > 9e18)
      throw UsageError("--" + std::string(name) + ": expected a whole number, found '" + text + "'",
                       usage);
    v = static_cast<long long>(f);
  }
  if (v < lo)
    throw UsageError(
        "--" + std::string(name) + ": must be >= " + std::to_string(lo) + why + ", found " + text,
        usage);
  if (v > hi)
    throw UsageError(
        "--" + std::string(name) + ": must be <= " + std::to_string(hi) + ", found " + text, usage);
  return v;
}

int cmd_rdu_link(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("capacity", po::value<std::string>()->required(),
                     "C: vectors the link buffers (credits of the sender), >= 1")(
      "latency", po::value<std::string>()->required(),
      "L: cycles from a send until the receiver can dequeue the vector, >= 1")(
      "credit-latency", po::value<std::string>()->required(),
      "R: cycles from a dequeue until its credit can pay for a send, >= 0")(
      "vectors", po::value<std::string>()->default_value("10000"),
      "N: vectors to move (1e9 is fine: the steady state is fast-forwarded)")(
      "consumer-interval", po::value<std::string>()->default_value("1"),
      "K: the consumer takes at most one vector every K cycles")(
      "lanes", po::value<std::string>()->default_value("16"), "elements per vector")(
      "elem-bits", po::value<std::string>()->default_value("32"), "bits per element")(
      "step", po::bool_switch(),
      "simulate every vector (no steady-state fast-forward; at most 1e8 vectors)")(
      // Switches, not plain flags: parse() refuses an empty --json taken for a file name.
      "json", po::bool_switch(), "print the results as JSON");
  po::variables_map vm;
  const std::string usage = std::string("usage: qaccel rdu ") + kLinkUsage;
  if (!parse("rdu", kLinkUsage,
             "Simulates one link of the RDU fabric (arch/rdu/link.hpp) on SystemC: a producer\n"
             "offers one vector per cycle, a consumer takes one every K cycles, the link holds C\n"
             "vectors, shows a vector L cycles after its send and returns a dequeued vector's\n"
             "credit R cycles later. Prints `vectors_per_cycle: X` first: the sustained rate,\n"
             "measured once the run repeats itself (else the run's average), then the steady\n"
             "state found, total cycles, producer stall and consumer wait cycles, maximum and\n"
             "mean occupancy and bytes per cycle. Once the steady state is proven (the link's\n"
             "state repeats), the rest of the run is computed from it unless --step is given.",
             opts, nullptr, args, vm))
    return 0;

  rdu::LinkSpec spec;
  spec.capacity_vectors = number_option(vm, "capacity", 1, rdu::kMaxCapacityVectors,
                                        " (a link buffers at least one vector)", usage);
  spec.latency_cycles =
      number_option(vm, "latency", 1, rdu::kMaxLatencyCycles,
                    " (a vector is seen the cycle after its send at the earliest)", usage);
  spec.credit_latency_cycles =
      number_option(vm, "credit-latency", 0, rdu::kMaxLatencyCycles, "", usage);
  spec.lanes = int(number_option(vm, "lanes", 1, rdu::kMaxLanes, "", usage));
  spec.elem_bits = int(number_option(vm, "elem-bits", 1, rdu::kMaxElemBits, "", usage));
  spec.validate("qaccel rdu link");
  rdu::LinkRunOptions opt;
  opt.fast_forward = !vm["step"].as<bool>();
  opt.vectors =
      number_option(vm, "vectors", 1, opt.fast_forward ? kMaxVectors : kMaxStepVectors, "", usage);
  opt.consumer_interval_cycles =
      number_option(vm, "consumer-interval", 1, rdu::kMaxLatencyCycles, "", usage);

  const auto t0 = std::chrono::steady_clock::now();
  const rdu::LinkRun r = rdu::run_link_systemc(spec, opt);
  const double host_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto num = [](double v, int prec) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(prec) << v;
    return o.str();
  };
  std::vector<std::pair<std::string, std::string>> kv;
  auto put = [&](const std::string& k, const std::string& v) { kv.emplace_back(k, v); };
  const bool json = vm["json"].as<bool>();
  put("vectors_per_cycle", num(r.vectors_per_cycle(), 6));
  if (json) {
    put("steady_from_vector", r.steady() ? std::to_string(r.steady_from) : "null");
    put("steady_period_vectors", r.steady() ? std::to_string(r.period_vectors) : "null");
    put("steady_period_cycles", r.steady() ? std::to_string(r.period_cycles) : "null");
  } else {
    put("steady_state", r.steady() ? std::to_string(r.period_vectors) + " vectors every " +
                                         std::to_string(r.period_cycles) + " cycles from vector " +
                                         std::to_string(r.steady_from)
                                   : "not reached in " + std::to_string(r.vectors) +
                                         " vectors (vectors_per_cycle is the run's average)");
  }
  put("vectors", std::to_string(r.vectors));
  put("total_cycles", std::to_string(r.total_cycles));
  put("run_vectors_per_cycle", num(r.run_vectors_per_cycle(), 6));
  put("producer_stall_cycles", std::to_string(r.producer_stall_cycles));
  put("consumer_wait_cycles", std::to_string(r.consumer_wait_cycles));
  put("max_occupancy_vectors", std::to_string(r.max_occupancy));
  put("mean_occupancy_vectors", num(r.mean_occupancy(), 4));
  put("bytes_per_vector", num(spec.bytes_per_vector(), 3));
  put("bytes_per_cycle", num(r.vectors_per_cycle() * spec.bytes_per_vector(), 3));
  put("simulated_vectors", std::to_string(r.simulated_vectors));
  put("host_seconds", num(host_s, 3));
  put("simulated_vectors_per_host_second",
      num(host_s > 0 ? double(r.simulated_vectors) / host_s : 0, 0));
  if (json) {
    put("capacity_vectors", std::to_string(spec.capacity_vectors));
    put("latency_cycles", std::to_string(spec.latency_cycles));
    put("credit_latency_cycles", std::to_string(spec.credit_latency_cycles));
    put("consumer_interval_cycles", std::to_string(opt.consumer_interval_cycles));
    std::cout << "{";
    for (std::size_t i = 0; i < kv.size(); ++i)
      std::cout << (i ? ",\n  \"" : "\n  \"") << kv[i].first << "\": " << kv[i].second;
    std::cout << "\n}\n";
  } else {
    for (const auto& [k, v] : kv)
      std::cout << k << ": " << v << "\n";
  }
  return 0;
}

const char* kMapUsage =
    "map SYSTEM.yaml (--model M.yaml | --checkpoint F.bin) --workload W.yaml [--quant Q]\n"
    "       [--layer L] [--step S] [--unit NAME] [--nodes]";

// A table whose first `text` columns hold names and the others numbers.
Table columns(const std::vector<std::string>& names, std::size_t text = 1) {
  Table t;
  for (std::size_t i = 0; i < names.size(); ++i)
    t.add_column(names[i], i >= text);
  return t;
}

int cmd_rdu_map(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("system", po::value<std::string>()->required(), "system file")(
      "model", po::value<std::string>(), "model config file")(
      "checkpoint", po::value<std::string>(), "llama2.c checkpoint instead of a model file")(
      "quant", po::value<std::string>(), "quantization scheme overriding the model's")(
      "workload", po::value<std::string>()->required(), "workload config file")(
      "layer", po::value<int>()->default_value(0), "decoder layer to compile")(
      "step", po::value<int>()->default_value(0), "pass of the workload (as qaccel ops --step)")(
      "unit", po::value<std::string>(), "the RDU unit (default: the system's only rdu unit)")(
      "nodes", "also list every node of the unit's sections: tile, busy cycles, vectors");
  po::positional_options_description pos;
  pos.add("system", 1);
  po::variables_map vm;
  if (!parse("rdu map", kMapUsage,
             "Compiles one decoder layer of one pass for the system's RDU unit, both as one\n"
             "fused section (when it fits) and as one section per op, and prints what each\n"
             "costs (the same compiler the unit uses in a run), then each section of the\n"
             "unit's own fusion setting and the memory tier of every weight and KV tensor.",
             opts, &pos, args, vm))
    return 0;
  const std::string usage = std::string("usage: qaccel rdu ") + kMapUsage + "\n";
  const config::SystemSpec sys = config::load_system(vm["system"].as<std::string>());
  const config::UnitEntry* unit = nullptr;
  for (const config::UnitEntry& u : sys.units)
    if (u.impl == "rdu" && (!vm.count("unit") || u.name == vm["unit"].as<std::string>())) {
      if (unit && !vm.count("unit"))
        throw UsageError("the system has several rdu units: choose one with --unit", usage);
      unit = &u;
    }
  if (!unit)
    throw ConfigError(sys.file.string() + ": no unit with impl: rdu" +
                      (vm.count("unit") ? " named '" + vm["unit"].as<std::string>() + "'" : ""));
  YAML::Node node = YAML::Clone(unit->params);
  node.remove("impl");
  rdu::RduSpec s = rdu::load_spec(node, sys.file, "system.units." + unit->name);
  s.take_from_system(sys.dram.peak_bytes_per_cycle(), sys.clock_ghz);

  const ModelSpec m = model_from_options(vm, usage);
  const WorkloadSpec w = config::load_workload(vm["workload"].as<std::string>());
  if (auto problems = w.problems(m); !problems.empty())
    throw ConfigError(vm["workload"].as<std::string>() + ": " + problems[0]);
  const int layer = vm["layer"].as<int>(), step = vm["step"].as<int>();
  if (layer < 0 || layer >= m.n_layers)
    throw UsageError("--layer must be in [0, " + std::to_string(m.n_layers - 1) + "]", usage);
  if (step < 0 || step >= w.passes())
    throw UsageError("--step must be in [0, " + std::to_string(w.passes() - 1) + "]", usage);
  const std::vector<Op> ops = lower_forward(m, w, step);
  rdu::LayerShape shape = rdu::layer_shape(m, w);
  shape.tokens = w.pass_tokens(step) * w.batch;
  const rdu::Dfg g = rdu::lower_layer(rdu::layer_ops(ops, layer), shape, s);
  const std::vector<TensorRef> resident = rdu::resident_tensors(ops);
  const rdu::Mapping fused = rdu::map_layer(g, s, rdu::Fusion::layer, resident);
  const rdu::Mapping per_op = rdu::map_layer(g, s, rdu::Fusion::op, resident);

  std::cout << "rdu map: unit '" << unit->name << "' of " << sys.name << " (" << s.rows << " x "
            << s.cols << " tiles: " << s.pcus() << " PCUs, " << s.pmus() << " PMUs, " << s.agcus
            << " AGCUs), model " << m.name << ", workload " << w.name << ", layer " << layer
            << ", pass " << step << "\n";
  std::cout << "graph: " << g.nodes.size() << " nodes (" << g.count(rdu::TileKind::pcu) << " PCU, "
            << g.count(rdu::TileKind::pmu) << " PMU, " << g.count(rdu::TileKind::agcu) << " AGCU), "
            << g.edges.size() << " streams\n\n";
  Table t = columns({"mapping", "sections", "cycles", "reconfig_cycles", "total_cycles", "pcus",
                     "pmus", "agcus", "max_hops", "mean_hops", "max_link_load", "spill_bytes"});
  for (const rdu::Mapping* mp : {&fused, &per_op})
    t.add_row({mp == &fused ? "layer (fused)" : "op (one per op)",
               std::to_string(mp->sections.size()), std::to_string(mp->compute_cycles),
               std::to_string(mp->reconfig_cycles), std::to_string(mp->total_cycles),
               std::to_string(mp->pcus_used), std::to_string(mp->pmus_used),
               std::to_string(mp->agcus_used), std::to_string(mp->max_hops),
               fixed(mp->mean_hops, 2), fixed(mp->max_link_load, 3),
               std::to_string(mp->intermediate_offchip_bytes)});
  t.render(std::cout, TableFormat::table);
  const rdu::Mapping& chosen = s.fusion == rdu::Fusion::layer ? fused : per_op;
  std::cout << "\nsections of the unit's mapping (fusion: " << rdu::to_string(s.fusion) << ")\n";
  // Each section also simulated tile by tile (fabric.hpp), as the RDU unit times it: "-" where
  // it moves more than simulate_max_vectors vectors and the unit takes the estimate.
  Table st =
      columns({"section", "nodes", "pcus", "pmus", "agcus", "vectors", "cycles", "simulated_cycles",
               "bound_cycles", "stage_buffer_bytes", "max_hops", "spill_w_bytes", "spill_r_bytes"});
  for (std::size_t i = 0; i < chosen.sections.size(); ++i) {
    const rdu::Section& sec = chosen.sections[i];
    std::string sim = "-", stage = "-";
    if (rdu::simulated(sec, s)) {
      const rdu::FabricResult f = rdu::simulate_section(sec, s, rdu::FabricEngine::plain);
      sim = std::to_string(f.cycles), stage = std::to_string(f.stage_buffer_bytes);
    }
    st.add_row({std::to_string(i), std::to_string(sec.graph.nodes.size()),
                std::to_string(sec.used(rdu::TileKind::pcu)),
                std::to_string(sec.used(rdu::TileKind::pmu)),
                std::to_string(sec.used(rdu::TileKind::agcu)), std::to_string(sec.vectors()),
                std::to_string(sec.cycles), sim, std::to_string(sec.bound_cycles), stage,
                std::to_string(sec.max_hops()), std::to_string(sec.spill_write_bytes),
                std::to_string(sec.spill_read_bytes)});
  }
  st.render(std::cout, TableFormat::table);
  if (vm.count("nodes")) {
    std::cout << "\nnodes of the unit's sections\n";
    Table nt = columns({"section", "node", "kind", "tile", "busy_cycles", "latency_cycles",
                        "vectors_in", "vectors_out"},
                       4);
    for (std::size_t i = 0; i < chosen.sections.size(); ++i) {
      const rdu::Section& sec = chosen.sections[i];
      for (std::size_t v = 0; v < sec.graph.nodes.size(); ++v) {
        const rdu::Node& n = sec.graph.nodes[v];
        nt.add_row({std::to_string(i), n.name, rdu::to_string(n.kind),
                    std::string(rdu::to_string(n.tile)) + "(" + std::to_string(sec.tile[v].row) +
                        "," + std::to_string(sec.tile[v].col) + ")",
                    std::to_string(n.busy_cycles), std::to_string(n.latency_cycles),
                    std::to_string(n.vectors_in), std::to_string(n.vectors_out)});
      }
    }
    nt.render(std::cout, TableFormat::table);
  }
  std::cout << "\ntiers of layer " << layer << "'s weights and KV cache\n";
  Table tt = columns({"tensor", "kind", "tier", "bytes"}, 3);
  for (const rdu::TensorPlacement& tp : chosen.tensors)
    if (tp.name.rfind("W.L" + std::to_string(layer) + ".", 0) == 0 ||
        tp.name == "KV.L" + std::to_string(layer))
      tt.add_row({tp.name, std::string(to_string(tp.kind)), rdu::to_string(tp.tier),
                  std::to_string(tp.bytes)});
  tt.render(std::cout, TableFormat::table);
  return 0;
}

const Sub kSubs[] = {
    {"map", "compile one decoder layer: fused vs per-op sections, tiles, hops, tiers", cmd_rdu_map},
    {"link", "one link: sustained rate, stalls and occupancy for a capacity and latencies",
     cmd_rdu_link},
};

std::string rdu_usage() {
  std::string u = std::string("usage: qaccel rdu ") + kUsage +
                  "\n\nTools of the dataflow RDU fabric (Plasticine / SN40L style).\n\n"
                  "subcommands:\n";
  for (const Sub& s : kSubs)
    u += "  " + std::string(s.name) + std::string(8 - std::strlen(s.name), ' ') + s.summary + "\n";
  return u;
}

}  // namespace

int cmd_rdu(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("give a subcommand", rdu_usage());
  const std::string& name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    std::cout << rdu_usage();
    return 0;
  }
  std::vector<std::string> names;
  for (const Sub& s : kSubs) {
    names.push_back(s.name);
    if (name == s.name) return s.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  const std::string hint = nearest(name, names);
  throw UsageError(
      "unknown subcommand '" + name + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"),
      rdu_usage());
}

}  // namespace qaccel::cli
