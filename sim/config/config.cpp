#include "sim/config/config.hpp"

#include <cmath>

#include "arch/dram/address_map.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "sim/base/error.hpp"
#include "sim/base/files.hpp"
#include "sim/base/text.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/report/table.hpp"
#include "sim/system.hpp"

namespace qaccel::config {

namespace {

constexpr long long kMaxDim = 1 << 20;
// Keeps a layer's MAC, FLOP and byte counts far inside 64 bits.
constexpr double kMaxLayerMacs = 1e15;
constexpr long long kMaxU63 = std::numeric_limits<long long>::max();
namespace fs = std::filesystem;

fs::path resolve(const fs::path& relative_to_file, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : relative_to_file.parent_path() / path;
}

// The single top-level mapping of a file of the given kind.
MapReader top(const YAML::Node& root, const std::string& kind, Diagnostics& d) {
  MapReader file(root, "", d);
  MapReader r = file.map(kind);
  file.finish();
  return r;
}

void read_quant(MapReader& q, QuantSpec& out) {
  if (!q.valid()) return;
  const std::string w = q.choice("weights", weight_format_names());
  const YAML::Node raw = q.child("weights");
  WeightFormat given{};
  if (!raw.IsDefined() || !raw.IsScalar() || !parse_weight_format(raw.Scalar(), given) ||
      !parse_weight_format(w, out.weights)) {
    // choice() reported the name; the other keys cannot be judged without a format.
    for (const char* k :
         {"group_size", "activation_bits", "activations", "activation_granularity", "kv_bits"})
      q.child(k);
    q.finish();
    return;
  }
  const WeightFormatInfo& f = info(out.weights);
  out.act = default_act(out.weights);
  if (f.grouped) {
    YAML::Node g = q.child("group_size");
    if (!g.IsDefined()) {
      q.error("",
              "missing required key 'group_size' (32, 64, 128 or per_channel) for weights: " + w);
    } else if (g.IsScalar() && g.Scalar() == "per_channel") {
      out.group_size = 0;
    } else {
      long long v = 0;
      if (!g.IsScalar() || !parse_int64(g.Scalar(), v) || (v != 32 && v != 64 && v != 128))
        q.error("group_size", "found " + describe(g) + ", expected 32, 64, 128 or per_channel");
      out.group_size = int(v);
    }
  } else if (q.has("group_size") && out.quantized()) {
    q.child("group_size");
    q.error("group_size", f.fixed_group ? w + " has a fixed block of " +
                                              std::to_string(f.fixed_group) + " elements"
                                        : "does not apply to weights: " + w);
  }
  if (out.quantized()) {
    if (q.has("activation_bits") && q.has("activations")) {
      q.child("activations");
      q.error("activations", "give either activations or activation_bits, not both");
    }
    if (q.has("activation_bits")) {  // the older spelling: integer inputs of 8 or 16 bits
      const int bits = int(q.integer("activation_bits", 8, 16, 8));
      if (bits != 8 && bits != 16)
        q.error("activation_bits", "expected 8 or 16, found " + std::to_string(bits));
      out.act = bits == 16 ? ActFormat::int16 : ActFormat::int8;
    } else if (q.has("activations")) {
      parse_act_format(q.choice("activations", act_format_names()), out.act);
    }
    const bool scaled =
        out.act_integer() || out.act == ActFormat::fp8e4m3 || out.act == ActFormat::fp8e5m2;
    if (q.has("activation_granularity") && !scaled) {
      q.child("activation_granularity");
      q.error("activation_granularity", "applies to scaled activations (int8, int16, fp8), not " +
                                            std::string(to_string(out.act)));
    }
    out.act_granularity = q.choice("activation_granularity", {"token", "group"}, "token") == "group"
                              ? ActGranularity::group
                              : ActGranularity::token;
  } else {
    for (const char* k : {"group_size", "activation_bits", "activations", "activation_granularity"})
      if (q.has(k)) q.child(k), q.error(k, "does not apply to float32 weights (weights: fp32)");
  }
  out.kv_bits = int(q.integer("kv_bits", 4, 32, out.quantized() ? 16 : 32));
  if (out.kv_bits != 4 && out.kv_bits != 8 && out.kv_bits != 16 && out.kv_bits != 32)
    q.error("kv_bits", "expected 4, 8, 16 or 32, found " + std::to_string(out.kv_bits));
  q.finish();
}

void read_model(MapReader& r, const fs::path& file, ModelSpec& m) {
  if (!r.valid()) return;
  m.name = r.name("name");
  m.dim = int(r.integer("dim", 2, kMaxDim));
  m.hidden_dim = int(r.integer("hidden_dim", 1, kMaxDim));
  m.n_layers = int(r.integer("n_layers", 1, 4096));
  m.n_heads = int(r.integer("n_heads", 1, 4096));
  m.n_kv_heads = int(r.integer("n_kv_heads", 1, 4096, m.n_heads));
  m.vocab_size = int(r.integer("vocab_size", 1, kMaxDim));
  m.seq_len = int(r.integer("seq_len", 1, kMaxDim));
  m.shared_classifier = r.boolean("shared_classifier", true);
  m.norm_eps = float(r.number("norm_eps", 1e-12, 1.0, 1e-5));
  m.rope_theta = float(r.number("rope_theta", 2.0, 1e9, 10000.0));
  if (r.has("quant")) {
    MapReader q = r.map("quant");
    read_quant(q, m.quant);
  } else {
    r.child("quant");
  }
  if (r.has("weights")) {
    MapReader w = r.map("weights");
    if (w.valid()) {
      std::string src = w.choice("source", {"synthetic", "checkpoint"});
      if (src == "checkpoint") {
        m.weights.kind = WeightSource::Kind::checkpoint;
        std::string p = w.string("path");
        if (!p.empty()) m.weights.path = resolve(file, p);
      } else {
        m.weights.kind = WeightSource::Kind::synthetic;
        m.weights.seed = std::uint64_t(w.integer("seed", 0, kMaxU63, 1));
      }
      w.finish();
    }
  } else {
    r.child("weights");
    m.weights.seed = 1;
  }
  r.finish();
  // Structural checks once every field parsed cleanly.
  if (r.diag().ok())
    for (const std::string& p : m.problems()) {
      auto colon = p.find(": ");
      r.diag().error(r.mark(), r.path(p.substr(0, colon)), p.substr(colon + 2));
    }
}

void read_workload(MapReader& r, WorkloadSpec& w) {
  if (!r.valid()) return;
  w.name = r.name("name");
  w.phase = r.choice("phase", {"prefill", "decode"}) == "prefill" ? Phase::prefill : Phase::decode;
  w.batch = int(r.integer("batch", 1, 1 << 16, 1));
  auto only = [&](const char* key, const char* phase) {
    if (r.has(key)) r.child(key), r.error(key, std::string("applies only to phase: ") + phase);
  };
  if (w.phase == Phase::prefill) {
    w.prompt_len = int(r.integer("prompt_len", 1, kMaxDim));
    // Tokens generated after the prompt (a whole request); 0: the prompt alone.
    w.generated_tokens = int(r.integer("generated_tokens", 0, kMaxDim, 0));
    w.logits =
        r.choice("logits", {"last", "all"}, "last") == "all" ? LogitsFor::all : LogitsFor::last;
    only("context_len", "decode");
  } else {
    w.context_len = int(r.integer("context_len", 1, kMaxDim));
    w.generated_tokens = int(r.integer("generated_tokens", 1, kMaxDim, 1));
    only("prompt_len", "prefill");
    only("logits", "prefill");
  }
  YAML::Node toks = r.child("prompt_tokens");
  if (toks.IsDefined()) {
    if (!toks.IsSequence()) {
      r.error("prompt_tokens", "expected a list of token ids, found " + describe(toks));
    } else {
      for (std::size_t i = 0; i < toks.size(); ++i) {
        long long v = 0;
        if (!toks[i].IsScalar() || !parse_int64(toks[i].Scalar(), v) || v < 0 || v > kMaxDim) {
          r.diag().error(toks[i].Mark(), r.path("prompt_tokens[" + std::to_string(i) + "]"),
                         "expected a token id (integer >= 0), found " + describe(toks[i]));
          break;
        }
        w.prompt_tokens.push_back(int(v));
      }
    }
  }
  w.prompt_seed = std::uint64_t(r.integer("prompt_seed", 0, kMaxU63, 1));
  r.finish();
}

void read_system(MapReader& r, const fs::path& file, SystemSpec& s) {
  if (!r.valid()) return;
  s.file = file;
  s.name = r.name("name");
  s.clock_ghz = r.number("clock_ghz", 0.001, 100.0);
  std::string tech = r.string("tech");
  if (!tech.empty()) {
    s.tech_file = resolve(file, tech);
    try {
      s.tech = load_tech(s.tech_file);
    } catch (const ConfigError& e) {
      r.error("tech", "in the referenced file:\n  " + std::string(e.what()));
    }
  }
  MapReader mem = r.map("memory");
  if (mem.valid()) {
    std::vector<std::string> kinds;
    for (const auto& [k, v] : s.tech.dram_pj_per_byte)
      kinds.push_back(k);
    s.dram.kind = kinds.empty() ? mem.string("kind") : mem.choice("kind", kinds);
    std::vector<std::string> models;
    for (const auto& [k, v] : memory_registry())
      models.push_back(k);
    s.dram.model = mem.choice("model", models, "simple");
    s.dram.clock_ghz = s.clock_ghz;
    if (s.dram.model == "dram") {
      // The DRAM file gives channels, bandwidth and latency; the simple model's keys would
      // be a second source of truth.
      for (const char* k : {"channels", "bytes_per_cycle_per_channel", "latency_cycles"})
        if (mem.has(k))
          mem.error(k, "not used with model: dram (the DRAM file in memory.dram sets it)");
      YAML::Node dn = mem.child("dram");
      if (!dn.IsDefined()) {
        mem.error("", "missing required key 'dram' (a DRAM file, or {preset: NAME, ...} inline)");
      } else {
        try {
          auto cfg = std::make_shared<dram::DramConfig>(
              dn.IsScalar() ? dram::load_dram(resolve(file, dn.Scalar()))
                            : dram::read_dram(dn, file, mem.path("dram")));
          dram::AddressMap check_mapping(cfg->mapping, cfg->org);
          const double bpc = cfg->peak_gbps() / std::max(s.clock_ghz, 1e-9);
          s.dram.channels = cfg->org.channels * cfg->org.pseudo_channels;
          s.dram.bytes_per_cycle_per_channel = bpc / s.dram.channels;
          // Nominal access latency (a row miss), for planning only: the engine times requests.
          s.dram.latency_cycles =
              std::int64_t(std::ceil(double(cfg->timing.nRCD + cfg->timing.nCL + cfg->timing.nBL) *
                                     cfg->tck_ns() * s.clock_ghz));
          s.dram.dram = cfg;
        } catch (const ConfigError& e) {
          mem.error("dram",
                    (dn.IsScalar() ? "in the referenced file:\n  " : "") + std::string(e.what()));
        }
      }
    } else {
      if (mem.has("dram")) mem.error("dram", "only used with model: dram");
      s.dram.channels = int(mem.integer("channels", 1, 1024));
      s.dram.bytes_per_cycle_per_channel = mem.number("bytes_per_cycle_per_channel", 1e-3, 1e6);
      s.dram.latency_cycles = mem.integer("latency_cycles", 0, 1 << 20, 100);
    }
    s.dram.arbitration = mem.choice("arbitration", {"fcfs", "round_robin"}, "fcfs") == "fcfs"
                             ? Arbitration::fcfs
                             : Arbitration::round_robin;
    if (s.dram.model == "dram" && s.dram.arbitration != Arbitration::fcfs)
      mem.error("arbitration",
                "the command-level DRAM serves transactions fcfs (its "
                "controllers schedule the DRAM requests)");
    s.dram.burst_bytes = mem.integer("burst_bytes", 1, 1 << 30, 4096);
    mem.finish();
  }
  s.schedule = r.choice("schedule", {"overlap", "serial"}, "overlap") == "serial"
                   ? Schedule::serial
                   : Schedule::overlap;
  s.prefetch = r.choice("prefetch", {"none", "next_op"}, "none") == "next_op" ? Prefetch::next_op
                                                                              : Prefetch::none;
  s.attention = r.choice("attention", {"per_layer", "per_head"}, "per_layer") == "per_head"
                    ? AttentionOps::per_head
                    : AttentionOps::per_layer;
  s.global_buffer_kib = r.integer("global_buffer_kib", 0, 1 << 24, 1024);
  YAML::Node units = r.child("units");
  std::vector<std::string> impls;
  for (const auto& [k, v] : unit_registry())
    impls.push_back(k);
  if (!units.IsDefined()) {
    r.error("", "missing required key 'units' (a mapping of unit name -> {impl: ..., parameters})");
  } else if (!units.IsMap() || units.size() == 0) {
    r.error("units",
            "expected a non-empty mapping of unit name -> {impl: ..., parameters}, found " +
                describe(units));
  } else {
    for (const auto& kv : units) {
      std::string name = kv.first.Scalar();
      MapReader u(kv.second, r.path("units." + name), r.diag());
      if (!u.valid()) continue;
      std::string impl = u.choice("impl", impls);
      s.units.push_back({name, impl, kv.second});
    }
  }
  MapReader map = r.map("mapping");
  if (map.valid()) {
    std::vector<std::string> unit_names, keys = op_kind_names();
    for (const auto& u : s.units)
      unit_names.push_back(u.name);
    keys.push_back("default");
    for (const std::string& k : keys) {
      if (!map.has(k)) continue;
      std::string target = unit_names.empty() ? map.string(k) : map.choice(k, unit_names);
      s.mapping[k] = target;
    }
    if (!map.has("default"))
      map.error("", "missing required key 'default' (the unit for op kinds not listed)");
    if (map.choice("policy", {"kind", "intensity"}, "kind") == "intensity") {
      s.intensity_policy = true;
      s.intensity_threshold = map.number("threshold_flops_per_byte", 0.0, 1e9);
      s.intensity_low_unit = unit_names.empty() ? map.string("low_intensity")
                                                : map.choice("low_intensity", unit_names);
    } else {
      for (const char* k : {"threshold_flops_per_byte", "low_intensity"})
        if (map.has(k)) map.error(k, "only used with policy: intensity");
    }
    map.finish();
  }
  r.finish();
}

// A job's model/workload: a path to a file of that kind, or the spec inline.
template <class Spec, class ReadFn>
Spec sub_spec(MapReader& job, const std::string& key, const fs::path& file, Diagnostics& d,
              Spec (*load)(const fs::path&), ReadFn read_inline) {
  Spec s{};
  YAML::Node n = job.child(key);
  if (!n.IsDefined()) {
    job.error("", "missing required key '" + key + "' (a path to a " + key + " file, or the " +
                      key + " inline)");
  } else if (n.IsScalar()) {
    try {
      s = load(resolve(file, n.Scalar()));
    } catch (const ConfigError& e) {
      d.error(n.Mark(), job.path(key), "in the referenced file:\n  " + std::string(e.what()));
    }
  } else {
    MapReader r(n, job.path(key), d);
    read_inline(r, s);
  }
  return s;
}

// Loads a file whose single top-level key is `kind`, filling a Spec with `read`.
template <class Spec, class ReadFn>
Spec load_kind(const fs::path& file, const char* kind, ReadFn read) {
  YAML::Node root = load_yaml_file(file);
  Diagnostics d(file);
  MapReader r = top(root, kind, d);
  Spec s{};
  read(r, s);
  d.throw_if_errors();
  return s;
}

}  // namespace

ModelSpec load_model(const fs::path& file) {
  return load_kind<ModelSpec>(file, "model",
                              [&](MapReader& r, ModelSpec& m) { read_model(r, file, m); });
}

WorkloadSpec load_workload(const fs::path& file) {
  return load_kind<WorkloadSpec>(file, "workload", read_workload);
}

SystemSpec system_from_yaml(const YAML::Node& root, const fs::path& file) {
  Diagnostics d(file);
  MapReader r = top(root, "system", d);
  SystemSpec s;
  read_system(r, file, s);
  d.throw_if_errors();
  YAML::Emitter em;
  em << root;
  s.yaml = em.c_str();
  // Build the units once against scratch resources so their parameters are checked now.
  StatsRegistry stats;
  UnitContext ctx{s.tech, 0.0, stats, 0, &s.dram, s.clock_ghz};
  build_units(s, ctx);
  return s;
}

SystemSpec load_system(const fs::path& file) {
  return system_from_yaml(load_yaml_file(file), file);
}

std::vector<std::unique_ptr<Unit>> build_units(const SystemSpec& s, UnitContext& ctx) {
  Diagnostics d(s.file);
  std::vector<std::unique_ptr<Unit>> out;
  for (const UnitEntry& e : s.units) {
    MapReader r(e.params, "system.units." + e.name, d);
    r.child("impl");
    const UnitInfo& info = unit_registry().at(e.impl);
    const std::size_t errors = d.errors().size();
    ParamValues v = info.params.read(r);
    // A unit is built only from values that passed their declared checks.
    if (d.errors().size() == errors) {
      try {
        out.push_back(info.make(e.name, v, ctx));
      } catch (const ConfigError& err) {
        r.error("", err.what());
      }
    }
    r.finish();
  }
  d.throw_if_errors();
  return out;
}

std::vector<std::string> op_kind_names() {
  std::vector<std::string> out;
  for (int k = 0; k <= int(OpKind::classifier); ++k)
    out.push_back(std::string(to_string(OpKind(k))));
  return out;
}

JobSpec load_job(const fs::path& file) {
  YAML::Node root = load_yaml_file(file);
  Diagnostics d(file);
  MapReader r = top(root, "job", d);
  JobSpec j;
  j.file = file;
  if (r.valid()) {
    if (r.has("system")) {
      j.has_system = true;
      j.system =
          sub_spec<SystemSpec>(r, "system", file, d, &load_system,
                               [&](MapReader& m, SystemSpec& s) { read_system(m, file, s); });
    } else {
      r.child("system");
    }
    j.functional = r.choice("mode", {"functional", "timing"}, "timing") == "functional";
    j.model = sub_spec<ModelSpec>(r, "model", file, d, &load_model,
                                  [&](MapReader& m, ModelSpec& s) { read_model(m, file, s); });
    j.workload =
        sub_spec<WorkloadSpec>(r, "workload", file, d, &load_workload,
                               [&](MapReader& m, WorkloadSpec& s) { read_workload(m, s); });
    r.finish();
    if (d.ok())
      for (const std::string& p : j.workload.problems(j.model))
        r.error("workload", p);
  }
  d.throw_if_errors();
  return j;
}

namespace {

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// A layer's operand format: `int8` (the default: w8a8, one group per row), `fp16` (W16A16),
// or a quantization scheme name (`w4a8-g128`, `w8a16-pc`, ...). Empty `why` when valid.
struct LayerDtype {
  int weight_bits = 8, act_bits = 8, group = 0;
  std::string name = "int8";
  WeightFormat wformat = WeightFormat::int8;
  ActFormat aformat = ActFormat::int8;
};
LayerDtype parse_layer_dtype(const std::string& text, std::string& why) {
  LayerDtype t;
  why.clear();
  if (text.empty() || text == "int8") return t;
  if (text == "fp16") return {16, 16, 0, "fp16", WeightFormat::fp16, ActFormat::fp16};
  try {
    const QuantSpec q = parse_scheme(text);
    if (!q.quantized()) return {32, 32, 0, "fp32", WeightFormat::fp32, ActFormat::int8};
    return {weight_bits(q.weights), q.act_bits(), q.group_for(0), q.name(), q.weights, q.act};
  } catch (const ConfigError& e) {
    why = "dtype '" + text.substr(0, 40) + "': expected int8, fp16 or a scheme like w4a8-g128 (" +
          e.what() + ")";
  }
  return t;
}

Op layer_op(const std::string& name, long long m, long long n, long long k, const LayerDtype& t) {
  Op o = gemm_op(name, m, n, k, t.weight_bits, t.act_bits);
  o.group = t.group;
  o.dtype = t.name;
  o.wformat = t.wformat, o.aformat = t.aformat;
  return o;
}

LayerList load_layers_csv(const fs::path& file) {
  // Whole file up front, size-checked: a FIFO or /dev/zero is refused, not read forever.
  std::istringstream in(read_regular_file(file, 16u << 20, "layer list"));
  LayerList out;
  out.name = file.stem().string();
  std::vector<Op> ops;
  std::vector<std::string> errors;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find('\0') != std::string::npos)
      throw ConfigError(file.string() + ": contains NUL bytes; not a CSV text file");
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (;;) {
      std::size_t c = t.find(',', start);
      f.push_back(trim(t.substr(start, c == std::string::npos ? std::string::npos : c - start)));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (!f.empty() && f.back().empty()) f.pop_back();  // SCALE-Sim lines end with a comma
    long long v[3];
    bool numeric = f.size() == 4 || f.size() == 5;
    for (int i = 0; numeric && i < 3; ++i)
      numeric = parse_int64(f[i + 1], v[i]);
    if (!numeric) {
      if (ops.empty() && errors.empty() && f.size() >= 4 && !f[1].empty() &&
          !std::isdigit((unsigned char)f[1][0]))
        continue;  // header
      errors.push_back(file.string() + ":" + std::to_string(lineno) +
                       ": expected 'layer name, M, N, K[, dtype]' with integer M, N, K, found '" +
                       t.substr(0, 80) + "'");
      continue;
    }
    bool ok = true;
    std::string why;
    const LayerDtype dt = parse_layer_dtype(f.size() == 5 ? f[4] : "", why);
    if (!why.empty()) {
      errors.push_back(file.string() + ":" + std::to_string(lineno) + ": " + why);
      ok = false;
    }
    for (int i = 0; i < 3; ++i)
      if (v[i] < 1 || v[i] > (1LL << 24)) {
        errors.push_back(file.string() + ":" + std::to_string(lineno) + ": " + "MNK"[i] +
                         std::string(" = ") + std::to_string(v[i]) + " is outside [1, 16777216]");
        ok = false;
      }
    if (ok && double(v[0]) * double(v[1]) * double(v[2]) > kMaxLayerMacs) {
      errors.push_back(file.string() + ":" + std::to_string(lineno) +
                       ": M x N x K = " + fixed(double(v[0]) * double(v[1]) * double(v[2]), 0) +
                       " MACs is more than one layer may have (1e15)");
      ok = false;
    }
    if (ok)
      ops.push_back(layer_op(f[0].empty() ? "layer" + std::to_string(ops.size()) : f[0], v[0], v[1],
                             v[2], dt));
  }
  if (ops.empty() && errors.empty()) errors.push_back(file.string() + ": no layers");
  if (!errors.empty()) throw ConfigError(join(errors, "\n"));
  std::vector<std::vector<int>> preds(ops.size());
  for (std::size_t i = 1; i < ops.size(); ++i)
    preds[i] = {int(i) - 1};
  out.graph = build_graph_with_edges(std::move(ops), preds, file.string());
  return out;
}

}  // namespace

