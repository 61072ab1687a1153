#include "arch/rdu/place.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "sim/base/error.hpp"

namespace qaccel::rdu {

using i64 = std::int64_t;

int distance(Coord a, Coord b) {
  return std::abs(a.row - b.row) + std::abs(a.col - b.col);
}

std::vector<Coord> tiles(const RduSpec& s, TileKind k) {
  std::vector<Coord> r;
  if (k == TileKind::agcu) {
    for (int i = 0; i < s.agcus; ++i)
      r.push_back({i / 2, i % 2 == 0 ? 0 : s.cols + 1});
    return r;
  }
  for (int row = 0; row < s.rows; ++row)
    for (int col = 1; col <= s.cols; ++col)
      if (((row + col) % 2 == 1) == (k == TileKind::pcu)) r.push_back({row, col});
  return r;
}

std::vector<Coord> xy_route(Coord a, Coord b) {
  std::vector<Coord> r{a};
  Coord c = a;
  while (c.col != b.col) {
    c.col += b.col > c.col ? 1 : -1;
    r.push_back(c);
  }
  while (c.row != b.row) {
    c.row += b.row > c.row ? 1 : -1;
    r.push_back(c);
  }
  return r;
}

const char* to_string(Tier t) {
  switch (t) {
    case Tier::sram:
      return "sram";
    case Tier::hbm:
      return "hbm";
    case Tier::ddr:
      return "ddr";
  }
  return "?";
}

std::vector<TensorPlacement> plan_tiers(const std::vector<TensorRef>& tensors, const RduSpec& s,
                                        i64 free_sram_bytes) {
  i64 left[3] = {free_sram_bytes, s.hbm_bytes(), s.ddr_bytes()};
  std::vector<TensorPlacement> r;
  for (const TensorRef& t : tensors) {
    TensorPlacement p;
    p.name = t.name, p.kind = t.kind, p.bytes = t.bytes;
    int tier = 0;
    while (tier < 3 && left[tier] < t.bytes)
      ++tier;
    if (tier == 3)
      throw ConfigError(s.key("ddr_gib") + ": tensor '" + t.name + "' (" + std::to_string(t.bytes) +
                        " bytes) fits in no memory tier: " + std::to_string(left[0]) +
                        " bytes of SRAM, " + std::to_string(left[1]) + " of HBM (hbm_gib) and " +
                        std::to_string(left[2]) + " of DDR (ddr_gib) are left");
    left[tier] -= t.bytes;
    p.tier = Tier(tier);
    r.push_back(p);
  }
  return r;
}

std::vector<TensorRef> resident_tensors(const std::vector<Op>& ops) {
  std::vector<TensorRef> r;
  std::map<std::string, std::size_t> at;
  for (const Op& o : ops)
    for (const auto* list : {&o.reads, &o.writes})
      for (const TensorRef& t : *list) {
        if (t.kind == TensorKind::activation) continue;
        auto [it, fresh] = at.emplace(t.name, r.size());
        if (fresh)
          r.push_back(t);
        else
          r[it->second].bytes = std::max(r[it->second].bytes, t.bytes);
      }
  return r;
}

bool blocking(NodeKind k) {
  return k == NodeKind::matmul_tile || k == NodeKind::reduce || k == NodeKind::max_reduce ||
         k == NodeKind::sum_reduce;
}

Tier spill_tier(const RduSpec& s) {
  return s.hbm_gib > 0 ? Tier::hbm : Tier::ddr;
}

std::int64_t Section::vectors() const {
  std::int64_t v = 0;
  for (const Edge& e : graph.edges)
    v += e.vectors;
  return v;
}

int Section::max_hops() const {
  int m = 0;
  for (const auto& r : route)
    m = std::max(m, int(r.size()) - 1);
  return m;
}

double Section::mean_hops() const {
  if (route.empty()) return 0;
  double sum = 0;
  for (const auto& r : route)
    sum += double(r.size() - 1);
  return sum / double(route.size());
}

namespace {

using LinkKey = std::pair<Coord, Coord>;

// Edges of one source with one payload carry the same vectors (dfg.hpp): a switch's crossbar
// copies one input to several outputs, so such a multicast crosses a mesh link once, counted as
// its largest stream there.
std::map<LinkKey, double> link_sums(const Section& sec, bool rates) {
  std::map<LinkKey, double> m;
  // (link, source, payload): the multicast's largest stream there
  std::map<std::tuple<LinkKey, int, int>, double> shared;
  for (std::size_t e = 0; e < sec.route.size(); ++e) {
    const Edge& edge = sec.graph.edges[e];
    const double v = rates ? edge.rate_vpc : double(edge.vectors);
    for (std::size_t h = 1; h < sec.route[e].size(); ++h) {
      const LinkKey k{sec.route[e][h - 1], sec.route[e][h]};
      if (edge.payload >= 0) {
        double& x = shared[{k, edge.src, edge.payload}];
        x = std::max(x, v);
      } else {
        m[k] += v;
      }
    }
  }
  for (const auto& [k, v] : shared)
    m[std::get<0>(k)] += v;
  return m;
}

}  // namespace

std::vector<LinkLoad> link_loads(const Section& sec) {
  std::vector<LinkLoad> r;
  for (const auto& [k, v] : link_sums(sec, true))
    r.push_back({k.first, k.second, v});
  return r;
}

std::vector<std::string> check_section(const Section& sec, const RduSpec& s) {
  std::vector<std::string> bad;
  const Dfg& g = sec.graph;
  if (sec.tile.size() != g.nodes.size() || sec.route.size() != g.edges.size())
    return {"the section places " + std::to_string(sec.tile.size()) + " of " +
            std::to_string(g.nodes.size()) + " nodes and routes " +
            std::to_string(sec.route.size()) + " of " + std::to_string(g.edges.size()) + " edges"};
  std::map<Coord, TileKind> kind;
  for (TileKind k : {TileKind::pcu, TileKind::pmu, TileKind::agcu})
    for (Coord c : tiles(s, k))
      kind[c] = k;
  std::map<Coord, int> holder;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const Coord c = sec.tile[i];
    const std::string at = "(" + std::to_string(c.row) + "," + std::to_string(c.col) + ")";
    auto k = kind.find(c);
    if (k == kind.end())
      bad.push_back("node '" + n.name + "' is on " + at + ", not a tile of the grid");
    else if (k->second != n.tile)
      bad.push_back("node '" + n.name + "' (" + to_string(n.tile) + ") is on " + at + ", a " +
                    to_string(k->second));
    auto [h, fresh] = holder.emplace(c, int(i));
    if (!fresh)
      bad.push_back("tile " + at + " holds two nodes: '" + g.nodes[std::size_t(h->second)].name +
                    "' and '" + n.name + "'");
  }
  for (std::size_t e = 0; e < g.edges.size(); ++e) {
    const auto& r = sec.route[e];
    const Edge& edge = g.edges[e];
    const std::string what = "edge '" + g.nodes[std::size_t(edge.src)].name + "' -> '" +
                             g.nodes[std::size_t(edge.dst)].name + "'";
    if (r.empty() || r.front() != sec.tile[std::size_t(edge.src)] ||
        r.back() != sec.tile[std::size_t(edge.dst)]) {
      bad.push_back(what + ": its route does not join the two tiles");
      continue;
    }
    for (std::size_t h = 0; h < r.size(); ++h) {
      if (r[h].row < 0 || r[h].row >= s.rows || r[h].col < 0 || r[h].col > s.cols + 1)
        bad.push_back(what + ": its route leaves the mesh");
      if (h > 0 && distance(r[h - 1], r[h]) != 1)
        bad.push_back(what + ": its route jumps between switches that are not neighbours");
    }
  }
  for (const LinkLoad& l : link_loads(sec))
    if (l.vectors_per_cycle > s.link_vectors_per_cycle * (1 + 1e-9))
      bad.push_back("link (" + std::to_string(l.from.row) + "," + std::to_string(l.from.col) +
                    ")->(" + std::to_string(l.to.row) + "," + std::to_string(l.to.col) +
                    ") carries " + std::to_string(l.vectors_per_cycle) +
                    " vectors/cycle, above its " + std::to_string(s.link_vectors_per_cycle));
  return bad;
}

