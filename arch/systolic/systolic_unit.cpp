// The systolic array as a Unit: quantized matmuls (matmul, gemv, classifier) on an R x C grid,
// compute cycles from the array core (arch/systolic/array.hpp), plus stall cycles when memory
// cannot deliver the next fold's operands during the current fold. The unit plans an op as
// folds (OpPlan); its SystemC module (sim/engine) issues the fetches through the memory socket.
//
// Memory model (documented choices):
// - Weights (and activations larger than the global buffer) come from DRAM. Reuse follows the
//   dataflow: the stationary operand is fetched once; a streamed operand is fetched once if it
//   fits its buffer half (double buffering), else once per outer fold that re-streams it.
// - An op's DRAM bytes are spread evenly over its folds. Fold 0's operands are fetched before
//   it starts (latency exposed, unless `prefetch: next_op` fetched them during the previous
//   op); fold i+1's are fetched during fold i, so a fold waits only when its fetch outlasts
//   the previous fold's compute. The write-back follows the last fold and is charged to the op.
// - SRAM traffic: every operand byte entering the array is a buffer read; every byte fetched
//   from DRAM or produced is a buffer write. A buffer must deliver one array edge of operands
//   per streaming cycle (WS: R activations; OS: R activations and C weights; IS: R weights);
//   a buffer slower than that stretches each fold's stream (buffer stall cycles). By default
//   the buffers are matched to the array, which gives SCALE-Sim's figures.
//
// PE types (`pe`), all with the same cycle model (one MAC per PE per cycle):
// - int: integer multipliers of weight_bits x act_bits with acc_bits accumulators; they
//   multiply integer codes (a codebook format's decoded value). Energy and area: the tech
//   table's WxA entries.
// - fp16: FP16 multiply-add PEs (the W16A16 baseline). They take binary16 operands: fp16 and
//   fp8 weights and inputs, and integer codes binary16 holds exactly (weights with codes up to
//   2^11, int8 inputs). Each PE keeps its group's sum exact (an exact, Kulisch-style group
//   accumulator), so outputs equal the contract (qmatmul) bit for bit. weight_bits, act_bits
//   and acc_bits do not apply. Energy and area: the tech table's named `fp16` PE.
// - ant, olive: int PEs behind ANT's (flint) or OliVe's (outlier-victim pair) decoder: plain
//   integer formats plus flint4 (ant) or olive4 (olive), with the int PEs' numerics and cycles.
//   Energy and area: the WxA int PE plus the named `ant_decoder` / `olive_decoder` overhead per
//   PE (configs/tech/45nm.yaml gives the papers' figures and how they were scaled).
#include <algorithm>
#include <cmath>

#include "arch/common/sram.hpp"
#include "arch/common/unit.hpp"
#include "arch/systolic/array.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel::systolic {

