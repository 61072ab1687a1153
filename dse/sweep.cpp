#include "dse/sweep.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "qaccel/version.hpp"
#include "sim/base/error.hpp"
#include "sim/base/text.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/functional.hpp"
#include "sim/simulate.hpp"
#include "workloads/rng.hpp"

namespace qaccel::dse {

namespace fs = std::filesystem;
using config::MapReader;

std::optional<double> numeric(const std::string& v) {
  double d = 0;
  if (parse_double(v, d)) return d;
  return std::nullopt;
}

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

fs::path resolve(const fs::path& file, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path : file.parent_path() / path;
}

std::string fmt_number(double v) {
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// A list of files (`models: [a, b]`); each is loaded with `load`.
template <class Spec>
void read_files(MapReader& r, const std::string& key, const fs::path& file,
                std::vector<fs::path>& paths, std::vector<Spec>& specs,
                Spec (*load)(const fs::path&)) {
  YAML::Node n = r.child(key);
  if (!n.IsDefined()) {
    r.error("", "missing required key '" + key + "' (a list of file paths)");
    return;
  }
  if (!n.IsSequence() || n.size() == 0) {
    r.error(key, "expected a non-empty list of file paths, found " + config::describe(n));
    return;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    std::string at = r.path(key + "[" + std::to_string(i) + "]");
    if (!n[i].IsScalar()) {
      r.diag().error(n[i].Mark(), at, "expected a file path, found " + config::describe(n[i]));
      continue;
    }
    fs::path p = resolve(file, n[i].Scalar());
    try {
      specs.push_back(load(p));
      paths.push_back(p);
    } catch (const ConfigError& e) {
      r.diag().error(n[i].Mark(), at, "in the referenced file:\n  " + std::string(e.what()));
    }
  }
}

// Values of one parameter: a list, {from, to, step}, or {from, to, scale: pow2}.
void read_values(MapReader& params, const std::string& path, const YAML::Node& n, ParamSpec& p) {
  const std::string at = params.path(path);
  auto& d = params.diag();
  if (n.IsScalar()) {
    const std::string& v = n.Scalar();
    if (!v.empty() && v[0] == '=')
      p.tied_to = v.substr(1);
    else
      d.error(n.Mark(), at,
              "expected a list of values, a range {from, to, step}, {from, to, scale: pow2} or "
              "'=other.parameter', found '" +
                  v + "'");
    return;
  }
  if (n.IsSequence()) {
    if (n.size() == 0) d.error(n.Mark(), at, "expected at least one value");
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar())
        d.error(n[i].Mark(), at + "[" + std::to_string(i) + "]",
                "expected a scalar value, found " + config::describe(n[i]));
      else
        p.values.push_back(n[i].Scalar());
    }
    return;
  }
  MapReader r(n, at, d);
  if (!r.valid()) return;
  double from = r.number("from", -1e15, 1e15), to = r.number("to", -1e15, 1e15);
  std::string scale = r.choice("scale", {"linear", "pow2"}, "linear");
  if (scale == "pow2") {
    if (!(from > 0) || std::log2(from) != std::floor(std::log2(from)))
      r.error("from", "a pow2 range starts at a power of two, found " + fmt_number(from));
    else
      for (double v = from; v <= to && p.values.size() < 4096; v *= 2)
        p.values.push_back(fmt_number(v));
  } else {
    double step = r.number("step", 1e-12, 1e15);
    if (step > 0 && to >= from && (to - from) / step > 100000)
      r.error("step", "more than 100000 values");
    else if (step > 0)
      for (std::int64_t i = 0; from + double(i) * step <= to + 1e-9 * step; ++i)
        p.values.push_back(fmt_number(from + double(i) * step));
  }
  if (p.values.empty() && d.ok()) r.error("", "the range holds no value (from > to?)");
  r.finish();
}

