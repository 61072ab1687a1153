#include "sim/system.hpp"

#include <unistd.h>

#include <systemc>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

// libsystemc references sc_main; qaccel drives the kernel from its own main().
int sc_main(int, char**) {
  return 0;
}

namespace qaccel {

System::System(const config::SystemSpec& spec) : spec_(spec) {
  ctx_ = std::make_unique<UnitContext>(UnitContext{spec_.tech, spec_.tech.dram(spec_.dram.kind),
                                                   stats_, spec_.global_buffer_kib * 1024,
                                                   &spec_.dram, spec_.clock_ghz});
  units_ = config::build_units(spec_, *ctx_);
  std::vector<Unit*> units;
  for (const auto& u : units_)
    units.push_back(u.get());
  declare_engine_stats(stats_, units);
}

Unit& System::unit(const std::string& name) const {
  for (const auto& u : units_)
    if (u->name() == name) return *u;
  QACCEL_ASSERT(false, "no unit named " + name);
  return *units_.front();
}

Unit& System::map(const Op& op, std::string* how) const {
  std::string kind(to_string(op.kind)), why;
  std::string low_why;
  if (spec_.intensity_policy && is_gemm(op.kind)) {
    // Duplex-style: memory-bound GEMM-view ops (decode GEMVs, attention) to the low-intensity
    // unit (PIM), the rest by kind.
    const double in = op.intensity();
    std::ostringstream v;
    v << "intensity " << std::setprecision(3) << in << " Op/B "
      << (in < spec_.intensity_threshold ? "<" : ">=") << " " << spec_.intensity_threshold;
    if (in < spec_.intensity_threshold) {
      Unit& u = unit(spec_.intensity_low_unit);
      if (u.supports(op, &low_why)) {
        if (how) *how = v.str() + ": " + u.name();
        return u;
      }
      low_why = v.str() + " but " + u.name() + " cannot: " + low_why + "; ";
    } else {
      low_why = v.str() + "; ";
    }
  }
  auto rule = spec_.mapping.find(kind);
  if (rule != spec_.mapping.end()) {
    Unit& u = unit(rule->second);
    if (u.supports(op, &why)) {
      if (how) *how = low_why + "rule:" + kind;
      return u;
    }
  }
  Unit& d = unit(spec_.mapping.at("default"));
  std::string why_default;
  if (!d.supports(op, &why_default))
    throw ConfigError(spec_.file.string() + ": system.mapping." +
                      (rule == spec_.mapping.end() ? "default" : kind) + ": no unit can run op " +
                      op.name + " (" + kind + ", " + op.dtype + "): " +
                      (rule == spec_.mapping.end() ? "" : "'" + rule->second + "': " + why + "; ") +
                      "default unit '" + d.name() + "': " + why_default);
  if (how)
    *how = low_why +
           (rule == spec_.mapping.end() ? "default" : "fallback: " + rule->second + " " + why);
  return d;
}

double System::area_mm2() const {
  double a = spec_.global_buffer_kib * spec_.tech.sram_area_mm2_per_kib;
  for (const auto& u : units_)
    a += u->area_mm2();
  return a;
}

// Maps and plans the blocks of one run for the engine, and checks what the run so far must
// respect.
class BlockPlanner {
 public:
  explicit BlockPlanner(const System& sys) : sys_(sys) {
    for (const auto& u : sys_.units())
      units_.push_back(u.get());
  }
  const std::vector<Unit*>& units() const { return units_; }
  int passes = 0;  // the run's passes, when planned pass by pass (for messages)