Tier Mapping::tier_of(const std::string& tensor) const {
  for (const TensorPlacement& t : tensors)
    if (t.name == tensor) return t.tier;
  QACCEL_ASSERT(false, "tensor '" + tensor + "' has no tier");
  return Tier::ddr;
}

namespace {

// What a run of nodes [start, end) needs from the grid, kept up to date as nodes join.
class SectionNeeds {
 public:
  SectionNeeds(const Dfg& g, const std::vector<std::vector<int>>& outs)
      : g_(g), outs_(outs), ins_(g.in_edges()) {}

  void reset(int start) {
    start_ = start, end_ = start;
    pcu_ = pmu_ = agcu_ = 0;
    reads_.clear();
    pending_.clear();
    group_pending_.clear();
    writes_ = 0;
  }
  void add(int v) {
    QACCEL_ASSERT(v == end_, "section nodes join in order");
    const Node& n = g_.nodes[std::size_t(v)];
    (n.tile == TileKind::pcu ? pcu_ : n.tile == TileKind::pmu ? pmu_ : agcu_) += 1;
    for (int e : ins_[std::size_t(v)]) {
      const int u = g_.edges[std::size_t(e)].src;
      if (u < start_)
        reads_.insert(read_key(u));
      else if (--pending_[u] == 0 && !is_read(u) &&
               --group_pending_[g_.nodes[std::size_t(u)].op] == 0)
        --writes_;
    }
    pending_[v] = int(outs_[std::size_t(v)].size());
    if (pending_[v] > 0 && !is_read(v) && group_pending_[n.op]++ == 0) ++writes_;
    ++end_;
  }
  int pcus() const { return pcu_; }
  int pmus() const { return pmu_; }
  int agcus() const { return agcu_ + int(reads_.size()) + writes_; }
  int spill_reads() const { return int(reads_.size()); }
  int spill_writes() const { return writes_; }