// The mapping that holds the last key of `path` inside the `system` document, or null.
YAML::Node parent_of(YAML::Node root, const std::string& path, std::string& last) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');)
    parts.push_back(part);
  // Node::reset rebinds; operator= would overwrite the node's content in the tree.
  YAML::Node n;
  n.reset(root["system"]);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node child = n[parts[i]];
    n.reset(child);
  }
  last = parts.empty() ? "" : parts.back();
  return n.IsMap() && !last.empty() ? n : YAML::Node(YAML::NodeType::Undefined);
}

std::uint64_t fnv1a(const std::string& s, std::uint64_t h) {
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string emit(const YAML::Node& n) {
  YAML::Emitter em;
  em << n;
  return em.c_str();
}

// `functional: true | false | [model names]`: which models' runs are checked against the
// reference. A functional run holds the model's float32 weights: refuse what cannot fit.
void read_functional(MapReader& r, SweepSpec& s) {
  YAML::Node n = r.child("functional");
  if (!n.IsDefined()) return;
  if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string name = n[i].IsScalar() ? n[i].Scalar() : "";
      const bool known = std::any_of(s.models.begin(), s.models.end(),
                                     [&](const ModelSpec& m) { return m.name == name; });
      if (!known) {
        std::vector<std::string> names;
        for (const ModelSpec& m : s.models)
          names.push_back(m.name);
        r.error("functional",
                "'" + name + "' is not a model of this sweep (models: " + join(names, ", ") + ")");
      } else {
        s.functional_models.push_back(name);
      }
    }
  } else if (r.boolean("functional", false)) {
    for (const ModelSpec& m : s.models)
      s.functional_models.push_back(m.name);
  }
  for (const ModelSpec& m : s.models)
    if (s.functional(m))
      for (const WorkloadSpec& w : s.workloads)
        try {
          check_reference_memory(m, kSweepReferenceGib, w.end_position());
        } catch (const ConfigError& e) {
          r.error("functional", e.what());
        }
}

// `designs:`: a list of {name, system, quant?}; each system loaded and validated, each quant
// parsed and checked against every model of the sweep (models are read first).
void read_designs(MapReader& r, SweepSpec& s) {
  auto& d = r.diag();
  YAML::Node n = r.child("designs");
  if (!n.IsSequence() || n.size() == 0) {
    r.error("designs",
            "expected a non-empty list of {name, system, quant}, found " + config::describe(n));
    return;
  }
  std::map<std::string, std::string> seen;  // system text and quant -> design name
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string at = r.path("designs[" + std::to_string(i) + "]");
    MapReader e(n[i], at, d);
    if (!e.valid()) continue;
    DesignSpec x;
    x.name = e.name("name");
    if (!x.name.empty() && std::any_of(s.designs.begin(), s.designs.end(),
                                       [&](const DesignSpec& y) { return y.name == x.name; }))
      e.error("name", "duplicate design name '" + x.name + "'");
    const std::string sys = e.string("system");
    bool ok = !sys.empty();
    if (ok) {
      x.system_file = resolve(s.file, sys);
      try {
        x.system = config::load_yaml_file(x.system_file);
        config::system_from_yaml(x.system, x.system_file);
      } catch (const ConfigError& err) {
        e.error("system", "in the referenced file:\n  " + std::string(err.what()));
        ok = false;
      }
    }
    if (e.child("quant").IsDefined()) {  // child(): `quant` is a known key when absent too
      const std::string q = e.string("quant");
      try {
        x.quant = parse_scheme(q);
      } catch (const ConfigError& err) {
        e.error("quant", err.what());
        ok = false;
      }
      if (x.quant)
        for (std::size_t m = 0; m < s.models.size(); ++m) {
          ModelSpec model = s.models[m];
          model.quant = *x.quant;
          for (const std::string& p : model.problems()) {
            e.error("quant", "scheme '" + q + "' does not fit model '" + model.name + "' (" +
                                 s.model_files[m].string() + "): " + p);
            ok = false;
          }
        }
    }
    e.finish();
    if (x.name.empty()) continue;
    if (ok) {
      const std::string key = emit(x.system) + '\0' + (x.quant ? x.quant->name() : "");
      if (auto [it, fresh] = seen.emplace(key, x.name); !fresh)
        d.error(n[i].Mark(), at,
                "design '" + x.name + "' has the same system and quant as design '" + it->second +
                    "' (it would be the same design point)");
    }
    s.designs.push_back(std::move(x));  // kept when invalid too: `baseline` may name it
  }
}

}  // namespace