LayerList load_layers(const fs::path& file) {
  if (file.extension() == ".csv") return load_layers_csv(file);
  YAML::Node root = load_yaml_file(file);
  Diagnostics d(file);
  MapReader top(root, "", d);
  YAML::Node list = top.child("layers");
  top.finish();
  LayerList out;
  out.name = file.stem().string();
  std::vector<Op> ops;
  std::vector<YAML::Node> afters;  // per op: its `after` node (undefined: the previous layer)
  std::vector<std::string> paths;
  if (!list.IsDefined()) {
    if (top.valid())
      top.error("", "missing required key 'layers' (a list of {gemm: {m, n, k}} entries)");
  } else if (!list.IsSequence() || list.size() == 0) {
    top.error("layers",
              "expected a non-empty list of {gemm: {m, n, k}} entries, found " + describe(list));
  } else {
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string path = "layers[" + std::to_string(i) + "]";
      MapReader e(list[i], path, d);
      MapReader g = e.map("gemm");
      YAML::Node after = e.child("after");
      e.finish();
      if (!g.valid()) continue;
      std::string name = g.string("name", "layer" + std::to_string(i));
      long long m = g.integer("m", 1, 1 << 24), n = g.integer("n", 1, 1 << 24),
                k = g.integer("k", 1, 1 << 24);
      int wb = int(g.integer("weight_bits", 2, 16, 8)), ab = int(g.integer("act_bits", 8, 16, 8));
      LayerDtype dt{wb, ab, 0, "w" + std::to_string(wb) + "a" + std::to_string(ab)};
      if (g.has("dtype")) {
        if (g.has("weight_bits") || g.has("act_bits"))
          g.error("dtype", "give either dtype or weight_bits/act_bits");
        std::string why;
        dt = parse_layer_dtype(g.string("dtype"), why);
        if (!why.empty()) g.error("dtype", why);
      }
      g.finish();
      if (m > 0 && n > 0 && k > 0 && double(m) * double(n) * double(k) > kMaxLayerMacs) {
        g.error("", "m x n x k = " + fixed(double(m) * double(n) * double(k), 0) +
                        " MACs is more than one layer may have (1e15)");
      } else if (m > 0 && n > 0 && k > 0) {
        ops.push_back(layer_op(name, m, n, k, dt));
        afters.push_back(after);
        paths.push_back(path);
      }
    }
  }
  d.throw_if_errors();
  // Dependencies by name.
  std::map<std::string, int> index;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (!index.emplace(ops[i].name, int(i)).second)
      d.error(list[i].Mark(), paths[i] + ".gemm.name",
              "layer name '" + ops[i].name + "' is used twice; `after` needs unique names");
  std::vector<std::vector<int>> preds(ops.size());
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const YAML::Node& a = afters[i];
    if (!a.IsDefined()) {
      if (i > 0) preds[i] = {int(i) - 1};
      continue;
    }
    if (!a.IsSequence()) {
      d.error(a.Mark(), paths[i] + ".after",
              "expected a list of layer names (or [] for none), found " + describe(a));
      continue;
    }
    for (std::size_t j = 0; j < a.size(); ++j) {
      auto it = a[j].IsScalar() ? index.find(a[j].Scalar()) : index.end();
      if (it == index.end() || it->second == int(i)) {
        std::vector<std::string> names;
        for (const auto& [k, v] : index)
          names.push_back(k);
        std::string hint = a[j].IsScalar() ? nearest(a[j].Scalar(), names) : "";
        d.error(a[j].Mark(), paths[i] + ".after[" + std::to_string(j) + "]",
                it == index.end() ? "found " + describe(a[j]) + ", expected the name of a layer" +
                                        (hint.empty() ? "" : " (did you mean '" + hint + "'?)")
                                  : "a layer cannot wait for itself");
        continue;
      }
      preds[i].push_back(it->second);
    }
  }
  d.throw_if_errors();
  std::vector<int> cycle = find_cycle(ops.size(), preds);
  if (!cycle.empty()) {
    // Implicit edges only point back, so some layer on the cycle has an explicit `after`:
    // report the cycle from there.
    auto at = std::find_if(cycle.begin(), cycle.end(),
                           [&](int i) { return afters[std::size_t(i)].IsDefined(); });
    QACCEL_ASSERT(at != cycle.end(), "a cycle of implicit layer edges");
    std::rotate(cycle.begin(), at, cycle.end());
    const std::size_t first = std::size_t(cycle.front());
    std::string names = ops[first].name;
    for (std::size_t k = cycle.size() - 1; k > 0; --k)
      names += " -> " + ops[std::size_t(cycle[k])].name;
    names += " -> " + ops[first].name;
    d.error(afters[first].Mark(), paths[first] + ".after",
            "the layers' dependencies form a cycle (each waits for the next): " + names);
    d.throw_if_errors();
  }
  out.graph = build_graph_with_edges(std::move(ops), preds, file.string());
  return out;
}

