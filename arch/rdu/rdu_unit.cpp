// The RDU fabric as a Unit (`impl: rdu`): a decoder layer laid out in space and streamed.
//
// How a run is planned (prepare() sees every op of the unit before plan()):
// - The unit's ops are cut into layer instances: consecutive ops of one decoder layer (one pass
//   of one layer), and the runs of ops outside the layers (embedding, final norm, classifier).
// - A layer instance is lowered to the dataflow graph (dfg.hpp), cut into sections, placed and
//   routed (place.hpp) under `fusion`; weights and KV caches take the SRAM / HBM / DDR tiers by
//   capacity over the whole run, in first-use order. Instances with the same ops and layer
//   share one mapping (a decode step's layers differ only by their weights' tier).
// - Each section costs its reconfiguration plus its time on the fabric: its tiles simulated
//   (fabric.hpp, sections of one shape once), no less than Section::bound_cycles (tier and
//   mesh-link bandwidth, which the simulation leaves out); a section moving more than
//   `simulate_max_vectors` vectors takes place.hpp's estimate instead. The time of a section is
//   shared among the ops it holds in proportion to their tiles' busy cycles, so the ops of a
//   layer add up to the layer's time exactly.
// - Memory: the HBM tier is the system's memory. An op's HBM traffic (its weights and KV cache
//   in HBM, its spills and the layer's input and output) goes through the memory socket as one
//   stream overlapped with its compute; the DDR tier is the fabric's own (its time is inside the
//   section time, its bytes in `<unit>.ddr_bytes`).
// - Attention (score, softmax, value) is lowered into its section by its mapping (dfg.cpp:
//   `sdpa: online`, `sdpa_pipelines` score / running-softmax / accumulator pipelines; `naive`,
//   score and value matmul tiles with the scores materialized in PMUs) and simulated with it,
//   so it overlaps the rest of the layer and its ops get their tiles' share like any other.
//   `<unit>.attn_peak_buffer_bytes` is the peak intermediate storage of attention.hpp's SDPA
//   pipelines (tested against their SystemC tiles) over every query row.
// - Outside the layers: the classifier is lowered as a one-op matmul section, the final norm
//   as a one-op section; the embedding is a gather of one row per token through an AGCU.
// - Energy: every FLOP pair at the tech table's `fp16` MAC energy (BF16 lanes), PMU buffer
//   bytes written and read at the PMU size's SRAM energy, HBM and DDR bytes at the system's
//   DRAM energy per byte. Area: PCUs x lanes x stages `fp16` PEs plus the PMUs' SRAM.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <map>
#include <numeric>

#include "arch/common/memory.hpp"
#include "arch/common/unit.hpp"
#include "arch/rdu/attention.hpp"
#include "arch/rdu/dfg.hpp"
#include "arch/rdu/fabric.hpp"
#include "arch/rdu/place.hpp"
#include "arch/rdu/spec.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::rdu {