SweepSpec load_sweep(const fs::path& file) {
  YAML::Node root = config::load_yaml_file(file);
  config::Diagnostics d(file);
  MapReader top(root, "", d);
  MapReader r = top.map("sweep");
  top.finish();
  SweepSpec s;
  s.file = file;
  s.text = read_text(file);
  if (r.valid()) {
    s.name = r.name("name");
    // A design list replaces the base system, its parameters and the search strategy.
    const bool listed = r.has("designs");
    if (listed)
      for (const char* key : {"base", "parameters", "strategy"})
        if (r.has(key))
          r.child(key), r.error(key, std::string("not with 'designs' (a design list names each "
                                                 "design's system and is run in order); give "
                                                 "either designs or base with parameters"));
    std::string base = listed ? "" : r.string("base");
    if (!base.empty()) {
      s.base_file = resolve(file, base);
      try {
        s.base = config::load_yaml_file(s.base_file);
        config::system_from_yaml(s.base, s.base_file);  // the base itself must be valid
      } catch (const ConfigError& e) {
        r.error("base", "in the referenced file:\n  " + std::string(e.what()));
      }
    }
    read_files<ModelSpec>(r, "models", file, s.model_files, s.models, &config::load_model);
    read_files<WorkloadSpec>(r, "workloads", file, s.workload_files, s.workloads,
                             &config::load_workload);
    for (const auto& m : s.models)
      for (std::size_t i = 0; i < s.workloads.size(); ++i)
        for (const std::string& p : s.workloads[i].problems(m))
          r.error("workloads",
                  "workload '" + s.workloads[i].name + "' on model '" + m.name + "': " + p);

    if (listed) read_designs(r, s);
    read_functional(r, s);
    if (r.has("baseline")) {
      s.baseline = r.name("baseline");
      if (!listed)
        r.error("baseline", "names a design of a 'designs' list; this sweep has none");
      else if (!s.designs.empty() &&
               std::none_of(s.designs.begin(), s.designs.end(),
                            [&](const DesignSpec& x) { return x.name == s.baseline; })) {
        std::vector<std::string> known;
        for (const DesignSpec& x : s.designs)
          known.push_back(x.name);
        r.error("baseline", "'" + s.baseline + "' is not a design of this sweep (designs: " +
                                join(known, ", ") + ")");
      }
    }

    // Parameters.
    MapReader params = listed ? MapReader(YAML::Load("{}"), "parameters", d) : r.map("parameters");
    std::set<std::string> names;
    if (params.valid() && !listed) {
      YAML::Node pn = r.child("parameters");
      for (const auto& kv : pn) {
        ParamSpec p;
        p.path = kv.first.Scalar();
        params.child(p.path);
        read_values(params, p.path, kv.second, p);
        std::string last;
        if (s.base.IsDefined() && !parent_of(YAML::Clone(s.base), p.path, last).IsDefined())
          params.error(p.path, "no such place in the base system (" + s.base_file.string() +
                                   "); a key path names existing mappings, e.g. units.mxu.rows");
        names.insert(p.path);
        s.params.push_back(p);
      }
      if (s.params.empty()) params.error("", "expected at least one parameter");
      // Each value on its own must make a valid system: unknown keys and bad values surface
      // here, at the parameter, rather than in the middle of a sweep.
      if (s.base.IsDefined())
        for (const ParamSpec& p : s.params)
          for (const std::string& v : p.values) {
            YAML::Node doc = YAML::Clone(s.base);
            std::string last;
            YAML::Node parent = parent_of(doc, p.path, last);
            if (!parent.IsDefined()) break;
            parent[last] = v;
            try {
              config::system_from_yaml(doc, s.base_file);
            } catch (const ConfigError& e) {
              std::string msg = e.what();
              auto colon = msg.find(": system.");
              params.error(p.path, "value '" + v + "' does not make a valid system: " +
                                       (colon == std::string::npos ? msg : msg.substr(colon + 2)));
              break;
            }
          }
      for (const ParamSpec& p : s.params)
        if (!p.tied_to.empty()) {
          auto it = std::find_if(s.params.begin(), s.params.end(),
                                 [&](const ParamSpec& q) { return q.path == p.tied_to; });
          if (it == s.params.end() || !it->tied_to.empty())
            params.error(p.path, "tied to '" + p.tied_to +
                                     "', which is not an untied parameter of this sweep");
        }
      params.finish();
    }

    // Constraints.
    YAML::Node cn = r.child("constraints");
    if (cn.IsDefined()) {
      if (!cn.IsSequence())
        r.error("constraints", "expected a list of expressions, found " + config::describe(cn));
      else
        for (std::size_t i = 0; i < cn.size(); ++i) {
          std::string at = r.path("constraints[" + std::to_string(i) + "]");
          try {
            if (!cn[i].IsScalar())
              throw ConfigError("expected an expression such as 'area_mm2 <= 200'");
            Constraint c{Expr::parse(cn[i].Scalar()), false, s.file.string() + ": " + at};
            for (const std::string& n : c.expr.names()) {
              bool metric = std::count(metric_names().begin(), metric_names().end(), n) > 0;
              if (!metric && !names.count(n)) {
                std::vector<std::string> known(names.begin(), names.end());
                known.insert(known.end(), metric_names().begin(), metric_names().end());
                std::string hint = nearest(n, known);
                throw ConfigError(
                    "unknown name '" + n + "' (parameters of this sweep or metrics: " +
                    (hint.empty() ? join(metric_names(), ", ") : "did you mean '" + hint + "'?") +
                    ")");
              }
              c.on_results |= metric;
            }
            s.constraints.push_back(std::move(c));
          } catch (const ConfigError& e) {
            d.error(cn[i].Mark(), at, e.what());
          }
        }
    }

    // Strategy and objectives.
    MapReader st = r.has("strategy") && !listed
                       ? r.map("strategy")
                       : MapReader(YAML::Load("{kind: grid}"), "strategy", d);
    r.child("strategy");
    if (st.valid()) {
      std::string kind = st.choice("kind", {"grid", "random", "nsga2"});
      s.strategy = kind == "random"  ? Strategy::random
                   : kind == "nsga2" ? Strategy::nsga2
                                     : Strategy::grid;
      if (s.strategy == Strategy::random) s.count = int(st.integer("count", 1, 10000000));
      if (s.strategy == Strategy::nsga2) {
        s.population = int(st.integer("population", 4, 10000));  // ranking is quadratic
        s.generations = int(st.integer("generations", 1, 100000));
      }
      if (s.strategy != Strategy::grid)
        s.seed = std::uint64_t(st.integer("seed", 0, std::numeric_limits<long long>::max()));
      st.finish();
    }
    YAML::Node on = r.child("objectives");
    if (on.IsDefined()) {
      MapReader o(on, r.path("objectives"), d);
      if (o.valid())
        for (const auto& kv : on) {
          std::string metric = kv.first.Scalar();
          if (!std::count(metric_names().begin(), metric_names().end(), metric)) {
            std::string hint = nearest(metric, metric_names());
            d.error(kv.first.Mark(), o.path(metric),
                    "unknown metric" + (hint.empty() ? "; known: " + join(metric_names(), ", ")
                                                     : " (did you mean '" + hint + "'?)"));
            o.child(metric);
            continue;
          }
          s.objectives.push_back({metric, o.choice(metric, {"min", "max"}) == "max"});
        }
      o.finish();
    }
    if (s.strategy == Strategy::nsga2) {
      if (s.objectives.size() < 2)
        r.error("objectives", "nsga2 needs at least two objectives (metric: min|max)");
      if (s.models.size() > 1 || s.workloads.size() > 1)
        r.error("strategy", "nsga2 searches one model and one workload; list one of each");
    }
    r.finish();
  }
  d.throw_if_errors();
  return s;
}