const std::vector<std::string>& config_kinds() {
  // `sweep` files are parsed by dse/ (qaccel validate dispatches them there).
  static const std::vector<std::string> kinds = {"model", "workload", "job",   "system",
                                                 "tech",  "layers",   "sweep", "dram"};
  return kinds;
}

std::string detect_kind(const fs::path& file) {
  if (file.extension() == ".csv") return "layers";  // SCALE-Sim GEMM topology
  YAML::Node root = load_yaml_file(file);
  Diagnostics d(file);
  const auto& kinds = config_kinds();
  if (!root.IsMap() || root.size() != 1 || !root.begin()->first.IsScalar()) {
    d.error(root.IsDefined() ? root.Mark() : YAML::Mark::null_mark(), "",
            "expected a mapping with one top-level key naming the file's kind (" +
                join(kinds, ", ") + "), found " +
                (root.IsMap() ? std::to_string(root.size()) + " top-level keys" : describe(root)));
    d.throw_if_errors();
  }
  std::string key = root.begin()->first.Scalar();
  for (const auto& k : kinds)
    if (k == key) return k;
  std::string hint = nearest(key, kinds);
  d.error(root.begin()->first.Mark(), key,
          "unknown kind of config; expected one of " + join(kinds, ", ") +
              (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  d.throw_if_errors();
  return "";
}

void validate_file(const fs::path& file) {
  std::string kind = detect_kind(file);
  if (kind == "model")
    load_model(file);
  else if (kind == "workload")
    load_workload(file);
  else if (kind == "job") {
    // The mapping too: a unit that cannot run an op must fail here, not inside a run.
    JobSpec j = load_job(file);
    if (j.has_system) check_mapping(j.system, j.model, j.workload);
  } else if (kind == "system") {
    check_mapping(load_system(file));
  } else if (kind == "tech")
    load_tech(file);
  else if (kind == "layers")
    load_layers(file);
  else if (kind == "dram")
    dram::load_dram(file);
  else if (kind == "sweep")
    throw ConfigError(file.string() +
                      ": a sweep file; `qaccel validate` checks it through the DSE driver");
  else
    QACCEL_ASSERT(false, "config kind without a loader: " + kind);
}

}  // namespace qaccel::config