namespace {

using i64 = std::int64_t;

enum class Pe { int_, fp16, ant, olive };

Pe parse_pe(const std::string& s) {
  if (s == "fp16") return Pe::fp16;
  if (s == "ant") return Pe::ant;
  if (s == "olive") return Pe::olive;
  return Pe::int_;
}

struct SystolicSpec {
  ArraySpec array;
  Pe pe = Pe::int_;
  int weight_bits = 8, act_bits = 8, acc_bits = 32;
  int ibuf_kib = 64, wbuf_kib = 64, obuf_kib = 64;
  double ibuf_bytes_per_cycle = 0, wbuf_bytes_per_cycle = 0;  // 0: matched to the array edge
  bool stepping = false;  // per-cycle stepping in functional runs (slow; for validation)
  // Operand widths the buffers are matched to: binary16 for FP16 PEs.
  int pe_weight_bits() const { return pe == Pe::fp16 ? 16 : weight_bits; }
  int pe_act_bits() const { return pe == Pe::fp16 ? 16 : act_bits; }
};

// decode_half (workloads/quant.hpp), inline: the fp16 PEs decode every weight of every matmul,
// and the out-of-line call was most of a functional run's time. The same sig and e2 for every
// finite pattern; infinities and NaNs set `nan` (their sig is then never read).
inline ElemTerm decode_binary16(std::uint16_t h) {
  const unsigned e = (h >> 10) & 0x1fu;
  const std::int32_t m = std::int32_t((h & 0x3ffu) | (e ? 0x400u : 0u));
  return ElemTerm{(h & 0x8000u) ? -m : m, int(e ? e - 1 : 0) - 24, e == 31};
}

bool plain_int(WeightFormat f) {
  return (f >= WeightFormat::int2 && f <= WeightFormat::int8) ||
         (f >= WeightFormat::int2asym && f <= WeightFormat::int8asym);
}

class SystolicUnit final : public Unit {
 public:
  SystolicUnit(const std::string& name, const SystolicSpec& s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(s),
        busy_(ctx.stats.add(name + ".compute_cycles", "cycles",
                            "cycles the array computes (fill + stream + drain)")),
        macs_(ctx.stats.add(name + ".macs", "macs",
                            "multiply-accumulates of real (unpadded) operands")),
        folds_(ctx.stats.add(name + ".folds", "folds", "array folds (tiles mapped onto the grid)")),
        buf_stall_(
            ctx.stats.add(name + ".buffer_stall_cycles", "cycles",
                          "cycles the stream waits for a buffer slower than the array edge")),
        ibuf_(name + ".ibuf",
              buffer(s.ibuf_kib, s.ibuf_bytes_per_cycle, s.array.rows * s.pe_act_bits() / 8.0),
              ctx.stats),
        wbuf_(name + ".wbuf",
              buffer(s.wbuf_kib, s.wbuf_bytes_per_cycle,
                     std::max(s.array.rows, s.array.cols) * s.pe_weight_bits() / 8.0),
              ctx.stats),
        obuf_(name + ".obuf", buffer(s.obuf_kib, 0, s.array.cols * 4.0), ctx.stats) {}

  std::string_view impl() const override { return "systolic"; }

  bool supports(const Op& op, std::string* why) const override {
    auto no = [&](const std::string& w) {
      if (why) *why = w;
      return false;
    };
    if (!has_weights(op.kind)) return no("the array runs weight matmuls only");
    if (s_.pe == Pe::fp16) return supports_fp16(op, no);
    if (op.weight_bits == 32) return no("float32 weights (the array multiplies integers)");
    const WeightFormatInfo& wf = info(op.wformat);
    if (wf.elem != Elem::int_code)
      return no(std::string(wf.name) + " weights (the array's PEs multiply integers)");
    if (op.aformat != ActFormat::int8 && op.aformat != ActFormat::int16)
      return no(std::string(to_string(op.aformat)) + " inputs (the array's PEs multiply integers)");
    // A decoder PE decodes plain integers and its paper's own format, nothing else.
    if (s_.pe == Pe::ant && !plain_int(op.wformat) && op.wformat != WeightFormat::flint4)
      return no(std::string(wf.name) + " weights (ANT's decoder takes integer and flint4 codes)");
    if (s_.pe == Pe::olive && !plain_int(op.wformat) && op.wformat != WeightFormat::olive4)
      return no(std::string(wf.name) + " weights (OliVe's decoder takes integer and olive4 codes)");
    // A PE multiplies the weight's integer code (a codebook format's decoded value).
    const int wbits = code_bits(op.wformat);
    if (wbits > s_.weight_bits || op.act_bits > s_.act_bits)
      return no("operands " + op.dtype + " (" + std::to_string(wbits) + "-bit weight codes, " +
                std::to_string(op.act_bits) + "-bit inputs) exceed the PEs' w" +
                std::to_string(s_.weight_bits) + "a" + std::to_string(s_.act_bits));
    // The PE accumulator must hold a whole group's exact sum.
    double bound = double(op.group == 0 ? op.k : op.group) * double(wf.code_max) *
                   double((1 << (op.act_bits - 1)) - 1);
    if (std::log2(bound) + 1 > s_.acc_bits)
      return no("a group sum needs " + std::to_string(int(std::ceil(std::log2(bound) + 1))) +
                " accumulator bits, PEs have " + std::to_string(s_.acc_bits));
    return true;
  }

  // FP16 PEs take what binary16 holds exactly (see the header comment).
  template <class No>
  bool supports_fp16(const Op& op, No no) const {
    const WeightFormatInfo& wf = info(op.wformat);
    if (op.weight_bits == 32 || wf.elem == Elem::f32)
      return no("float32 weights (the FP16 PEs multiply binary16 values)");
    if (wf.elem == Elem::bf16)
      return no(std::string(wf.name) + " weights (bfloat16's exponent range is not binary16's)");
    if (wf.elem == Elem::int_code && wf.code_max > kHalfExactInt)
      return no(std::string(wf.name) + " weights (codes up to " + std::to_string(wf.code_max) +
                " are not all binary16 values)");
    switch (op.aformat) {
      case ActFormat::fp16:
      case ActFormat::fp8e4m3:
      case ActFormat::fp8e5m2:
      case ActFormat::int8:  // |q| <= 127: binary16 values
        return true;
      case ActFormat::int16:
        return no("int16 inputs (codes beyond 2048 are not all binary16 values)");
      case ActFormat::bf16:
        return no("bf16 inputs (bfloat16's exponent range is not binary16's)");
    }
    return no("unknown input format");
  }
  static constexpr int kHalfExactInt = 2048;  // binary16 holds every integer up to 2^11

  // Energy of one MAC and area of one PE, by PE type.
  double pe_mac_pj() const {
    const TechSpec& t = ctx_.tech;
    switch (s_.pe) {
      case Pe::fp16:
        return t.mac_named("fp16");
      case Pe::ant:
        return t.mac(s_.weight_bits, s_.act_bits) + t.mac_named("ant_decoder");
      case Pe::olive:
        return t.mac(s_.weight_bits, s_.act_bits) + t.mac_named("olive_decoder");
      case Pe::int_:
        break;
    }
    return t.mac(s_.weight_bits, s_.act_bits);
  }
  double pe_area() const {
    const TechSpec& t = ctx_.tech;
    switch (s_.pe) {
      case Pe::fp16:
        return t.pe_area_named("fp16");
      case Pe::ant:
        return t.pe_area(s_.weight_bits, s_.act_bits) + t.pe_area_named("ant_decoder");
      case Pe::olive:
        return t.pe_area(s_.weight_bits, s_.act_bits) + t.pe_area_named("olive_decoder");
      case Pe::int_:
        break;
    }
    return t.pe_area(s_.weight_bits, s_.act_bits);
  }

  // Every count is checked: a large GEMM re-streamed over many folds can pass 2^63 bytes
  // (System::run names the op and unit in the error).
  OpPlan plan(const Op& op) override {
    using checked::add, checked::mul;
    QACCEL_ASSERT(supports(op, nullptr), "op " + op.name + " mapped to a unit that cannot run it");
    GemmShape g{op.m, op.n, op.k, op.group};
    FoldPlan p = systolic::plan(s_.array, g);
    const i64 folds = p.folds(), cpf = p.cycles_per_fold(s_.array);
    const i64 w_bytes = op.weight_bytes, a_bytes = op.act_read_bytes, o_bytes = op.act_write_bytes;
    const bool act_in_dram = a_bytes + o_bytes > ctx_.global_buffer_bytes;
    // Double buffering: an operand is reused across folds when it fits half its buffer.
    const bool a_fits = a_bytes <= ibuf_.spec().capacity_bytes / 2,
               w_fits = w_bytes <= wbuf_.spec().capacity_bytes / 2;
    i64 w_reads = 1, a_reads = 1;
    double i_demand = 0, w_demand = 0;  // bytes per streaming cycle
    const double ab = op.act_bits / 8.0, wb = op.weight_bits / 8.0;
    switch (s_.array.dataflow) {
      case Dataflow::ws:
        a_reads = a_fits ? 1 : p.col_folds;
        i_demand = s_.array.rows * ab;
        break;
      case Dataflow::os:
        a_reads = a_fits ? 1 : p.col_folds;
        w_reads = w_fits ? 1 : p.row_folds;
        i_demand = s_.array.rows * ab, w_demand = s_.array.cols * wb;
        break;
      case Dataflow::is:
        w_reads = w_fits ? 1 : p.col_folds;
        w_demand = s_.array.rows * wb;
        break;
    }
    // Stream cycles a buffer needs for T edge vectors, beyond the T the array takes.
    auto stretch = [&](const Sram& b, double demand) {
      return demand > 0 ? std::max<i64>(0, b.cycles(checked::to_i64(
                                               "buffer bytes", std::ceil(double(p.t) * demand))) -
                                               p.t)
                        : i64(0);
    };
    const i64 extra = std::max(stretch(ibuf_, i_demand), stretch(wbuf_, w_demand));

    OpPlan pl;
    OpCost& c = pl.cost;
    c.macs = op.macs, c.flops = op.flops;
    const i64 w_traffic = mul("weight bytes", w_bytes, w_reads),
              a_traffic = mul("activation bytes", a_bytes, a_reads);
    const i64 w_dram = w_traffic, a_dram = act_in_dram ? a_traffic : 0;
    c.dram_read_bytes = add("DRAM read bytes", w_dram, a_dram);
    c.dram_write_bytes = act_in_dram ? o_bytes : 0;
    // Buffer traffic: fills (from DRAM through the DMA, or from the global buffer), reads into
    // the array, outputs written and drained. DRAM fills are counted in the buffer of the
    // larger DRAM operand (attribution only).
    Sram& dst = w_dram >= a_dram ? wbuf_ : ibuf_;
    dst.write(c.dram_read_bytes);
    ibuf_.write(a_traffic - a_dram), ibuf_.read(a_traffic);
    wbuf_.read(w_traffic);
    obuf_.write(o_bytes);
    obuf_.read(o_bytes);  // into the global buffer, or out to DRAM
    c.sram_read_bytes = add("SRAM bytes", w_traffic, a_traffic, o_bytes);
    c.sram_write_bytes = c.sram_read_bytes;

    // Fold pipeline (played out by the unit's module): fold f+1's share of the DRAM bytes is
    // prefetched during fold f; the write-back follows the last fold.
    pl.timing = OpPlan::Timing::folds;
    pl.folds = folds;
    // SCALE-Sim counts the last busy cycle's index: the last fold is one cycle shorter.
    pl.fold_cycles = add("cycles per fold", cpf, extra);
    pl.last_fold_cycles = pl.fold_cycles - 1;
    pl.first_fold_extra_cycles = p.first_fold_extra(s_.array);
    c.compute_cycles = p.compute_cycles(s_.array);
    pl.prefetchable = a_dram == 0;
    // During the last fold the weight buffer's fill half is idle: room for the next op.
    pl.prefetch_capacity_bytes = wbuf_.spec().capacity_bytes / 2;

    c.compute_pj = double(c.macs) * pe_mac_pj();
    c.sram_pj = 2.0 * (double(w_traffic) * ctx_.tech.sram(wbuf_.kib()) +
                       double(a_traffic) * ctx_.tech.sram(ibuf_.kib()) +
                       double(o_bytes) * ctx_.tech.sram(obuf_.kib()));
    c.dram_pj = (double(c.dram_read_bytes) + double(c.dram_write_bytes)) * ctx_.dram_pj_per_byte;
    busy_ += double(c.compute_cycles), macs_ += double(c.macs);
    folds_ += double(folds), buf_stall_ += double(folds) * double(extra);
    return pl;
  }

  double peak_flops_per_cycle() const override { return 2.0 * s_.array.rows * s_.array.cols; }

  double area_mm2() const override {
    return double(s_.array.rows) * s_.array.cols * pe_area() +
           double(s_.ibuf_kib + s_.wbuf_kib + s_.obuf_kib) * ctx_.tech.sram_area_mm2_per_kib;
  }

  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
    if (s_.pe == Pe::fp16) return matmul_fp16(rows, w, out);
    if (w.elem != Elem::int_code || rows.empty() || rows[0]->elem != Elem::int_code)
      return false;  // integer PEs (supports() refuses float operands)
    const i64 M = i64(rows.size()), N = w.rows, K = w.cols, G = w.group, groups = K / G;
    std::vector<std::int16_t> a(std::size_t(M * K));
    std::vector<float> xs(std::size_t(M * groups));
    for (i64 m = 0; m < M; ++m) {
      QACCEL_ASSERT(i64(rows[m]->q.size()) == K && rows[m]->group == G, "activation shape");
      std::copy(rows[m]->q.begin(), rows[m]->q.end(), a.begin() + m * K);
      std::copy(rows[m]->scales.begin(), rows[m]->scales.end(), xs.begin() + m * groups);
    }
    GemmShape g{M, N, K, G};
    std::vector<i64> acc;
    run_int_gemm(s_.array, IntGemm{a.data(), w.q.data(), g}, s_.stepping ? Mode::step : Mode::fast,
                 acc);
    out.resize(std::size_t(M * N));
    apply_scales(acc, g, xs.data(), w.scales.data(), out.data());
    return true;
  }