  // Spill streams into a section are keyed by producer op, a mem_read by itself (a copy).
  std::pair<bool, int> read_key(int u) const {
    return is_read(u) ? std::pair{true, u} : std::pair{false, g_.nodes[std::size_t(u)].op};
  }
  bool is_read(int u) const { return g_.nodes[std::size_t(u)].kind == NodeKind::mem_read; }

 private:
  const Dfg& g_;
  const std::vector<std::vector<int>>& outs_;
  const std::vector<std::vector<int>> ins_;
  int start_ = 0, end_ = 0;
  int pcu_ = 0, pmu_ = 0, agcu_ = 0, writes_ = 0;
  std::set<std::pair<bool, int>> reads_;
  std::map<int, int> pending_;        // successors not yet in the section, per node
  std::map<int, int> group_pending_;  // nodes with pending successors, per producer op
};

bool fits(const SectionNeeds& n, const RduSpec& s) {
  return n.pcus() <= s.pcus() && n.pmus() <= s.pmus() && n.agcus() <= s.agcus;
}

// Needs that only grow as nodes join (tiles, and streams in from earlier sections); the spill
// writes to later sections may shrink again when their consumers join.
bool past_fitting(const SectionNeeds& n, const RduSpec& s) {
  return n.pcus() > s.pcus() || n.pmus() > s.pmus() || n.agcus() - n.spill_writes() > s.agcus;
}

// The [start, end) node ranges of the sections: each the longest run from its start that fits
// (looking ahead while the growing needs still fit, since a later node may end a spill).
std::vector<std::pair<int, int>> cut_sections(const Dfg& g, const RduSpec& s, Fusion fusion) {
  const auto outs = g.out_edges();
  SectionNeeds need(g, outs);
  std::vector<std::pair<int, int>> r;
  const int n = int(g.nodes.size());
  // The op each node goes with under `fusion: op`: a layer input with the op after it, a layer
  // output with the op before it.
  std::vector<int> home(std::size_t(n), -1);
  for (int v = n - 1, next = -1; v >= 0; --v) {
    const Node& x = g.nodes[std::size_t(v)];
    if (x.op >= 0) next = x.op;
    home[std::size_t(v)] = x.op >= 0 || x.kind != NodeKind::mem_read ? x.op : next;
  }
  for (int v = 0, prev = -1; v < n; ++v) {
    if (home[std::size_t(v)] < 0) home[std::size_t(v)] = prev;
    prev = home[std::size_t(v)];
  }
  for (int start = 0; start < n;) {
    need.reset(start);
    int end = -1, op = -1;
    for (int v = start; v < n; ++v) {
      const int vop = home[std::size_t(v)];
      if (fusion == Fusion::op && vop >= 0 && op >= 0 && vop != op) break;
      if (vop >= 0) op = vop;
      need.add(v);
      if (past_fitting(need, s)) break;
      if (fits(need, s)) end = v + 1;
    }
    if (end < 0) {
      need.reset(start);
      need.add(start);
      const Node& x = g.nodes[std::size_t(start)];
      throw ConfigError(s.key("agcus") + ": node '" + x.name +
                        "' cannot be placed even in sections: alone it needs " +
                        std::to_string(need.pcus()) + " PCUs, " + std::to_string(need.pmus()) +
                        " PMUs and " + std::to_string(need.agcus()) + " AGCUs (" +
                        std::to_string(need.spill_reads()) + " streams in from earlier sections, " +
                        std::to_string(need.spill_writes()) + " out to later ones); the grid has " +
                        std::to_string(s.pcus()) + ", " + std::to_string(s.pmus()) + " and " +
                        std::to_string(s.agcus));
    }
    r.emplace_back(start, end);
    start = end;
  }
  return r;
}

// Builds section [start, end) of g with its spill nodes (not yet placed).
Section build_section(const Dfg& g, int start, int end, const std::vector<std::vector<int>>& outs,
                      const RduSpec& s) {
  Section sec;
  Dfg& h = sec.graph;
  h.op_names = g.op_names;
  std::map<int, int> local;                       // layer node -> section node
  std::map<std::pair<bool, int>, int> read_node;  // spill key -> section node
  // Per outside producer and tensor: the bytes read back (once, however many consumers).
  std::map<std::pair<int, std::string>, i64> read_bytes;
  auto is_read = [&](int u) { return g.nodes[std::size_t(u)].kind == NodeKind::mem_read; };
  // Spill reads and mem_read copies first: they are the section's sources.
  for (const Edge& e : g.edges) {
    if (e.dst < start || e.dst >= end || e.src >= start) continue;
    const Node& u = g.nodes[std::size_t(e.src)];
    const std::pair<bool, int> key =
        is_read(e.src) ? std::pair{true, e.src} : std::pair{false, u.op};
    QACCEL_ASSERT(key.first || (u.op >= 0 && u.op < int(g.op_names.size())),
                  "spilled node '" + u.name + "' belongs to no op");
    if (!read_node.count(key)) {
      Node x;
      if (key.first) {
        x = u;
        x.name = u.name + ".s" + std::to_string(start);
        x.bytes = 0;
      } else {
        x.name = "spill.r." + g.op_names[std::size_t(u.op)];
        x.kind = NodeKind::mem_read, x.op = u.op;
        x.tensor = "spill." + g.op_names[std::size_t(u.op)];
        x.latency_cycles = 1;
      }
      read_node[key] = h.add_node(x);
      sec.origin.push_back(-1);
    }
    Node& r = h.nodes[std::size_t(read_node[key])];
    if (key.first) {
      // The copy reads this section's share of the original's bytes.
      r.bytes += u.bytes * e.vectors / std::max<i64>(1, u.vectors_out);
    } else {
      i64& b = read_bytes[{e.src, e.tensor}];
      b = std::max(b, e.bytes(s.lanes));
    }
  }
  for (int v = start; v < end; ++v) {
    Node x = g.nodes[std::size_t(v)];
    if (x.kind == NodeKind::mem_read) {
      // It reads only what its consumers in this section take (copies read the rest).
      i64 inside = 0;
      for (int e : outs[std::size_t(v)])
        if (g.edges[std::size_t(e)].dst < end) inside += g.edges[std::size_t(e)].vectors;
      x.bytes = x.bytes * inside / std::max<i64>(1, x.vectors_out);
    }
    local[v] = h.add_node(x);
    sec.origin.push_back(v);
  }
  for (const auto& [key, b] : read_bytes) {
    sec.spill_read_bytes += b;
    h.nodes[std::size_t(read_node[{false, g.nodes[std::size_t(key.first)].op}])].bytes += b;
  }
  // Spill writes last: one per producer op with consumers in later sections, each producer
  // writing each tensor once (its widest cut stream).
  std::map<int, int> write_node;  // op -> section node
  std::map<std::pair<int, std::string>, const Edge*> cut_out;
  for (int v = start; v < end; ++v) {
    if (is_read(v)) continue;
    for (int i : outs[std::size_t(v)]) {
      const Edge& e = g.edges[std::size_t(i)];
      if (e.dst < end) continue;
      const Edge*& w = cut_out[{v, e.tensor}];
      if (!w || e.vectors > w->vectors) w = &e;
    }
  }
  for (const auto& [key, widest] : cut_out) {
    const int op = g.nodes[std::size_t(key.first)].op;
    QACCEL_ASSERT(op >= 0 && op < int(g.op_names.size()),
                  "spilled node '" + g.nodes[std::size_t(key.first)].name + "' belongs to no op");
    const i64 bytes = widest->bytes(s.lanes);
    if (!write_node.count(op)) {
      Node x;
      x.name = "spill.w." + g.op_names[std::size_t(op)];
      x.kind = NodeKind::mem_write, x.op = op;
      x.tensor = "spill." + g.op_names[std::size_t(op)];
      x.latency_cycles = 1;
      write_node[op] = h.add_node(x);
      sec.origin.push_back(-1);
    }
    h.nodes[std::size_t(write_node[op])].bytes += bytes;
    sec.spill_write_bytes += bytes;
  }
  // Edges: inside, in from spills / copies, out to spill writes (once per producer).
  for (const Edge& e : g.edges) {
    if (e.dst < start || e.dst >= end) continue;
    int src;
    if (e.src >= start) {
      src = local[e.src];
    } else {
      const Node& u = g.nodes[std::size_t(e.src)];
      src = read_node[is_read(e.src) ? std::pair{true, e.src} : std::pair{false, u.op}];
    }
    h.add_edge(src, local[e.dst], e.elem_bits, e.vectors, e.tensor, e.payload);
  }
  for (const auto& [key, widest] : cut_out)
    h.add_edge(local[key.first], write_node[g.nodes[std::size_t(key.first)].op], widest->elem_bits,
               widest->vectors, key.second);
  h.finish(s);
  return sec;
}

// Greedy placement near producers, then XY routes. Each node takes, among the free tiles of its
// kind, the one of least cost (the sum of mesh distances to its producers' tiles), the first in
// row-major order on a tie. The search need not scan the grid: cost is separable in row and
// column, and each part grows by at least 1 per step away from its median interval, so
// cost(t) >= cost* + d(t, B) for B the box of medians and cost* the cost on B. Rings at L1
// distance d = 0, 1, ... around B are searched until cost* + d exceeds the best cost found:
// every tile of that cost has been seen, so the choice is the full scan's.
void place_section(Section& sec, const RduSpec& s) {
  const Dfg& g = sec.graph;
  const auto ins = g.in_edges();
  const int cols = s.cols + 2;  // with the two AGCU columns
  auto at = [&](Coord c) { return std::size_t(c.row) * std::size_t(cols) + std::size_t(c.col); };
  std::vector<signed char> kind(std::size_t(s.rows) * std::size_t(cols), -1);  // free tiles
  // Each kind's tiles in row-major order, and the first that may still be free (tiles are only
  // ever taken, so it only moves on).
  std::map<TileKind, std::vector<Coord>> order;
  std::map<TileKind, std::size_t> first;
  for (TileKind k : {TileKind::pcu, TileKind::pmu, TileKind::agcu}) {
    order[k] = tiles(s, k), first[k] = 0;
    for (Coord c : order[k])
      kind[at(c)] = static_cast<signed char>(k);
  }
  sec.tile.assign(g.nodes.size(), Coord{});
  std::vector<int> rows, cs;
  for (std::size_t v = 0; v < g.nodes.size(); ++v) {
    const TileKind k = g.nodes[v].tile;
    const auto& all = order[k];
    std::size_t& f = first[k];
    while (f < all.size() && kind[at(all[f])] != static_cast<signed char>(k))
      ++f;
    QACCEL_ASSERT(f < all.size(), "section larger than the grid: " + g.nodes[v].name);
    Coord best = all[f];  // no producers: the first free tile
    if (!ins[v].empty()) {
      rows.clear(), cs.clear();
      for (int e : ins[v]) {
        const Coord p = sec.tile[std::size_t(g.edges[std::size_t(e)].src)];
        rows.push_back(p.row), cs.push_back(p.col);
      }
      std::sort(rows.begin(), rows.end()), std::sort(cs.begin(), cs.end());
      const std::size_t n = rows.size();
      const int r0 = rows[(n - 1) / 2], r1 = rows[n / 2], c0 = cs[(n - 1) / 2], c1 = cs[n / 2];
      auto cost = [&](Coord t) {
        long c = 0;
        for (std::size_t i = 0; i < n; ++i)
          c += std::abs(t.row - rows[i]) + std::abs(t.col - cs[i]);
        return c;
      };
      const long floor = cost({r0, c0});
      long best_cost = std::numeric_limits<long>::max();
      auto consider = [&](int r, int c) {
        if (r < 0 || r >= s.rows || c < 0 || c >= cols) return;
        const Coord t{r, c};
        if (kind[at(t)] != static_cast<signed char>(k)) return;
        const long ct = cost(t);
        if (ct < best_cost || (ct == best_cost && t < best)) best_cost = ct, best = t;
      };
      const int reach = s.rows + cols;  // beyond it a ring holds no tile
      for (int d = 0; d <= reach && floor + d <= best_cost; ++d) {
        for (int r = r0 - d; r <= r1 + d; ++r) {
          const int dr = r < r0 ? r0 - r : r > r1 ? r - r1 : 0;
          const int dc = d - dr;
          if (r < 0 || r >= s.rows || dc < 0) continue;
          if (dc == 0) {
            for (int c = std::max(c0, 0); c <= std::min(c1, cols - 1); ++c)
              consider(r, c);
          } else {
            consider(r, c0 - dc), consider(r, c1 + dc);
          }
        }
      }
      QACCEL_ASSERT(best_cost != std::numeric_limits<long>::max(),
                    "placement found no free tile for " + g.nodes[v].name);
    }
    sec.tile[v] = best;
    kind[at(best)] = -1;
  }
  sec.route.clear();
  for (const Edge& e : g.edges)
    sec.route.push_back(xy_route(sec.tile[std::size_t(e.src)], sec.tile[std::size_t(e.dst)]));
}

double tier_bytes_per_cycle(const RduSpec& s, Tier t) {
  return t == Tier::hbm ? s.hbm_bytes_per_cycle : s.ddr_bytes_per_cycle;
}

// The cycles of a placed section, and every stream's rate at that pace.
void time_section(Section& sec, const RduSpec& s, const Mapping& m) {
  double t = 1;
  double tier_bytes[3] = {0, 0, 0};
  for (const Node& n : sec.graph.nodes) {
    t = std::max(t, double(n.busy_cycles));
    if (n.tile != TileKind::agcu) continue;
    const Tier tier = n.tensor_kind == TensorKind::activation ? spill_tier(s) : m.tier_of(n.tensor);
    tier_bytes[int(tier)] += double(n.bytes);
  }
  double bound = 1;
  for (Tier tier : {Tier::hbm, Tier::ddr})
    bound = std::max(bound, tier_bytes[int(tier)] / tier_bytes_per_cycle(s, tier));
  for (const auto& [k, v] : link_sums(sec, false))
    bound = std::max(bound, v / s.link_vectors_per_cycle);
  sec.bound_cycles = i64(std::ceil(bound - 1e-9));
  t = std::max(t, bound);
  // The dependence chain: a node starts when its streaming producers have filled their
  // pipelines and its blocking ones (reductions, matmul tiles: nothing out before the whole
  // input is in) have finished; it finishes no earlier than start + busy, nor before any
  // producer finishes, plus its latency. A source (a mem_read) cannot run ahead of its
  // consumers (they back-pressure it): it starts when the first of them can start. That start
  // depends on the others, so the pass repeats until no time moves (starts only grow).
  const Dfg& g = sec.graph;
  const auto ins = g.in_edges();
  const auto outs = g.out_edges();
  const std::size_t n = g.nodes.size();
  std::vector<double> start(n, 0), finish(n, 0);
  std::vector<char> source(n, 0);
  for (std::size_t v = 0; v < n; ++v)
    source[v] = ins[v].empty() && g.nodes[v].kind == NodeKind::mem_read;
  for (bool moved = true; moved;) {
    moved = false;
    for (std::size_t v = 0; v < n; ++v) {
      if (source[v]) {
        finish[v] = start[v] + double(g.nodes[v].busy_cycles);
        continue;
      }
      double st = 0, f = 0;
      for (int e : ins[v]) {
        const auto u = std::size_t(g.edges[std::size_t(e)].src);
        if (!source[u])
          st = std::max(
              st, blocking(g.nodes[u].kind) ? finish[u] : start[u] + g.nodes[u].latency_cycles);
        f = std::max(f, finish[u]);
      }
      start[v] = st;
      finish[v] = std::max(st + double(g.nodes[v].busy_cycles), f) + g.nodes[v].latency_cycles;
    }
    for (std::size_t v = 0; v < n; ++v) {
      if (!source[v] || outs[v].empty()) continue;
      double first = std::numeric_limits<double>::max();
      for (int e : outs[v])
        first = std::min(first, start[std::size_t(g.edges[std::size_t(e)].dst)]);
      if (first > start[v]) start[v] = first, moved = true;
    }
  }
  for (std::size_t v = 0; v < n; ++v)
    t = std::max(t, finish[v]);
  sec.cycles = i64(std::ceil(t - 1e-9));
  for (Edge& e : sec.graph.edges)
    e.rate_vpc = double(e.vectors) / double(sec.cycles);
}

}  // namespace

