// The systolic array as a Unit: quantized matmuls (matmul, gemv, classifier) on an R x C grid,
// compute cycles from the array core (arch/systolic/array.hpp), plus stall cycles when the
// memory port cannot deliver the next fold's operands during the current fold.
//
// Memory model (documented choices):
// - Weights (and activations larger than the global buffer) come from DRAM. Reuse follows the
//   dataflow: the stationary operand is fetched once; a streamed operand is fetched once if it
//   fits its buffer half (double buffering), else once per outer fold that re-streams it.
// - An op's DRAM bytes are spread evenly over its folds. Fold 0's operands are fetched before
//   it starts (latency exposed); fold i+1's are prefetched during fold i, so a fold waits only
//   when its fetch outlasts the previous fold's compute. Output write-back overlaps the next
//   fold; the last write-back is charged to the op.
// - SRAM traffic: every operand byte entering the array is a buffer read; every byte fetched
//   from DRAM or produced is a buffer write.
#include <algorithm>
#include <cmath>

#include "arch/common/unit.hpp"
#include "arch/systolic/array.hpp"
#include "sim/base/error.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel::systolic {

namespace {

using i64 = std::int64_t;

struct SystolicSpec {
  ArraySpec array;
  int weight_bits = 8, act_bits = 8, acc_bits = 32;
  int ibuf_kib = 64, wbuf_kib = 64, obuf_kib = 64;
  bool stepping = false;  // per-cycle stepping in functional runs (slow; for validation)
};

class SystolicUnit final : public Unit {
 public:
  SystolicUnit(const std::string& name, const SystolicSpec& s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(s),
        busy_(ctx.stats.add(name + ".compute_cycles", "cycles",
                            "cycles the array computes (fill + stream + drain)")),
        stall_(ctx.stats.add(name + ".stall_cycles", "cycles",
                             "cycles the array waits for operands from memory")),
        macs_(ctx.stats.add(name + ".macs", "macs",
                            "multiply-accumulates of real (unpadded) operands")),
        folds_(ctx.stats.add(name + ".folds", "folds", "array folds (tiles mapped onto the grid)")),
        sram_rd_(
            ctx.stats.add(name + ".sram_read_bytes", "bytes", "buffer bytes read into the array")),
        sram_wr_(ctx.stats.add(name + ".sram_write_bytes", "bytes",
                               "buffer bytes written (fills and outputs)")) {}

  std::string_view impl() const override { return "systolic"; }

  bool supports(const Op& op, std::string* why) const override {
    auto no = [&](const std::string& w) {
      if (why) *why = w;
      return false;
    };
    if (!has_weights(op.kind)) return no("the array runs weight matmuls only");
    if (op.weight_bits == 32) return no("float32 weights (the array multiplies integers)");
    if (op.weight_bits > s_.weight_bits || op.act_bits > s_.act_bits)
      return no("operands w" + std::to_string(op.weight_bits) + "a" + std::to_string(op.act_bits) +
                " exceed the PEs' w" + std::to_string(s_.weight_bits) + "a" +
                std::to_string(s_.act_bits));
    // The PE accumulator must hold a whole group's exact sum.
    double bound = double(op.group == 0 ? op.k : op.group) *
                   double((1 << (op.weight_bits - 1)) - 1) * double((1 << (op.act_bits - 1)) - 1);
    if (std::log2(bound) + 1 > s_.acc_bits)
      return no("a group sum needs " + std::to_string(int(std::ceil(std::log2(bound) + 1))) +
                " accumulator bits, PEs have " + std::to_string(s_.acc_bits));
    return true;
  }

  OpCost execute(const Op& op, i64 start) override {
    QACCEL_ASSERT(supports(op, nullptr), "op " + op.name + " mapped to a unit that cannot run it");
    GemmShape g{op.m, op.n, op.k, op.group};
    FoldPlan p = plan(s_.array, g);
    const i64 folds = p.folds(), cpf = p.cycles_per_fold(s_.array);
    const i64 w_bytes = op.weight_bytes, a_bytes = op.act_read_bytes, o_bytes = op.act_write_bytes;
    const bool act_in_dram = a_bytes + o_bytes > ctx_.global_buffer_bytes;
    const bool a_fits = a_bytes <= i64(s_.ibuf_kib) * 512,
               w_fits = w_bytes <= i64(s_.wbuf_kib) * 512;
    i64 w_reads = 1, a_reads = 1;
    switch (s_.array.dataflow) {
      case Dataflow::ws:
        a_reads = a_fits ? 1 : p.col_folds;
        break;
      case Dataflow::os:
        a_reads = a_fits ? 1 : p.col_folds;
        w_reads = w_fits ? 1 : p.row_folds;
        break;
      case Dataflow::is:
        w_reads = w_fits ? 1 : p.col_folds;
        break;
    }
    OpCost c;
    c.macs = op.macs, c.flops = op.flops;
    c.dram_read_bytes = w_bytes * w_reads + (act_in_dram ? a_bytes * a_reads : 0);
    c.dram_write_bytes = act_in_dram ? o_bytes : 0;
    c.sram_write_bytes = w_bytes * w_reads + a_bytes * a_reads + o_bytes;
    c.sram_read_bytes =
        w_bytes * w_reads + a_bytes * a_reads + o_bytes;  // into the array; outputs out

    // Fold pipeline against the memory port.
    const i64 per_fold = (c.dram_read_bytes + folds - 1) / folds;
    i64 ready = ctx_.dram.transfer(per_fold, false, start, true);
    i64 t = start;
    for (i64 f = 0; f < folds; ++f) {
      i64 begin = std::max(t, ready);
      if (f + 1 < folds) {
        i64 bytes = std::min(per_fold, c.dram_read_bytes - per_fold * (f + 1));
        ready = ctx_.dram.transfer(std::max<i64>(bytes, 0), false, begin, false);
      }
      t = begin + cpf;
    }
    if (c.dram_write_bytes) t = ctx_.dram.transfer(c.dram_write_bytes, true, t, true);
    c.compute_cycles = folds * cpf;
    c.cycles = t - start;
    c.stall_cycles = c.cycles - c.compute_cycles;

    c.compute_pj = double(c.macs) * ctx_.tech.mac(s_.weight_bits, s_.act_bits);
    double buf_kib = double(s_.ibuf_kib + s_.wbuf_kib + s_.obuf_kib) / 3.0;
    c.sram_pj = double(c.sram_read_bytes + c.sram_write_bytes) * ctx_.tech.sram(buf_kib);
    c.dram_pj = double(c.dram_read_bytes + c.dram_write_bytes) * ctx_.dram_pj_per_byte;
    busy_ += double(c.compute_cycles), stall_ += double(c.stall_cycles), macs_ += double(c.macs);
    folds_ += double(folds), sram_rd_ += double(c.sram_read_bytes),
        sram_wr_ += double(c.sram_write_bytes);
    return c;
  }

  double peak_flops_per_cycle() const override { return 2.0 * s_.array.rows * s_.array.cols; }

  double area_mm2() const override {
    return double(s_.array.rows) * s_.array.cols * ctx_.tech.pe_area(s_.weight_bits, s_.act_bits) +
           double(s_.ibuf_kib + s_.wbuf_kib + s_.obuf_kib) * ctx_.tech.sram_area_mm2_per_kib;
  }

  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
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

 private:
  SystolicSpec s_;
  double &busy_, &stall_, &macs_, &folds_, &sram_rd_, &sram_wr_;
};

std::unique_ptr<Unit> make(const std::string& name, config::MapReader& r, UnitContext& ctx) {
  SystolicSpec s;
  s.array.rows = int(r.integer("rows", 1, 4096));
  s.array.cols = int(r.integer("cols", 1, 4096));
  s.array.dataflow = parse_dataflow(r.choice("dataflow", {"ws", "os", "is"}, "ws"));
  s.weight_bits = int(r.integer("weight_bits", 2, 16, 8));
  s.act_bits = int(r.integer("act_bits", 8, 16, 8));
  s.acc_bits = int(r.integer("acc_bits", 16, 64, 32));
  s.ibuf_kib = int(r.integer("ibuf_kib", 1, 1 << 20, 64));
  s.wbuf_kib = int(r.integer("wbuf_kib", 1, 1 << 20, 64));
  s.obuf_kib = int(r.integer("obuf_kib", 1, 1 << 20, 64));
  s.stepping = r.boolean("stepping", false);
  return std::make_unique<SystolicUnit>(name, s, ctx);
}

const RegisterUnit reg(
    {"systolic",
     "TPU-style R x C systolic array (WS/OS/IS), integer PEs, int32 accumulators",
     {{"rows", "int", "PE rows"},
      {"cols", "int", "PE columns"},
      {"dataflow", "ws|os|is", "weight-, output- or input-stationary (default ws)"},
      {"weight_bits", "int", "widest weight operand of a PE (default 8)"},
      {"act_bits", "int", "widest activation operand of a PE (default 8)"},
      {"acc_bits", "int", "PE accumulator width (default 32)"},
      {"ibuf_kib", "int", "input buffer, double-buffered (default 64)"},
      {"wbuf_kib", "int", "weight buffer, double-buffered (default 64)"},
      {"obuf_kib", "int", "output buffer (default 64)"},
      {"stepping", "bool", "per-cycle stepping for functional matmuls (default false)"}},
     make});

}  // namespace

}  // namespace qaccel::systolic