  // Fills b's records, plans and units from `ops` (with their tensor lists, which the records
  // drop: they are most of a record's memory).
  void plan(std::vector<Op>& ops, const std::vector<int>& steps, OpBlock& b) {
    const std::size_t n = ops.size();
    b.records.assign(n, {}), b.plans.assign(n, {}), b.unit_of.assign(n, 0);
    std::vector<std::vector<const Op*>> ops_of(units_.size());
    for (std::size_t i = 0; i < n; ++i) {
      OpRecord& r = b.records[i];
      r.step = steps[i];
      Unit& u = sys_.map(ops[i], &r.mapped_by);
      r.unit = u.name();
      b.unit_of[i] = int(std::find(units_.begin(), units_.end(), &u) - units_.begin());
      ops_of[std::size_t(b.unit_of[i])].push_back(&ops[i]);
    }
    for (std::size_t u = 0; u < units_.size(); ++u)
      if (!ops_of[u].empty()) units_[u]->prepare(ops_of[u]);
    const double bw = sys_.peak_dram_bytes_per_cycle();
    const DramSpec& dram = sys_.spec().dram;
    for (std::size_t i = 0; i < n; ++i) {
      OpRecord& r = b.records[i];
      Unit& u = *units_[std::size_t(b.unit_of[i])];
      OpPlan& p = b.plans[i];
      try {
        p = u.plan(ops[i]);
      } catch (const OverflowError& e) {  // a shape-derived count past 64 bits: name the op
        throw OverflowError("op " + ops[i].name + " on unit '" + u.name() + "': " + e.what());
      }
      // Reports add each op's reads and writes; they must stay representable together.
      const OpCost& c = p.cost;
      const std::int64_t dram_bytes =
          checked::add("op " + ops[i].name + ": DRAM bytes", c.dram_read_bytes, c.dram_write_bytes);
      checked::add("op " + ops[i].name + ": SRAM bytes", c.sram_read_bytes, c.sram_write_bytes);
      r.op = std::move(ops[i]);
      std::vector<TensorRef>().swap(r.op.reads);
      std::vector<TensorRef>().swap(r.op.writes);
      // Roofline on its unit: what does not depend on the op's time.
      r.intensity = dram_bytes ? double(c.flops) / double(dram_bytes) : 0.0;
      r.peak_flops_per_cycle = u.peak_flops_per_cycle();
      r.memory_bound = dram_bytes > 0 && r.intensity < r.peak_flops_per_cycle / bw;
      // SystemC time counts picoseconds in 64 bits: 1 cycle = 1000 units, so about 1.8e16
      // cycles at most. Refuse a run whose serial upper bound (every op's compute and memory
      // time back to back) could come near that, rather than let time wrap.
      bound_cycles_ +=
          double(std::max(c.compute_cycles, p.folds * p.fold_cycles)) +
          double(p.first_fold_extra_cycles) + double(dram_bytes) / bw +
          2.0 * double(dram.latency_cycles) * double(std::max<std::int64_t>(p.folds, 1));
    }
    if (bound_cycles_ > 1e15) {
      // As a double: the bound itself may be past 2^63 (converting it would be undefined).
      std::ostringstream up_to;
      up_to << std::setprecision(4) << bound_cycles_;
      // Planned pass by pass, the bound so far covers the passes up to this one only.
      const int step = steps.empty() ? 0 : steps.back();
      const std::string so_far = passes > 0 && step + 1 < passes
                                     ? " by its pass " + std::to_string(step + 1) + " of " +
                                           std::to_string(passes) + " (more after)"
                                     : "";
      throw ConfigError(sys_.spec().file.string() + ": this run could take up to " + up_to.str() +
                        " cycles" + so_far +
                        ", more than the 1e15 the simulator's time can hold; use a smaller "
                        "workload or a faster system");
    }
  }

  bool has_dram_capacity() const { return bool(sys_.spec().dram.dram); }
  // Every tensor must have a home in the command-level DRAM.
  void check_extent(std::uint64_t extent) const {
    const auto& d = sys_.spec().dram;
    if (!d.dram) return;
    const std::uint64_t cap = std::uint64_t(d.dram->org.capacity_bytes());
    if (extent > cap)
      throw ConfigError(
          sys_.spec().file.string() + ": system.memory.dram: the workload's tensors need " +
          std::to_string(extent) + " bytes of DRAM, the DRAM holds " + std::to_string(cap) + " (" +
          std::to_string(extent - cap) + " bytes short); give it more channels, ranks or rows");
  }

  // After the run: the roofline's time-dependent part.
  static void finish(OpRecord& r) {
    r.attained_flops_per_cycle = r.cost.cycles ? double(r.cost.flops) / double(r.cost.cycles) : 0.0;
    r.utilization = r.attained_flops_per_cycle / r.peak_flops_per_cycle;
  }