namespace {

using i64 = std::int64_t;

// What an op gets from its layer instance's mapping.
struct OpShare {
  i64 cycles = 0;
  i64 hbm_read_bytes = 0, hbm_write_bytes = 0, ddr_bytes = 0, sram_tier_bytes = 0;
  i64 pmu_bytes = 0;  // bytes its PMU buffers hold (written once, read once)
};

// The figures of one mapped instance, for the unit's statistics.
struct InstanceStats {
  int sections = 0;
  i64 reconfig_cycles = 0, spill_bytes = 0;
  int pcus = 0, pmus = 0, agcus = 0, max_hops = 0;
  double max_link_load = 0;
  i64 attn_buffer_bytes = 0;
  i64 estimate_cycles = 0;  // the compiler's estimate of the same sections
  i64 fabric_vectors = 0;   // vectors the fabric simulation moved through links
  i64 stage_buffer_bytes = 0;
  int sections_simulated = 0;  // the others timed by the estimate
};

// Results by key, at most kKept of them. A decode meets a new attention shape at every step and
// never again, so past the limit the oldest go first: a long run's memory stays bounded, and a
// shape met again after its eviction is only computed again (the same result).
template <class V>
class Memo {
 public:
  static constexpr std::size_t kKept = 512;
  const V* find(const std::string& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  // The reference holds until the next add.
  const V& add(const std::string& key, V v) {
    if (map_.size() >= kKept) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    return map_.emplace(key, std::move(v)).first->second;
  }
  std::size_t size() const { return map_.size(); }

 private:
  std::map<std::string, V> map_;
  std::deque<std::string> order_;
};

struct Planned {
  std::vector<OpShare> ops;  // per op of the instance, in order
  InstanceStats stats;
};

class RduUnit final : public Unit {
 public:
  RduUnit(const std::string& name, RduSpec s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(std::move(s)),
        sections_(stat("sections", "sections", "sections run (each loads its configuration)")),
        reconfig_(stat("reconfig_cycles", "cycles", "cycles spent loading configurations")),
        pcus_(stat("pcus_used", "PCUs", "most PCUs one section uses")),
        pmus_(stat("pmus_used", "PMUs", "most PMUs one section uses")),
        agcus_(stat("agcus_used", "AGCUs", "most AGCUs one section uses")),
        hops_(stat("max_hops", "hops", "longest route of a stream over the switch mesh")),
        link_load_(stat("max_link_load", "vectors/cycle",
                        "highest demand on one mesh link (its bandwidth is the limit)")),
        spill_(stat("spill_bytes", "bytes",
                    "intermediate tensors written off chip between sections and read back")),
        hbm_(stat("hbm_bytes", "bytes", "bytes moved to and from the HBM tier")),
        ddr_(stat("ddr_bytes", "bytes", "bytes moved to and from the DDR tier")),
        sram_tier_(stat("sram_tier_bytes", "bytes", "weight and KV bytes read from PMU SRAM")),
        attn_peak_(stat("attn_peak_buffer_bytes", "bytes",
                        "peak intermediate storage of attention (scores or running state)")),
        mapped_(stat("layer_mappings", "mappings",
                     "layer instances compiled (sectioned, placed, routed): each shape once "
                     "while among the last 512")),
        simulated_(stat("fabric_simulations", "sections",
                        "sections simulated tile by tile (fabric.hpp): each shape once while among "
                        "the last 512")),
        fabric_vectors_(stat("fabric_vectors", "vectors",
                             "vectors the sections' streams moved through their links")),
        estimate_(stat("estimate_cycles", "cycles",
                       "the compiler's estimate of the same sections' time, for comparison")),
        stage_(stat("stage_buffer_bytes", "bytes",
                    "most bytes one section holds in stage buffers on joining streams")),
        estimated_(stat("sections_estimated", "sections",
                        "sections run whose time is the compiler's estimate (more vectors than "
                        "simulate_max_vectors)")) {
    ctx_.tech.mac_named("fp16");  // a tech file without the PE is a config error now
    ctx_.tech.pe_area_named("fp16");
    s_.take_from_system(ctx_.memory ? ctx_.memory->peak_bytes_per_cycle() : s_.hbm_bytes_per_cycle,
                        ctx_.clock_ghz);
  }

  std::string_view impl() const override { return "rdu"; }

  bool supports(const Op& op, std::string* why) const override {
    (void)op, (void)why;
    return true;  // every op of a decoder pass lowers to tiles
  }

  void prepare(const std::vector<const Op*>& ops) override {
    shares_.clear(), next_ = 0;
    if (ops.empty()) return;
    std::vector<Op> all;
    all.reserve(ops.size());
    for (const Op* o : ops)
      all.push_back(*o);
    // Tiers go by first use over the whole run; a run planned pass by pass (sim/system.cpp)
    // prepares each pass in turn, whose tensors only add to the list.
    for (const TensorRef& t : resident_tensors(all)) {
      auto [it, fresh] = resident_at_.try_emplace(t.name, resident_.size());
      if (fresh)
        resident_.push_back(t);
      else
        resident_[it->second].bytes = std::max(resident_[it->second].bytes, t.bytes);
    }
    // Layer instances: maximal runs of consecutive ops with the same layer. Compiling many on a
    // big grid takes seconds: a terminal sees the progress once a second.
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    auto last = std::chrono::steady_clock::now();
    bool shown = false;
    for (std::size_t b = 0; b < all.size();) {
      std::size_t e = b + 1;
      while (e < all.size() && all[e].layer == all[b].layer)
        ++e;
      plan_instance(
          std::vector<Op>(all.begin() + std::ptrdiff_t(b), all.begin() + std::ptrdiff_t(e)));
      b = e;
      if (tty && std::chrono::steady_clock::now() - last > std::chrono::seconds(1)) {
        last = std::chrono::steady_clock::now(), shown = true;
        std::cerr << "\r" << name_ << ": compiled the layers of " << b << "/" << all.size()
                  << " ops (" << cache_.size() << " distinct mappings)" << std::flush;
      }
    }
    if (shown) std::cerr << "\n";
    QACCEL_ASSERT(shares_.size() == ops.size(), "RDU: an op without a share of its mapping");
  }

  OpPlan plan(const Op& op) override {
    QACCEL_ASSERT(next_ < shares_.size(), "RDU: op " + op.name + " was not prepared");
    const OpShare& sh = shares_[next_++];
    OpPlan pl;
    OpCost& c = pl.cost;
    c.macs = op.macs, c.flops = op.flops;
    c.dram_read_bytes = sh.hbm_read_bytes, c.dram_write_bytes = sh.hbm_write_bytes;
    c.sram_read_bytes = checked::add("SRAM bytes", sh.pmu_bytes, sh.sram_tier_bytes);
    c.sram_write_bytes = sh.pmu_bytes;
    c.compute_cycles = sh.cycles;
    pl.timing = OpPlan::Timing::stream;
    pl.fold_cycles = sh.cycles;
    c.compute_pj = double(op.flops) / 2.0 * ctx_.tech.mac_named("fp16");
    c.sram_pj =
        (2.0 * double(sh.pmu_bytes) + double(sh.sram_tier_bytes)) * ctx_.tech.sram(s_.pmu_kib);
    c.dram_pj = (double(sh.hbm_read_bytes) + double(sh.hbm_write_bytes) + double(sh.ddr_bytes)) *
                ctx_.dram_pj_per_byte;
    hbm_ += double(sh.hbm_read_bytes) + double(sh.hbm_write_bytes);
    ddr_ += double(sh.ddr_bytes), sram_tier_ += double(sh.sram_tier_bytes);
    return pl;
  }

  // The matmul tiles' arithmetic on integer codes: output columns in blocks of `lanes` (one
  // block per PCU pass), the weight rows streamed in k order, one lane's integer accumulator
  // per column emptied into the float output at each group's end: ((float)S * s_w) * s_x,
  // groups in order (the contract). Binary16 / bfloat16 operands: the reference kernel runs.
  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
    if (w.elem != Elem::int_code || rows.empty()) return false;
    for (const QActivation* x : rows)
      if (x->elem != Elem::int_code) return false;
    const int G = w.group, ng = w.groups_per_row(), L = s_.lanes;
    out.assign(rows.size() * std::size_t(w.rows), 0.0f);
    std::vector<std::int64_t> acc(static_cast<std::size_t>(L));
    for (std::size_t m = 0; m < rows.size(); ++m) {
      const QActivation& x = *rows[m];
      float* o = out.data() + m * std::size_t(w.rows);
      for (int c0 = 0; c0 < w.rows; c0 += L) {  // one column block
        const int width = std::min(L, w.rows - c0);
        for (int g = 0; g < ng; ++g) {
          std::fill(acc.begin(), acc.end(), 0);
          for (int k = g * G; k < (g + 1) * G; ++k) {  // one streamed weight vector per k
            const std::int64_t a = x.q[std::size_t(k)];
            for (int l = 0; l < width; ++l)
              acc[std::size_t(l)] +=
                  a * w.q[std::size_t(c0 + l) * std::size_t(w.cols) + std::size_t(k)];
          }
          for (int l = 0; l < width; ++l)
            o[c0 + l] += (static_cast<float>(acc[std::size_t(l)]) *
                          w.scales[std::size_t(c0 + l) * std::size_t(ng) + std::size_t(g)]) *
                         x.scales[std::size_t(g)];
        }
      }
    }
    return true;
  }

