#pragma once
// The RDU fabric's parsed, immutable description (Plasticine / SambaNova SN40L style).
//
// Models: a grid of `rows` x `cols` tiles in a checkerboard of pattern compute units (PCU:
// `lanes` SIMD lanes x `stages` pipeline stages, a cross-lane reduction tree and one tail stage
// for exp / rsqrt / reciprocal / casts) and pattern memory units (PMU: a `banks`-way banked
// scratchpad of `pmu_kib`, reading `addresses_per_cycle` vectors per cycle). Every tile has a
// switch; the switches form a mesh. Two extra columns, west (column 0) and east (column
// cols + 1), hold the `agcus` address generation / coalescing units that reach the memory tiers:
// on-chip SRAM (the PMUs), HBM and DDR. A mesh link carries `link_vectors_per_cycle` vectors of
// `lanes` elements (at most 32 bits each) and buffers `link_capacity_vectors`.
// Not modelled here: the link's credit protocol and latency (arch/rdu/link.*), the switch
// pipeline, the tiles' timing in SystemC (a later step), energy and area.
//
// The RDU unit (`impl: rdu`) declares its parameters with rdu_params(); from_params() turns the
// values into a spec and checks what one parameter's range cannot (AGCUs fit the edge columns).
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "arch/common/params.hpp"

namespace qaccel {
namespace config {
class MapReader;
}

namespace rdu {

enum class Fusion { layer, op };
const char* to_string(Fusion f);
// How attention is laid out (arch/rdu/attention.hpp): online softmax (streaming) or the
// scores materialized.
enum class SdpaMapping { online, naive };

struct RduSpec {
  int rows = 4, cols = 4;  // PCU/PMU grid (checkerboard), AGCU columns outside it
  int agcus = 4;           // on the west and east edge columns, at most 2 x rows
  int lanes = 16, stages = 6;
  int pmu_kib = 256, banks = 16, addresses_per_cycle = 1;
  double link_vectors_per_cycle = 1.0;  // a mesh link's bandwidth (reconciled with LinkSpec later)
  int link_capacity_vectors = 4;        // a link's buffer (for the link model; unused here)
  int matmul_pcus = 16;                 // most PCUs one GEMM op is spread over
  int matmul_streams = 2;               // most AGCU streams feeding one GEMM op's memory operand
  // The HBM tier is the system's memory (its bandwidth, in the system's clock, comes from
  // system.memory: one source of truth); the DDR tier is the fabric's own.
  double hbm_gib = 64, hbm_bytes_per_cycle = 1000;
  double ddr_gib = 1536, ddr_bytes_per_cycle = 100;
  std::int64_t reconfig_cycles = 10000;  // paid by every section (loading its configuration)
  Fusion fusion = Fusion::layer;
  SdpaMapping sdpa = SdpaMapping::online;
  int sdpa_pipelines = 8;  // attention pipelines an attention op's heads share
  bool packing = true;     // narrow weight / KV elements share a 32-bit lane
  // Sections whose streams carry more vectors are timed by the compiler's estimate, not by the
  // fabric simulation (fabric.hpp), to bound host time.
  std::int64_t simulate_max_vectors = 16'000'000;
  double clock_ghz = 1.6;  // the system's clock (system.clock_ghz)
  // Where the spec came from, for messages: "file: system.units.rdu0" (or a key path).
  std::string where = "rdu";

  int pcus() const { return (rows * cols + 1) / 2; }
  int pmus() const { return rows * cols / 2; }
  std::int64_t pmu_bytes() const { return std::int64_t(pmu_kib) * 1024; }
  std::int64_t sram_bytes() const { return pmu_bytes() * pmus(); }
  std::int64_t hbm_bytes() const { return std::int64_t(hbm_gib * double(1LL << 30)); }
  std::int64_t ddr_bytes() const { return std::int64_t(ddr_gib * double(1LL << 30)); }
  // The values the system owns (one source of truth): the HBM tier is the system's memory,
  // the clock the system's.
  void take_from_system(double memory_bytes_per_cycle, double system_clock_ghz) {
    hbm_bytes_per_cycle = memory_bytes_per_cycle, clock_ghz = system_clock_ghz;
  }
  // "where.key", for errors naming a parameter.
  std::string key(const std::string& k) const { return where + "." + k; }
};

// The parameter declarations of `impl: rdu` (keys, ranges, defaults, units, descriptions).
const ParamSet& rdu_params();

// Problems no single range catches, each as (key, message); empty when the spec is valid.
std::vector<std::pair<std::string, std::string>> problems(const RduSpec& s);

// A spec from declared values already range-checked; throws ConfigError "where.key: message"
// for the first cross-parameter problem. `where` names the unit ("system.units.rdu0").
RduSpec from_params(const ParamValues& v, const std::string& where);

// Reads the keys of `r` (every one validated; unknown keys rejected); errors, with file, line,
// column and key path, go to r's diagnostics.
RduSpec read_spec(config::MapReader& r);
// The mapping `node` at key path `path` of `file`: throws ConfigError listing every error.
RduSpec load_spec(const YAML::Node& node, const std::filesystem::path& file,
                  const std::string& path);

}  // namespace rdu
}  // namespace qaccel