 private:
  const System& sys_;
  std::vector<Unit*> units_;
  double bound_cycles_ = 0;  // the serial upper bound of every op planned so far
};

namespace {

// A whole graph as one block (layer lists, and the reference the pass-by-pass run is tested
// against).
class GraphSource : public OpSource {
 public:
  GraphSource(const OpGraph& g, bool serial, BlockPlanner& pl, std::vector<OpRecord>& out)
      : g_(g), serial_(serial), pl_(pl), out_(out) {}
  bool next(OpBlock& b) override {
    if (given_) return false;
    given_ = true;
    std::vector<Op> ops = g_.ops;
    pl_.plan(ops, g_.step, b);
    std::uint64_t extent = 0;
    for (const Tensor& t : g_.tensors)
      extent = std::max(extent, t.address + std::uint64_t(t.bytes));
    pl_.check_extent(extent);
    b.preds.assign(g_.size(), {});
    for (std::size_t i = 0; i < g_.size(); ++i)
      b.preds[i].assign(g_.preds[i].begin(), g_.preds[i].end());
    b.read_address = g_.read_address, b.write_address = g_.write_address;
    if (serial_) {
      const std::vector<int> order = g_.serial_order();
      b.serial_order.assign(order.begin(), order.end());
    }
    return true;
  }
  void retire(std::vector<OpRecord>& recs) override {
    for (OpRecord& r : recs) {
      BlockPlanner::finish(r);
      out_.push_back(std::move(r));
    }
  }

 private:
  const OpGraph& g_;
  const bool serial_;
  BlockPlanner& pl_;
  std::vector<OpRecord>& out_;
  bool given_ = false;
};

// A workload pass by pass, its edges and memory map those of lower_workload's graph.
class WorkloadSource : public OpSource {
 public:
  WorkloadSource(const ModelSpec& m, const WorkloadSpec& w, AttentionOps attention,
                 BlockPlanner& pl, const std::function<void(const OpRecord&)>& sink)
      : m_(m), w_(w), attention_(attention), pl_(pl), sink_(sink) {
    pl_.passes = w_.passes();
    // The whole run's memory map against a command-level DRAM's capacity, before the kernel
    // exists: lowering every pass once more costs far less than simulating it, and the error
    // then comes before any simulated time (and as a plain exception: see run_engine).
    if (pl_.has_dram_capacity()) {
      GraphBuilder whole;
      for (int s = 0; s < w_.passes(); ++s) {
        const PassBlock b = whole.add_pass(lower_forward(m_, w_, s, attention_), s);
        whole.forget(b.first, std::vector<std::int64_t>(b.ops.size(), 0));
      }
      pl_.check_extent(whole.extent());
    }
  }
  ~WorkloadSource() override {
    if (shown_) std::cerr << "\n";
  }
  bool next(OpBlock& b) override {
    if (step_ >= w_.passes()) return false;
    PassBlock pb = builder_.add_pass(lower_forward(m_, w_, step_, attention_), step_);
    QACCEL_ASSERT(pb.first == b.first, "the engine and the graph number ops differently");
    pl_.plan(pb.ops, std::vector<int>(pb.ops.size(), step_), b);
    b.preds = std::move(pb.preds);
    b.read_address = std::move(pb.read_address), b.write_address = std::move(pb.write_address);
    for (std::size_t k = 0; k < b.size(); ++k)
      b.records[k].ready_cycle = pb.ready_floor_cycles[k];
    ++step_;
    progress();
    return true;
  }
  void retire(std::vector<OpRecord>& recs) override {
    std::vector<std::int64_t> ends;
    ends.reserve(recs.size());
    for (const OpRecord& r : recs)
      ends.push_back(r.end_cycle);
    builder_.forget(retired_, ends);
    retired_ += std::int64_t(recs.size());
    for (OpRecord& r : recs) {
      BlockPlanner::finish(r);
      sink_(r);
    }
  }