  // FP16 PEs: both operands decoded to sig * 2^e2 (integer codes as themselves), exact sums.
  bool matmul_fp16(const std::vector<const QActivation*>& rows, const QTensor& w,
                   std::vector<float>& out) {
    if (rows.empty() || w.elem == Elem::bf16 || w.elem == Elem::f32 ||
        rows[0]->elem == Elem::bf16 || rows[0]->elem == Elem::f32)
      return false;  // supports() refuses them
    const i64 M = i64(rows.size()), N = w.rows, K = w.cols, G = w.group, groups = K / G;
    auto decode = [](Elem e, std::int16_t q, std::uint16_t h) {
      return e == Elem::int_code ? ElemTerm{q, 0, false} : decode_binary16(h);
    };
    std::vector<ElemTerm> a(std::size_t(M * K));
    std::vector<float> xs(std::size_t(M * groups));
    for (i64 m = 0; m < M; ++m) {
      const QActivation& x = *rows[m];
      const bool xi = x.elem == Elem::int_code;
      QACCEL_ASSERT(i64(xi ? x.q.size() : x.h.size()) == K && x.group == G, "activation shape");
      for (i64 j = 0; j < K; ++j)
        a[std::size_t(m * K + j)] = decode(x.elem, xi ? x.q[j] : 0, xi ? 0 : x.h[j]);
      std::copy(x.scales.begin(), x.scales.end(), xs.begin() + m * groups);
    }
    const bool wi = w.elem == Elem::int_code;
    out.resize(std::size_t(M * N));
    // Stepping walks the whole GEMM through the array (its cycles are the plan's); the fast
    // mode takes blocks of output channels, so the decoded weights stay small (the classifier's
    // are vocab x dim). Each output's sums are independent: the blocks change no bit.
    const i64 block = s_.stepping ? N : std::min<i64>(N, 256);
    std::vector<HalfDotSum> acc;
    std::vector<float> part;
    for (i64 n0 = 0; n0 < N; n0 += block) {
      const i64 nb = std::min(block, N - n0);
      wt_.resize(std::size_t(nb * K));
      const std::size_t base = std::size_t(n0 * K);
      if (wi)
        for (std::size_t i = 0; i < wt_.size(); ++i)
          wt_[i] = ElemTerm{w.q[base + i], 0, false};
      else
        for (std::size_t i = 0; i < wt_.size(); ++i)
          wt_[i] = decode_binary16(w.h[base + i]);
      GemmShape g{M, nb, K, G};
      run_half_gemm(s_.array, HalfGemm{a.data(), wt_.data(), g},
                    s_.stepping ? Mode::step : Mode::fast, acc);
      part.resize(std::size_t(M * nb));
      apply_scales(acc, g, xs.data(), w.scales.data() + n0 * groups, part.data());
      for (i64 m = 0; m < M; ++m)
        std::copy_n(part.begin() + m * nb, nb, out.begin() + m * N + n0);
    }
    return true;
  }