bool constraint_holds(const Constraint& c,
                      const std::function<std::optional<double>(const std::string&)>& lookup) {
  try {
    return c.expr.holds(lookup);
  } catch (const ConfigError& e) {
    std::string what = e.what();  // Expr's own errors already quote the constraint
    if (what.rfind("constraint ", 0) != 0) what = "constraint '" + c.expr.text() + "': " + what;
    throw ConfigError((c.where.empty() ? "" : c.where + ": ") + what);
  }
}

bool params_allowed(const SweepSpec& s, const std::vector<std::string>& values) {
  for (const Constraint& c : s.constraints) {
    if (c.on_results) continue;
    bool ok = constraint_holds(c, [&](const std::string& n) -> std::optional<double> {
      for (std::size_t i = 0; i < s.params.size(); ++i)
        if (s.params[i].path == n) {
          auto v = numeric(values[i]);
          if (!v) throw ConfigError("parameter " + n + " = '" + values[i] + "' is not a number");
          return v;
        }
      return std::nullopt;
    });
    if (!ok) return false;
  }
  return true;
}

namespace {

// The resolved system, its validation and the content hash: the system text, the tech table,
// the model and workload files, the quant override (empty: none) and the simulator version.
void finish_point(const SweepSpec& s, DesignPoint& p, const YAML::Node& doc,
                  const fs::path& system_file, const std::string& label, const std::string& quant) {
  p.system_yaml = emit(doc);
  try {
    p.system = config::system_from_yaml(doc, system_file);
  } catch (const ConfigError& e) {
    throw ConfigError(s.file.string() + ": design [" + label + "] is not a valid system:\n" +
                      e.what());
  }
  std::string content = p.system_yaml + '\0' + read_text(p.system.tech_file) + '\0' +
                        read_text(s.model_files[std::size_t(p.model)]) + '\0';
  // Without an override the content is what a base-and-parameters sweep of the same system
  // hashes, so the two share stored results.
  if (!quant.empty()) content += "quant=" + quant + '\0';
  if (s.functional(s.models[std::size_t(p.model)])) content += std::string("functional") + '\0';
  content += read_text(s.workload_files[std::size_t(p.workload)]) + '\0' + kVersion;
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                (unsigned long long)fnv1a(content, 1469598103934665603ULL),
                (unsigned long long)fnv1a(content, 0x84222325cbf29ce4ULL));
  p.hash = hex;
}

}  // namespace

