#include "arch/rdu/spec.hpp"

#include "sim/base/error.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel::rdu {

const char* to_string(Fusion f) {
  return f == Fusion::layer ? "layer" : "op";
}

const ParamSet& rdu_params() {
  static const ParamSet params{
      param::integer("rows", 1, 1024, param::required, "tiles", "tile grid rows"),
      param::integer("cols", 2, 1024, param::required, "tiles",
                     "tile grid columns (a PCU/PMU checkerboard; AGCU columns outside)"),
      param::integer("agcus", 1, 2048, 4, "units",
                     "address generation/coalescing units on the west and east edges "
                     "(at most 2 x rows)"),
      param::integer("lanes", 1, 1024, 16, "lanes", "SIMD lanes of a PCU (elements per vector)"),
      param::integer("stages", 1, 64, 6, "stages", "pipeline stages of a PCU (ops per element)"),
      param::integer("pmu_kib", 1, 1 << 20, 256, "KiB", "scratchpad of one PMU"),
      param::integer("banks", 1, 1024, 16, "banks", "banks of a PMU scratchpad"),
      param::integer("addresses_per_cycle", 1, 1024, 1, "vectors/cycle",
                     "vectors a PMU reads per cycle"),
      param::number("link_vectors_per_cycle", 0.001, 1024, 1.0, "vectors/cycle",
                    "bandwidth of one mesh link"),
      param::integer("link_capacity_vectors", 1, 1 << 20, 4, "vectors", "buffer of one mesh link"),
      param::integer("matmul_pcus", 1, 1 << 20, 16, "PCUs",
                     "most PCUs one matmul is spread over (its column blocks fold onto them)"),
      param::integer("matmul_streams", 1, 1024, 2, "AGCUs",
                     "most AGCU streams feeding one matmul's weights or KV cache"),
      param::number("hbm_gib", 0, 1 << 20, 64, "GiB", "HBM tier capacity (0: none)"),
      param::number("ddr_gib", 0, 1 << 24, 1536, "GiB", "DDR tier capacity (0: none)"),
      param::number("ddr_bytes_per_cycle", 0.001, 1e9, 100, "bytes/cycle", "DDR tier bandwidth"),
      param::integer("reconfig_cycles", 0, 1LL << 40, 10000, "cycles",
                     "loading one section's configuration"),
      param::choice("fusion", {"layer", "op"}, "layer",
                    "layer: a decoder layer as one pipelined section when it fits; op: one "
                    "section per op"),
      param::choice("sdpa", {"online", "naive"}, "online",
                    "attention mapping: online (running max and sum, storage independent of "
                    "the sequence) or naive (the scores materialized)"),
      param::integer(
          "sdpa_pipelines", 1, 1 << 16, 8, "pipelines",
          "online attention pipelines (a score, a running-softmax and an accumulator PCU each) an "
          "attention op's query rows share"),
      param::flag("packing", true,
                  "a 32-bit lane carries 32 / bits narrow weight or KV-cache elements (a 4-bit "
                  "weight stream moves 8 per lane); false: one element per lane"),
      param::integer("simulate_max_vectors", 0, 1LL << 40, 16'000'000, "vectors",
                     "sections whose streams carry more vectors are timed by the compiler's "
                     "estimate instead of tile by tile (host time: about 13M vectors/s); 0: "
                     "estimate every section")};
  return params;
}

std::vector<std::pair<std::string, std::string>> problems(const RduSpec& s) {
  std::vector<std::pair<std::string, std::string>> out;
  if (s.agcus > 2 * s.rows)
    out.emplace_back("agcus", std::to_string(s.agcus) +
                                  " AGCUs do not fit the grid: its two edge "
                                  "columns hold 2 x rows = " +
                                  std::to_string(2 * s.rows));
  if (s.hbm_gib <= 0 && s.ddr_gib <= 0)
    out.emplace_back("hbm_gib", "no off-chip tier: hbm_gib and ddr_gib are both 0");
  return out;
}

namespace {

// The values as a spec, before the cross-parameter checks.
RduSpec fill(const ParamValues& v, const std::string& where) {
  RduSpec s;
  s.where = where;
  s.rows = int(v.integer("rows"));
  s.cols = int(v.integer("cols"));
  s.agcus = int(v.integer("agcus"));
  s.lanes = int(v.integer("lanes"));
  s.stages = int(v.integer("stages"));
  s.pmu_kib = int(v.integer("pmu_kib"));
  s.banks = int(v.integer("banks"));
  s.addresses_per_cycle = int(v.integer("addresses_per_cycle"));
  s.link_vectors_per_cycle = v.number("link_vectors_per_cycle");
  s.link_capacity_vectors = int(v.integer("link_capacity_vectors"));
  s.matmul_pcus = int(v.integer("matmul_pcus"));
  s.matmul_streams = int(v.integer("matmul_streams"));
  s.hbm_gib = v.number("hbm_gib");
  s.ddr_gib = v.number("ddr_gib");
  s.ddr_bytes_per_cycle = v.number("ddr_bytes_per_cycle");
  s.reconfig_cycles = v.integer("reconfig_cycles");
  s.fusion = v.choice("fusion") == "layer" ? Fusion::layer : Fusion::op;
  s.sdpa = v.choice("sdpa") == "online" ? SdpaMapping::online : SdpaMapping::naive;
  s.sdpa_pipelines = int(v.integer("sdpa_pipelines"));
  s.simulate_max_vectors = v.integer("simulate_max_vectors");
  s.packing = v.flag("packing");
  return s;
}

}  // namespace

RduSpec from_params(const ParamValues& v, const std::string& where) {
  RduSpec s = fill(v, where);
  auto p = problems(s);
  if (!p.empty()) throw ConfigError(s.key(p[0].first) + ": " + p[0].second);
  return s;
}

RduSpec read_spec(config::MapReader& r) {
  const std::size_t errors_before = r.diag().errors().size();
  const ParamValues v = rdu_params().read(r);
  r.finish();
  std::string path = r.path("");  // "system.units.rdu0." (or "" at the top)
  if (!path.empty()) path.pop_back();
  RduSpec s = fill(v, r.diag().file().string() + ": " + (path.empty() ? "rdu" : path));
  // Cross-checks only over values that passed their own checks.
  if (r.diag().errors().size() == errors_before)
    for (const auto& [key, msg] : problems(s))
      r.error(key, msg);
  return s;
}

RduSpec load_spec(const YAML::Node& node, const std::filesystem::path& file,
                  const std::string& path) {
  config::Diagnostics d(file);
  config::MapReader r(node, path, d);
  if (!r.valid()) d.throw_if_errors();
  RduSpec s = read_spec(r);
  d.throw_if_errors();
  return s;
}

}  // namespace qaccel::rdu