  double peak_flops_per_cycle() const override { return 2.0 * s_.pcus() * s_.lanes * s_.stages; }

  double area_mm2() const override {
    return double(s_.pcus()) * s_.lanes * s_.stages * ctx_.tech.pe_area_named("fp16") +
           double(s_.pmus()) * s_.pmu_kib * ctx_.tech.sram_area_mm2_per_kib;
  }

 private:
  double& stat(const std::string& key, const std::string& unit, const std::string& desc) {
    return ctx_.stats.add(name_ + "." + key, unit, desc);
  }

  // A key that identifies an instance's mapping: the ops' shapes and tensors.
  static std::string signature(const std::vector<Op>& ops) {
    std::string k;
    for (const Op& o : ops) {
      k += std::to_string(int(o.kind)) + ":" + std::to_string(o.m) + "," + std::to_string(o.n) +
           "," + std::to_string(o.k) + "," + std::to_string(o.count) + "," +
           std::to_string(o.elements) + "," + std::to_string(o.weight_bytes) + "," +
           std::to_string(o.kv_read_bytes) + "," + std::to_string(o.kv_bits) + "," +
           std::to_string(o.act_read_bytes) + "," + std::to_string(o.act_write_bytes);
      for (const TensorRef& t : o.reads)
        if (t.kind != TensorKind::activation) k += "," + t.name;
      k += ";";
    }
    return k;
  }