DesignPoint make_point(const SweepSpec& s, std::int64_t index,
                       const std::vector<std::string>& values, int model, int workload) {
  DesignPoint p;
  p.index = index, p.model = model, p.workload = workload;
  YAML::Node doc = YAML::Clone(s.base);
  std::string label;
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    p.params.emplace_back(s.params[i].path, values[i]);
    label += (i ? ", " : "") + s.params[i].path + "=" + values[i];
    std::string last;
    YAML::Node parent = parent_of(doc, s.params[i].path, last);
    QACCEL_ASSERT(parent.IsDefined(), "parameter path not validated: " + s.params[i].path);
    parent[last] = values[i];
  }
  finish_point(s, p, doc, s.base_file, label, "");
  return p;
}

DesignPoint make_design_point(const SweepSpec& s, std::int64_t index, int design, int model,
                              int workload) {
  QACCEL_ASSERT(design >= 0 && std::size_t(design) < s.designs.size(), "design out of range");
  const DesignSpec& x = s.designs[std::size_t(design)];
  DesignPoint p;
  p.index = index, p.model = model, p.workload = workload, p.design = design;
  p.params.emplace_back("design", x.name);
  const std::string quant = x.quant ? x.quant->name() : "";
  if (x.quant) p.params.emplace_back("quant", quant);
  finish_point(s, p, YAML::Clone(x.system), x.system_file, "design=" + x.name, quant);
  return p;
}