 private:
  std::vector<ElemTerm> wt_;  // decoded weights of the current block (fp16 PEs)
  SystolicSpec s_;
  static SramSpec buffer(int kib, double bytes_per_cycle, double matched) {
    SramSpec b;
    b.capacity_bytes = std::int64_t(kib) * 1024;
    b.bytes_per_cycle = bytes_per_cycle > 0 ? bytes_per_cycle : std::max(1.0, matched);
    return b;
  }

  double &busy_, &macs_, &folds_, &buf_stall_;
  Sram ibuf_, wbuf_, obuf_;
};

std::unique_ptr<Unit> make(const std::string& name, const ParamValues& v, UnitContext& ctx) {
  SystolicSpec s;
  s.array.rows = int(v.integer("rows"));
  s.array.cols = int(v.integer("cols"));
  s.array.dataflow = parse_dataflow(v.choice("dataflow"));
  s.weight_bits = int(v.integer("weight_bits"));
  s.act_bits = int(v.integer("act_bits"));
  s.acc_bits = int(v.integer("acc_bits"));
  s.ibuf_kib = int(v.integer("ibuf_kib"));
  s.wbuf_kib = int(v.integer("wbuf_kib"));
  s.obuf_kib = int(v.integer("obuf_kib"));
  s.ibuf_bytes_per_cycle = v.number("ibuf_bytes_per_cycle");
  s.wbuf_bytes_per_cycle = v.number("wbuf_bytes_per_cycle");
  s.stepping = v.flag("stepping");
  s.array.os_drain_exposed = v.choice("os_drain") == "exposed";
  s.array.preload_double_buffered = v.choice("preload") == "double_buffered";
  s.pe = parse_pe(v.choice("pe"));
  // A PE type the tech table cannot cost is a config error now, not at the first op.
  if (s.pe != Pe::int_) {
    const std::string key = s.pe == Pe::fp16  ? "fp16"
                            : s.pe == Pe::ant ? "ant_decoder"
                                              : "olive_decoder";
    (void)ctx.tech.mac_named(key);
    (void)ctx.tech.pe_area_named(key);
  }
  return std::make_unique<SystolicUnit>(name, s, ctx);
}

const RegisterUnit reg(
    {"systolic",
     "TPU-style R x C systolic array (WS/OS/IS); integer, FP16, ANT or OliVe PEs",
     {param::integer("rows", 1, 4096, param::required, "PEs", "PE rows"),
      param::integer("cols", 1, 4096, param::required, "PEs", "PE columns"),
      param::choice("dataflow", {"ws", "os", "is"}, "ws", "weight-, output- or input-stationary"),
      param::choice("pe", {"int", "fp16", "ant", "olive"}, "int",
                    "PE type: integer MACs; FP16 MACs (W16A16 baseline: fp16/fp8 operands, exact "
                    "group sums); integer MACs behind ANT's flint or OliVe's outlier-victim-pair "
                    "decoder"),
      param::integer("weight_bits", 2, 16, 8, "bits",
                     "widest weight operand of an int/ant/olive PE (fp16: binary16)"),
      param::integer("act_bits", 8, 16, 8, "bits",
                     "widest activation operand of an int/ant/olive PE (fp16: binary16)"),
      param::integer("acc_bits", 16, 64, 32, "bits",
                     "accumulator width of an int/ant/olive PE (fp16: exact group sums)"),
      param::integer("ibuf_kib", 1, 1 << 20, 64, "KiB", "input buffer, double-buffered"),
      param::integer("wbuf_kib", 1, 1 << 20, 64, "KiB", "weight buffer, double-buffered"),
      param::integer("obuf_kib", 1, 1 << 20, 64, "KiB", "output buffer"),
      param::number("ibuf_bytes_per_cycle", 0.0, 1e9, 0.0, "bytes/cycle",
                    "input buffer bandwidth; 0: matched to R activations"),
      param::number("wbuf_bytes_per_cycle", 0.0, 1e9, 0.0, "bytes/cycle",
                    "weight buffer bandwidth; 0: matched to the array edge"),
      param::flag("stepping", false, "per-cycle stepping for functional matmuls (slow)"),
      param::choice("os_drain", {"overlapped", "exposed"}, "overlapped",
                    "OS results drain during the next fold (SCALE-Sim) or take R more cycles "
                    "per fold"),
      param::choice("preload", {"serial", "double_buffered"}, "serial",
                    "WS/IS stationary tile: loaded before each fold (SCALE-Sim) or during the "
                    "previous fold's stream, only the first fold paying R cycles")},
     make});

}  // namespace

}  // namespace qaccel::systolic