  // The shape lowering needs, read off the layer's ops (wq: m tokens x k dim; a score op's k
  // is the head size).
  static LayerShape shape_of(const std::vector<Op>& ops) {
    LayerShape sh;
    for (const Op& o : ops) {
      if ((o.kind == OpKind::matmul || o.kind == OpKind::gemv) && sh.dim == 0)
        sh.dim = int(o.k), sh.tokens = int(o.m);
      if (o.kind == OpKind::attn_score && sh.head_size == 0) sh.head_size = int(o.k);
    }
    if (sh.tokens == 0) sh.tokens = 1;
    if (sh.dim == 0)
      for (const Op& o : ops)
        if (o.elements > 0) sh.dim = int(o.elements / sh.tokens);
    if (sh.head_size > 0) sh.heads = sh.dim / sh.head_size;
    return sh;
  }

  void plan_instance(std::vector<Op> ops) {
    const std::size_t first = shares_.size();
    shares_.resize(first + ops.size());
    // The embedding is a gather: one row per token from the table's tier, written on.
    std::vector<Op> lowered;
    std::vector<std::size_t> index;  // lowered op -> position in `ops`
    for (std::size_t i = 0; i < ops.size(); ++i) {
      Op& o = ops[i];
      if (o.kind == OpKind::embedding) {
        OpShare& sh = shares_[first + i];
        const i64 vec_bytes = i64(s_.lanes) * 4;
        sh.cycles = checked::ceil_div(o.act_write_bytes, vec_bytes);
        sh.hbm_read_bytes = o.weight_bytes, sh.hbm_write_bytes = o.act_write_bytes;
        continue;
      }
      if (o.kind == OpKind::classifier) o.kind = OpKind::matmul;  // a GEMV like the others
      lowered.push_back(o), index.push_back(i);
    }
    if (lowered.empty()) return;
    const std::string key = signature(lowered) + "|" + std::to_string(lowered[0].layer);
    // The ops after the last layer lower like a layer's (the lowering wants a layer index).
    for (Op& o : lowered)
      o.layer = std::max(o.layer, 0);
    const Planned* found = cache_.find(key);
    if (!found) {
      found = &cache_.add(key, map_instance(lowered));
      mapped_ += 1;
    }
    const Planned& p = *found;
    for (std::size_t j = 0; j < index.size(); ++j)
      shares_[first + index[j]] = p.ops[j];
    const InstanceStats& st = p.stats;
    sections_ += st.sections, reconfig_ += double(st.reconfig_cycles);
    spill_ += double(st.spill_bytes);
    pcus_ = std::max(pcus_, double(st.pcus)), pmus_ = std::max(pmus_, double(st.pmus));
    agcus_ = std::max(agcus_, double(st.agcus)), hops_ = std::max(hops_, double(st.max_hops));
    link_load_ = std::max(link_load_, st.max_link_load);
    attn_peak_ = std::max(attn_peak_, double(st.attn_buffer_bytes));
    estimate_ += double(st.estimate_cycles), fabric_vectors_ += double(st.fabric_vectors);
    stage_ = std::max(stage_, double(st.stage_buffer_bytes));
    estimated_ += double(st.sections - st.sections_simulated);
  }