ModelSpec point_model(const SweepSpec& s, const DesignPoint& p) {
  ModelSpec m = s.models[std::size_t(p.model)];
  if (p.design >= 0 && s.designs[std::size_t(p.design)].quant)
    m.quant = *s.designs[std::size_t(p.design)].quant;
  return m;
}

namespace {

// a * b, or INT64_MAX when it does not fit.
std::int64_t mul_sat(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::int64_t>::max() : r;
}

std::vector<std::size_t> free_params(const SweepSpec& s) {
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < s.params.size(); ++i)
    if (s.params[i].tied_to.empty()) free.push_back(i);
  return free;
}

// Indexes of the distinct values, first occurrence kept.
std::vector<std::size_t> distinct(const std::vector<std::string>& v) {
  std::vector<std::size_t> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (seen.insert(v[i]).second) out.push_back(i);
  return out;
}

// Indexes of files with distinct contents (the same text makes the same design hash).
std::vector<int> distinct_files(const std::vector<fs::path>& files) {
  std::vector<int> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (seen.insert(read_text(files[i])).second) out.push_back(int(i));
  return out;
}

std::int64_t space_size(const SweepSpec& s) {
  if (!s.designs.empty()) return std::int64_t(s.designs.size());
  std::int64_t n = 1;
  for (std::size_t f : free_params(s))
    n = mul_sat(n, std::int64_t(distinct(s.params[f].values).size()));
  return n;
}

}  // namespace

std::int64_t design_count(const SweepSpec& s) {
  if (s.strategy == Strategy::nsga2)  // at most this many evaluations
    return mul_sat(s.population, std::int64_t(s.generations) + 1);
  std::int64_t combos = space_size(s);
  if (s.strategy == Strategy::random) combos = std::min<std::int64_t>(combos, s.count);
  return mul_sat(mul_sat(combos, std::int64_t(distinct_files(s.model_files).size())),
                 std::int64_t(distinct_files(s.workload_files).size()));
}

DesignStream::DesignStream(const SweepSpec& s, std::int64_t max_designs, int shard, int shards)
    : s_(s), shard_(shard), shards_(shards), rng_(s.seed) {
  QACCEL_ASSERT(s.strategy != Strategy::nsga2, "nsga2 designs come from the search");
  QACCEL_ASSERT(shards >= 1 && shard >= 0 && shard < shards, "bad shard");
  bound_ = design_count(s);
  if (bound_ > max_designs)
    throw ConfigError(
        s.file.string() + ": " +
        (bound_ == std::numeric_limits<std::int64_t>::max() ? std::string("more than 2^63")
                                                            : std::to_string(bound_)) +
        " designs (before constraints), more than --max-designs " + std::to_string(max_designs) +
        "; narrow the ranges, sample with strategy: {kind: random, count: N}, or raise "
        "--max-designs");
  free_ = free_params(s);
  for (std::size_t f : free_)
    choices_.push_back(distinct(s.params[f].values));
  odometer_.assign(free_.size(), 0);
  models_ = distinct_files(s.model_files);
  workloads_ = distinct_files(s.workload_files);
  values_.assign(s.params.size(), "");
  if (s.strategy == Strategy::random) wanted_ = std::min<std::int64_t>(space_size(s), s.count);
}