 private:
  // A long run on a terminal shows how far it is, once a second.
  void progress() {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now, shown_ = true;
    std::cerr << "\rrun: pass " << step_ << "/" << w_.passes() << " (" << builder_.ops() << " ops)"
              << std::flush;
  }
  const ModelSpec& m_;
  const WorkloadSpec& w_;
  AttentionOps attention_;
  BlockPlanner& pl_;
  const std::function<void(const OpRecord&)>& sink_;
  GraphBuilder builder_;
  int step_ = 0;
  std::int64_t retired_ = 0;
  const bool tty_ = ::isatty(STDERR_FILENO) == 1;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

std::vector<OpRecord> System::run(const OpGraph& g, bool record_memory) {
  BlockPlanner pl(*this);
  std::vector<OpRecord> records;
  records.reserve(g.size());
  GraphSource src(g, spec_.schedule == Schedule::serial, pl, records);
  engine_ = run_engine(spec_.dram, stats_, pl.units(), src,
                       {spec_.schedule, spec_.prefetch, record_memory});
  return records;
}

void System::run(const ModelSpec& m, const WorkloadSpec& w,
                 const std::function<void(const OpRecord&)>& sink, bool record_memory) {
  BlockPlanner pl(*this);
  WorkloadSource src(m, w, spec_.attention, pl, sink);
  engine_ = run_engine(spec_.dram, stats_, pl.units(), src,
                       {spec_.schedule, spec_.prefetch, record_memory});
}

void check_mapping(const config::SystemSpec& s, const ModelSpec& m, const WorkloadSpec& w) {
  const System sys(s);
  // The first pass (prefill or decode), the first decode step after a prompt, the last pass.
  const int last = std::max(0, w.passes() - 1);
  for (int step : {0, std::min(1, last), last})
    for (const Op& op : lower_forward(m, w, step, s.attention))
      sys.map(op);
}

void check_mapping(const config::SystemSpec& s) {
  const System sys(s);
  ModelSpec m;
  m.name = "mapping-probe";
  m.dim = 128, m.hidden_dim = 256, m.n_layers = 1, m.n_heads = 4, m.n_kv_heads = 2;
  m.vocab_size = 256, m.seq_len = 64;
  WorkloadSpec prefill, decode;
  prefill.name = "probe-prefill", prefill.phase = Phase::prefill, prefill.prompt_len = 16;
  decode.name = "probe-decode", decode.phase = Phase::decode, decode.context_len = 16;
  // Per op kind: whether some probe op of it maps, and the first refusal.
  std::map<std::string, std::string> refused;
  std::set<std::string> mapped;
  for (const char* scheme : {"fp32", "w8a8-g64"}) {
    m.quant = parse_scheme(scheme);
    for (const WorkloadSpec* w : {&prefill, &decode})
      for (const Op& op : lower_forward(m, *w, 0, s.attention)) {
        const std::string kind(to_string(op.kind));
        try {
          sys.map(op);
          mapped.insert(kind);
        } catch (const ConfigError& e) {
          refused.emplace(kind, e.what());
        }
      }
  }
  for (const auto& [kind, why] : refused)
    if (!mapped.count(kind))
      throw ConfigError(why + " (no unit the mapping names can run any " + kind + " op)");
}

RunTotals System::totals(const std::vector<OpRecord>& records) const {
  RunTotals t;
  for (const OpRecord& r : records)
    add_to_totals(t, r);
  finish_totals(t);
  return t;
}

void System::add_to_totals(RunTotals& t, const OpRecord& r) const {
  using checked::accumulate;
  t.cycles = std::max(t.cycles, r.end_cycle);
  accumulate(t.compute_cycles, r.cost.compute_cycles, "the run's compute cycles");
  accumulate(t.stall_cycles, r.cost.stall_cycles, "the run's stall cycles");
  accumulate(t.macs, r.cost.macs, "the run's MACs");
  accumulate(t.flops, r.cost.flops, "the run's FLOPs");
  accumulate(t.dram_bytes, r.cost.dram_read_bytes, "the run's DRAM bytes");
  accumulate(t.dram_bytes, r.cost.dram_write_bytes, "the run's DRAM bytes");
  accumulate(t.sram_bytes, r.cost.sram_read_bytes, "the run's SRAM bytes");
  accumulate(t.sram_bytes, r.cost.sram_write_bytes, "the run's SRAM bytes");
  t.energy_pj_by_component[r.unit + ".compute"] += r.cost.compute_pj;
  t.energy_pj_by_component[r.unit + ".sram"] += r.cost.sram_pj;
  t.energy_pj_by_component["dram"] += r.cost.dram_pj;
  t.dynamic_pj += r.cost.energy_pj();
}

void System::finish_totals(RunTotals& t) const {
  // Leakage: mW x ns = pJ, over the whole run, for every unit and the global buffer.
  double leak_mw =
      spec_.global_buffer_kib * spec_.tech.sram_area_mm2_per_kib * spec_.tech.leakage_mw_per_mm2;
  for (const auto& u : units_)
    leak_mw += u->leakage_mw();
  t.leakage_pj = leak_mw * ns(t.cycles);
  t.energy_pj_by_component["leakage"] = t.leakage_pj;
}

}  // namespace qaccel