  // A section simulated tile by tile; sections of the same shape (a decode step's layers differ
  // only in their tensors' names and tiers) are simulated once.
  const FabricResult& fabric(const Section& sec) const {
    std::string key;
    for (const Node& n : sec.graph.nodes)
      key += std::to_string(int(n.kind)) + "," + std::to_string(n.busy_cycles) + "," +
             std::to_string(n.latency_cycles) + ";";
    for (std::size_t e = 0; e < sec.graph.edges.size(); ++e) {
      const Edge& ed = sec.graph.edges[e];
      key += std::to_string(ed.src) + ">" + std::to_string(ed.dst) + "," +
             std::to_string(ed.vectors) + "," + std::to_string(ed.elem_bits) + "," +
             std::to_string(sec.route[e].size()) + ";";
    }
    const FabricResult* found = fabric_cache_.find(key);
    if (!found) {
      found = &fabric_cache_.add(key, simulate_section(sec, s_, FabricEngine::plain));
      simulated_ += 1;
    }
    return *found;
  }

  Planned map_instance(const std::vector<Op>& ops) const {
    const Dfg g = lower_layer(ops, shape_of(ops), s_);
    const Mapping mp = map_layer(g, s_, s_.fusion, resident_);
    Planned p;
    p.ops.resize(ops.size());
    InstanceStats& st = p.stats;
    st.sections = int(mp.sections.size());
    st.reconfig_cycles = mp.reconfig_cycles;
    st.spill_bytes = mp.intermediate_offchip_bytes;
    st.pcus = mp.pcus_used, st.pmus = mp.pmus_used, st.agcus = mp.agcus_used;
    st.max_hops = mp.max_hops, st.max_link_load = mp.max_link_load;
    const Tier spill = spill_tier(s_);
    for (const Section& sec : mp.sections) {
      // The section's time: its tiles simulated, no less than what the simulation leaves out
      // (tier and mesh-link bandwidth) allows; the estimate for a section too big to simulate.
      i64 sec_cycles = sec.cycles;
      st.estimate_cycles += sec.cycles;
      if (simulated(sec, s_)) {
        const FabricResult& fab = fabric(sec);
        sec_cycles = std::max(fab.cycles, sec.bound_cycles);
        st.fabric_vectors += fab.vectors_moved;
        st.stage_buffer_bytes = std::max(st.stage_buffer_bytes, fab.stage_buffer_bytes);
        st.sections_simulated += 1;
      }
      // The section's time (and its reconfiguration) shared by busy cycles.
      std::vector<i64> busy(ops.size(), 0);
      for (const Node& n : sec.graph.nodes) {
        // The layer's input belongs to the first op, its output to the last.
        const std::size_t op = n.op >= 0                      ? std::size_t(n.op)
                               : n.kind == NodeKind::mem_read ? 0
                                                              : ops.size() - 1;
        QACCEL_ASSERT(op < ops.size(), "RDU: a node without its op");
        OpShare& sh = p.ops[op];
        busy[op] += n.busy_cycles;
        if (n.tile == TileKind::pmu) sh.pmu_bytes += n.bytes;
        if (n.tile != TileKind::agcu) continue;
        const Tier t = n.tensor_kind == TensorKind::activation ? spill : mp.tier_of(n.tensor);
        const bool write = n.kind == NodeKind::mem_write;
        if (t == Tier::hbm)
          (write ? sh.hbm_write_bytes : sh.hbm_read_bytes) += n.bytes;
        else if (t == Tier::ddr)
          sh.ddr_bytes += n.bytes;
        else
          sh.sram_tier_bytes += n.bytes;
      }
      const i64 all_busy = std::accumulate(busy.begin(), busy.end(), i64(0));
      if (all_busy == 0) {  // nothing busy (cannot happen in a lowered layer): the first op
        p.ops[0].cycles += s_.reconfig_cycles;
        continue;
      }
      const i64 total = sec_cycles + s_.reconfig_cycles;
      std::size_t last = 0;
      for (std::size_t j = 0; j < ops.size(); ++j)
        if (busy[j] > 0) last = j;
      // Integer shares; the last op takes the rounding so the section's cycles add up.
      i64 given = 0;
      for (std::size_t j = 0; j < ops.size(); ++j) {
        if (busy[j] == 0) continue;
        const i64 c =
            j == last ? total - given : i64(double(total) * (double(busy[j]) / double(all_busy)));
        p.ops[j].cycles += c, given += c;
      }
    }
    attention_storage(ops, p);
    return p;
  }