bool DesignStream::next_combo() {
  auto resolve_ties = [&]() {
    for (std::size_t i = 0; i < s_.params.size(); ++i)
      if (!s_.params[i].tied_to.empty())
        for (std::size_t j = 0; j < s_.params.size(); ++j)
          if (s_.params[j].path == s_.params[i].tied_to) values_[i] = values_[j];
  };
  if (!s_.designs.empty()) {  // a design list: each design once, in order
    if (done_ || stopped()) return false;
    if (started_) ++design_;
    started_ = true;
    if (std::size_t(design_) < s_.designs.size()) return true;
    done_ = true;
    return false;
  }
  if (s_.strategy == Strategy::grid) {
    while (!done_ && !stopped()) {
      if (started_) {  // odometer, last parameter fastest
        bool carry = true;
        for (std::size_t f = free_.size(); carry && f-- > 0;) {
          if (++odometer_[f] < choices_[f].size())
            carry = false;
          else
            odometer_[f] = 0;
        }
        if (carry) {
          done_ = true;
          break;
        }
      }
      started_ = true;
      for (std::size_t f = 0; f < free_.size(); ++f)
        values_[free_[f]] = s_.params[free_[f]].values[choices_[f][odometer_[f]]];
      resolve_ties();
      if (params_allowed(s_, values_)) return true;
    }
    return false;
  }
  // Random: distinct allowed combinations; the draw budget ends a search of a space the
  // constraints mostly exclude, and `wanted_` never exceeds the space, so a tiny space ends.
  const std::int64_t budget = 100 * std::max<std::int64_t>(wanted_, 1);
  while (std::int64_t(seen_.size()) < wanted_ && !stopped()) {
    if (draws_ >= budget) {
      note_ = "random sampling stopped after " + std::to_string(draws_) + " draws with " +
              std::to_string(seen_.size()) + " of " + std::to_string(wanted_) +
              " distinct designs (the constraints allow few of the space)";
      return false;
    }
    ++draws_;
    for (std::size_t f : free_)
      values_[f] = s_.params[f].values[rng_.below(std::uint32_t(s_.params[f].values.size()))];
    resolve_ties();
    if (!params_allowed(s_, values_)) continue;
    std::uint64_t a = 1469598103934665603ULL, b = 0x84222325cbf29ce4ULL;
    for (std::size_t f : free_) {                   // the tied values follow from these
      a = fnv1a(values_[f], a) * 1099511628211ULL;  // the multiply separates the values
      b = fnv1a(values_[f], b) * 1099511628211ULL;
    }
    if (seen_.insert({a, b}).second) return true;
  }
  if (wanted_ < s_.count && !stopped() && note_.empty())
    note_ = "random sampling: count " + std::to_string(s_.count) + " is more than the " +
            std::to_string(wanted_) + " combinations of the parameters; each was drawn once";
  return false;
}

bool DesignStream::next(DesignPoint& p) {
  for (;;) {
    if (stopped()) return false;
    if (!have_combo_ || mw_ == models_.size() * workloads_.size()) {
      if (!next_combo()) return false;
      have_combo_ = true, mw_ = 0;
    }
    int m = models_[mw_ / workloads_.size()], w = workloads_[mw_ % workloads_.size()];
    ++mw_;
    std::int64_t index = index_++;
    if (index % shards_ != shard_) continue;
    p = s_.designs.empty() ? make_point(s_, index, values_, m, w)
                           : make_design_point(s_, index, design_, m, w);
    return true;
  }
}

std::int64_t DesignStream::count_rest() {
  std::int64_t n = 0;
  const std::int64_t per_combo = std::int64_t(models_.size() * workloads_.size());
  if (have_combo_) n += per_combo - std::int64_t(mw_);
  while (next_combo())
    n += per_combo;
  have_combo_ = false, done_ = true;
  return n;
}

std::vector<DesignPoint> enumerate(const SweepSpec& s, std::int64_t max_designs) {
  DesignStream d(s, max_designs);
  std::vector<DesignPoint> out;
  for (DesignPoint p; d.next(p);)
    out.push_back(std::move(p));
  return out;
}

}  // namespace qaccel::dse