Mapping map_layer(const Dfg& g, const RduSpec& s, Fusion fusion,
                  const std::vector<TensorRef>& resident) {
  Mapping m;
  m.fusion = fusion;
  const auto outs = g.out_edges();
  for (const auto& [start, end] : cut_sections(g, s, fusion))
    m.sections.push_back(build_section(g, start, end, outs, s));
  for (Section& sec : m.sections) {
    place_section(sec, s);
    m.pcus_used = std::max(m.pcus_used, sec.used(TileKind::pcu));
    m.pmus_used = std::max(m.pmus_used, sec.used(TileKind::pmu));
    m.agcus_used = std::max(m.agcus_used, sec.used(TileKind::agcu));
  }
  // Tiers: the PMUs no section uses hold what fits of the weights and KV caches.
  std::vector<TensorRef> all = resident;
  for (const Node& n : g.nodes)
    if (n.tile == TileKind::agcu && n.tensor_kind != TensorKind::activation &&
        std::none_of(all.begin(), all.end(),
                     [&](const TensorRef& t) { return t.name == n.tensor; }))
      all.push_back({n.tensor, n.tensor_kind, n.bytes});
  m.tensors = plan_tiers(all, s, i64(s.pmus() - m.pmus_used) * s.pmu_bytes());
  i64 edges = 0;
  double hops = 0;
  for (Section& sec : m.sections) {
    time_section(sec, s, m);
    m.compute_cycles += sec.cycles;
    m.intermediate_offchip_bytes += sec.spill_write_bytes + sec.spill_read_bytes;
    m.max_hops = std::max(m.max_hops, sec.max_hops());
    hops += sec.mean_hops() * double(sec.route.size());
    edges += i64(sec.route.size());
    for (const LinkLoad& l : link_loads(sec))
      m.max_link_load = std::max(m.max_link_load, l.vectors_per_cycle);
  }
  m.mean_hops = edges ? hops / double(edges) : 0;
  m.reconfigurations = int(m.sections.size());
  m.reconfig_cycles = i64(m.reconfigurations) * s.reconfig_cycles;
  m.total_cycles = m.compute_cycles + m.reconfig_cycles;
  return m;
}

FusionComparison compare_fusion(const ModelSpec& model, const WorkloadSpec& w, int layer,
                                const RduSpec& s) {
  const std::vector<Op> ops = lower_forward(model, w);
  const Dfg g = lower_layer(layer_ops(ops, layer), layer_shape(model, w), s);
  const std::vector<TensorRef> resident = resident_tensors(ops);
  return {map_layer(g, s, Fusion::layer, resident), map_layer(g, s, Fusion::op, resident)};
}

}  // namespace qaccel::rdu
