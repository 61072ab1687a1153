#pragma once
// The RDU compiler's back end: sections, placement, routing, memory tiers, fusion.
//
// Models:
// - Sectioning: the layer's DFG, in node (topological) order, is cut greedily into sections:
//   each is the longest run of nodes from where the last one ended whose PCUs, PMUs and AGCUs
//   (its own mem nodes plus the spill streams it needs) fit the grid. `fusion: op` also ends a
//   section at every op boundary (a layer input goes with the op after it, the layer output
//   with the op before it). Sections run one after another
//   and each pays `reconfig_cycles`. An edge cut between sections is spilled: its producer's
//   op writes once through a mem_write AGCU ("spill.w.<op>"), and each later section reading it
//   gets one mem_read AGCU per producer op ("spill.r.<op>"); a cut edge from a mem_read is
//   instead served by a copy of that mem_read in the later section (no spill). A node that does
//   not fit an empty grid with its spill streams is a ConfigError ("cannot be placed even in
//   sections").
// - Placement: greedy in node order, one node per tile: each node takes the free tile of its kind
//   nearest (sum of mesh distances) to its already placed producers, ties and nodes without
//   placed producers taking the first free tile in row-major order (AGCUs: west row 0, east
//   row 0, west row 1, ...). No search, no annealing.
// - Routing: dimension ordered (XY: along the row to the destination column, then along the
//   column) over the switch mesh of rows x (cols + 2) switches, one per tile.
// - Timing (an estimate for the report; the SystemC step will simulate it): a section takes the
//   largest of its dependence chain (a node starts once its streaming producers have filled
//   their pipelines and its blocking producers -- reductions and matmul tiles, which emit
//   nothing before their whole input is in -- have finished; it ends no earlier than start +
//   busy cycles, nor before any producer ends, plus its own latency), each link's vectors /
//   link_vectors_per_cycle and each off-chip tier's bytes / bandwidth. Every stream's rate is
//   its vectors over that time, so no link exceeds its bandwidth.
// - Tiers: weight and KV-cache tensors (of the whole pass, in first-use order) take the first
//   tier with room: SRAM (the PMUs no section uses), then HBM, then DDR. Spills and the layer's
//   input and output activations go to HBM (DDR when there is no HBM).
// Not modelled: overlap between sections, credit back-pressure and link latency (the later
// SystemC step), switch contention beyond link bandwidth, and placement quality beyond greedy.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/rdu/dfg.hpp"
#include "arch/rdu/spec.hpp"
#include "workloads/ops.hpp"

namespace qaccel::rdu {

// A tile or switch position: row 0..rows-1, column 0 (west AGCUs), 1..cols (the PCU/PMU
// checkerboard, PCU where row + column is odd), cols + 1 (east AGCUs).
struct Coord {
  int row = 0, col = 0;
  bool operator==(const Coord&) const = default;
  auto operator<=>(const Coord&) const = default;
};
int distance(Coord a, Coord b);
// The tiles of one kind, in the placer's scan order.
std::vector<Coord> tiles(const RduSpec& s, TileKind k);
// The switches from a to b inclusive, column first (hops = size - 1 = distance(a, b)).
std::vector<Coord> xy_route(Coord a, Coord b);

enum class Tier { sram, hbm, ddr };
const char* to_string(Tier t);

struct TensorPlacement {
  std::string name;
  TensorKind kind = TensorKind::weight;
  std::int64_t bytes = 0;
  Tier tier = Tier::sram;
};
// Places each tensor, in order, on the first tier with room left: SRAM (`free_sram_bytes`),
// then HBM, then DDR. Throws ConfigError naming hbm_gib / ddr_gib when none has room.
std::vector<TensorPlacement> plan_tiers(const std::vector<TensorRef>& tensors, const RduSpec& s,
                                        std::int64_t free_sram_bytes);
// The weight and KV-cache tensors read by `ops`, in first-use order, each once (largest size).
std::vector<TensorRef> resident_tensors(const std::vector<Op>& ops);
// The tier of spills and layer inputs / outputs.
Tier spill_tier(const RduSpec& s);
// Reductions and matmul tiles emit nothing before their whole input is in.
bool blocking(NodeKind k);

struct Section {
  Dfg graph;                              // its nodes, then its spill writes
  std::vector<int> origin;                // per node: index in the layer DFG, -1 for spills
  std::vector<Coord> tile;                // per node
  std::vector<std::vector<Coord>> route;  // per edge
  std::int64_t cycles = 0;                // estimated (see Timing above)
  // What the fabric simulation (fabric.hpp) leaves out, as a floor on its cycles: the busiest
  // off-chip tier's bytes / bandwidth and the busiest mesh link's vectors / bandwidth.
  std::int64_t bound_cycles = 0;
  std::int64_t spill_write_bytes = 0, spill_read_bytes = 0;

  int used(TileKind k) const { return graph.count(k); }
  int max_hops() const;
  std::int64_t vectors() const;  // over all its streams
  double mean_hops() const;
};

struct LinkLoad {
  Coord from, to;
  double vectors_per_cycle = 0;
};
// The demand on every directed mesh link some stream crosses.
std::vector<LinkLoad> link_loads(const Section& sec);
// Legality: every node on a tile of its kind inside the grid, no tile holding two nodes, every
// route a chain of neighbouring switches from its source's tile to its destination's, and no
// link over link_vectors_per_cycle. Returns the problems found (empty when legal).
std::vector<std::string> check_section(const Section& sec, const RduSpec& s);

// One layer mapped: its sections and tiers, and the figures the report compares.
struct Mapping {
  Fusion fusion = Fusion::layer;
  std::vector<Section> sections;
  std::vector<TensorPlacement> tensors;  // every resident tensor and its tier
  int reconfigurations = 0;              // one per section
  std::int64_t reconfig_cycles = 0, compute_cycles = 0, total_cycles = 0;
  int pcus_used = 0, pmus_used = 0, agcus_used = 0;  // the most any section uses
  std::int64_t intermediate_offchip_bytes = 0;       // spills written and read back
  int max_hops = 0;
  double mean_hops = 0, max_link_load = 0;

  Tier tier_of(const std::string& tensor) const;
};

// Sections, places and routes `g` under `fusion`. `resident` lists the weight and KV tensors
// competing for the tiers (normally the whole pass's, resident_tensors()); the layer's own are
// added when missing.
Mapping map_layer(const Dfg& g, const RduSpec& s, Fusion fusion,
                  const std::vector<TensorRef>& resident = {});

struct FusionComparison {
  Mapping layer, op;
};
// Layer `layer` of one pass of (m, w) mapped both ways, tiers planned over the whole pass.
FusionComparison compare_fusion(const ModelSpec& m, const WorkloadSpec& w, int layer,
                                const RduSpec& s);

}  // namespace qaccel::rdu