  // The peak intermediate storage of attention on the SDPA pipelines (their time is inside the
  // section's, the mapping lowered with the layer): every query row (one head of one token)
  // streams its P = context keys and values; a prefill's token t sees start + t + 1 of them.
  void attention_storage(const std::vector<Op>& ops, Planned& p) const {
    SdpaFabric f;
    f.link.lanes = s_.lanes, f.link.elem_bits = 32;
    f.link.capacity_vectors = s_.link_capacity_vectors;
    f.pipelines = s_.sdpa_pipelines;
    // Query heads per KV head: wq's outputs over wk's.
    i64 q_out = 0, k_out = 0;
    for (const Op& o : ops) {
      if (o.name.ends_with(".wq")) q_out = o.n;
      if (o.name.ends_with(".wk")) k_out = o.n;
    }
    const i64 grp = q_out > 0 && k_out > 0 ? std::max<i64>(1, q_out / k_out) : 1;
    for (std::size_t j = 0; j < ops.size(); ++j) {
      if (ops[j].kind != OpKind::attn_score) continue;
      const Op& sc = ops[j];
      // attn_score: m = T x group rows per (sequence, KV head), n = the longest context.
      // m = T tokens x grp query heads per KV head, count = sequences x KV heads, n = the last
      // token's context (start + T).
      const i64 T = std::max<i64>(1, sc.m / grp), rows_per_token = sc.count * grp;
      i64 peak = 0;
      for (i64 t = 0; t < T; ++t)
        peak = std::max(peak, sdpa_cost(s_.sdpa, int(sc.n - T + t + 1), int(sc.k),
                                        int(rows_per_token), f, s_.key("sdpa"))
                                  .peak_buffer_bytes);
      p.stats.attn_buffer_bytes = std::max(p.stats.attn_buffer_bytes, peak);
    }
  }

  RduSpec s_;
  double &sections_, &reconfig_, &pcus_, &pmus_, &agcus_, &hops_, &link_load_, &spill_, &hbm_,
      &ddr_, &sram_tier_, &attn_peak_, &mapped_, &simulated_, &fabric_vectors_, &estimate_, &stage_,
      &estimated_;
  std::vector<TensorRef> resident_;
  std::map<std::string, std::size_t> resident_at_;  // name -> index in resident_
  std::vector<OpShare> shares_;
  std::size_t next_ = 0;
  Memo<Planned> cache_;
  mutable Memo<FabricResult> fabric_cache_;
};

std::unique_ptr<Unit> make(const std::string& name, const ParamValues& v, UnitContext& ctx) {
  return std::make_unique<RduUnit>(name, from_params(v, "system.units." + name), ctx);
}

const RegisterUnit reg({"rdu",
                        "dataflow RDU tiles (Plasticine / SN40L style): a decoder layer placed "
                        "on PCUs, PMUs and AGCUs and streamed, with SRAM / HBM / DDR tiers",
                        rdu_params(), make});

}  // namespace

}  // namespace qaccel::rdu
