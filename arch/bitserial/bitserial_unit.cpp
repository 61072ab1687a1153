// The bit-serial PE array as a Unit (arch/bitserial/pe_array.hpp has the cycle and numeric
// model). Weight matmuls (matmul, gemv, classifier) whose weights are integer codes (ints,
// codebooks, MX, NVFP4) and whose inputs are integers (int8, int16) or binary16 (fp16, fp8).
//
// Memory model (as the systolic unit's, documented choices):
// - Weights (and activations larger than the global buffer) come from DRAM. A token tile
//   streams every weight of its channels; the weights are fetched once when they fit half the
//   weight buffer (double buffering), else once per token tile.
// - The op is planned as folds, one per tile: a tile's share of the DRAM bytes is fetched
//   during the previous tile (the first before it starts); the write-back follows the last.
// - Energy: every occupied PE burns the tech table's `bitserial_pe` energy per cycle of its
//   tile; idle PEs only leak (area). Buffers: weight and input bytes read into the PEs and
//   written by the fills, outputs written and drained.
#include <algorithm>

#include "arch/bitserial/pe_array.hpp"
#include "arch/common/sram.hpp"
#include "arch/common/unit.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::bitserial {

namespace {

using i64 = std::int64_t;

struct UnitSpec {
  ArraySpec array;
  int ibuf_kib = 64, wbuf_kib = 64, obuf_kib = 64;
  bool stepping = false;
};

class BitSerialUnit final : public Unit {
 public:
  BitSerialUnit(const std::string& name, const UnitSpec& s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(s),
        busy_(ctx.stats.add(name + ".compute_cycles", "cycles",
                            "cycles the PE array computes (term cycles + dequantization)")),
        macs_(ctx.stats.add(name + ".macs", "macs", "multiply-accumulates of real operands")),
        terms_(ctx.stats.add(name + ".weight_terms", "terms",
                             "weight terms the lanes process (MACs x terms per weight)")),
        tiles_(ctx.stats.add(name + ".tiles", "tiles", "tiles mapped onto the PE array")),
        ibuf_(name + ".ibuf", buffer(s.ibuf_kib), ctx.stats),
        wbuf_(name + ".wbuf", buffer(s.wbuf_kib), ctx.stats),
        obuf_(name + ".obuf", buffer(s.obuf_kib), ctx.stats) {
    ctx_.tech.mac_named("bitserial_pe");  // a tech file without the PE is a config error now
    ctx_.tech.pe_area_named("bitserial_pe");
  }

  std::string_view impl() const override { return "bitserial"; }

  bool supports(const Op& op, std::string* why) const override {
    auto no = [&](const std::string& w) {
      if (why) *why = w;
      return false;
    };
    if (!has_weights(op.kind)) return no("the bit-serial array runs weight matmuls only");
    if (op.weight_bits == 32) return no("float32 weights (the PEs take weight codes)");
    const WeightFormatInfo& f = info(op.wformat);
    if (f.elem != Elem::int_code)
      return no(std::string(f.name) + " weights (the PEs take integer or codebook weights)");
    if (op.aformat == ActFormat::bf16)
      return no("bf16 inputs (the PEs take int8, int16, fp16 and fp8 activations)");
    return true;
  }

  OpPlan plan(const Op& op) override {
    using checked::add, checked::mul;
    QACCEL_ASSERT(supports(op, nullptr), "op " + op.name + " mapped to a unit that cannot run it");
    const int terms = table(op.wformat).terms();
    const i64 group = op.group == 0 ? op.k : op.group;
    const Mapping mp = map(s_.array, op.m, op.n);
    const i64 tiles = mp.tiles(), per_tile = tile_cycles(s_.array, op.k, group, terms);
    const i64 w_bytes = op.weight_bytes, a_bytes = op.act_read_bytes, o_bytes = op.act_write_bytes;
    const bool act_in_dram = a_bytes + o_bytes > ctx_.global_buffer_bytes;
    const i64 w_reads = w_bytes <= wbuf_.spec().capacity_bytes / 2 ? 1 : mp.token_tiles;
    const i64 a_reads = a_bytes <= ibuf_.spec().capacity_bytes / 2 ? 1 : mp.channel_tiles;

    OpPlan pl;
    OpCost& c = pl.cost;
    c.macs = op.macs, c.flops = op.flops;
    const i64 w_traffic = mul("weight bytes", w_bytes, w_reads),
              a_traffic = mul("activation bytes", a_bytes, a_reads);
    const i64 a_dram = act_in_dram ? a_traffic : 0;
    c.dram_read_bytes = add("DRAM read bytes", w_traffic, a_dram);
    c.dram_write_bytes = act_in_dram ? o_bytes : 0;
    wbuf_.write(w_traffic), wbuf_.read(w_traffic);
    ibuf_.write(a_traffic), ibuf_.read(a_traffic);
    obuf_.write(o_bytes), obuf_.read(o_bytes);
    c.sram_read_bytes = add("SRAM bytes", w_traffic, a_traffic, o_bytes);
    c.sram_write_bytes = c.sram_read_bytes;

    pl.timing = OpPlan::Timing::folds;
    pl.folds = tiles;
    pl.fold_cycles = pl.last_fold_cycles = per_tile;
    c.compute_cycles = mul("bit-serial cycles", tiles, per_tile);
    pl.prefetchable = a_dram == 0;
    pl.prefetch_capacity_bytes = wbuf_.spec().capacity_bytes / 2;

    // Each output occupies one PE for one tile: PE-cycles = M x N x tile cycles.
    const double pe_cycles = double(op.m) * double(op.n) * double(per_tile);
    c.compute_pj = pe_cycles * ctx_.tech.mac_named("bitserial_pe");
    c.sram_pj = 2.0 * (double(w_traffic) * ctx_.tech.sram(wbuf_.kib()) +
                       double(a_traffic) * ctx_.tech.sram(ibuf_.kib()) +
                       double(o_bytes) * ctx_.tech.sram(obuf_.kib()));
    c.dram_pj = (double(c.dram_read_bytes) + double(c.dram_write_bytes)) * ctx_.dram_pj_per_byte;
    busy_ += double(c.compute_cycles), macs_ += double(c.macs);
    terms_ += double(c.macs) * terms, tiles_ += double(tiles);
    return pl;
  }

  // Best case: one term per weight (a 1-term format), every lane busy.
  double peak_flops_per_cycle() const override {
    return 2.0 * s_.array.rows * s_.array.cols * s_.array.lanes;
  }

  double area_mm2() const override {
    return double(s_.array.rows) * s_.array.cols * ctx_.tech.pe_area_named("bitserial_pe") +
           double(s_.ibuf_kib + s_.wbuf_kib + s_.obuf_kib) * ctx_.tech.sram_area_mm2_per_kib;
  }

  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
    if (w.elem != Elem::int_code || rows.empty() || rows[0]->elem == Elem::bf16) return false;
    run(s_.array, table(w.format), rows, w, s_.stepping ? Mode::step : Mode::fast, out);
    return true;
  }

 private:
  static SramSpec buffer(int kib) {
    SramSpec b;
    b.capacity_bytes = std::int64_t(kib) * 1024;
    b.bytes_per_cycle = 1e9;  // matched to the PEs: BitMoD's buffers are not the bottleneck
    return b;
  }
  const TermTable& table(WeightFormat f) {
    auto it = tables_.find(f);
    if (it == tables_.end()) it = tables_.emplace(f, TermTable(f, s_.array.encoding)).first;
    return it->second;
  }

  UnitSpec s_;
  double &busy_, &macs_, &terms_, &tiles_;
  Sram ibuf_, wbuf_, obuf_;
  std::map<WeightFormat, TermTable> tables_;
};

std::unique_ptr<Unit> make(const std::string& name, const ParamValues& v, UnitContext& ctx) {
  UnitSpec s;
  s.array.rows = int(v.integer("rows"));
  s.array.cols = int(v.integer("cols"));
  s.array.lanes = int(v.integer("lanes"));
  s.array.encoding = v.choice("encoding") == "booth" ? Encoding::booth : Encoding::serial;
  s.array.dequant_cycles = int(v.integer("dequant_cycles"));
  s.ibuf_kib = int(v.integer("ibuf_kib"));
  s.wbuf_kib = int(v.integer("wbuf_kib"));
  s.obuf_kib = int(v.integer("obuf_kib"));
  s.stepping = v.flag("stepping");
  return std::make_unique<BitSerialUnit>(name, s, ctx);
}

const RegisterUnit reg(
    {"bitserial",
     "BitMoD/Stripes-style bit-serial PE array: one weight term per lane per cycle, any "
     "integer or codebook weight format, int8/int16/fp16/fp8 inputs, exact group sums",
     {param::integer("rows", 1, 4096, param::required, "PEs", "PE rows (output channels)"),
      param::integer("cols", 1, 4096, param::required, "PEs", "PE columns (tokens)"),
      param::integer("lanes", 1, 64, 4, "lanes", "multiplier lanes per PE (weights per step)"),
      param::choice("encoding", {"booth", "serial"}, "booth",
                    "booth: radix-4 Booth digits for integers, <= 2 power-of-two terms for "
                    "codebooks (BitMoD); serial: one weight bit per cycle (Stripes)"),
      param::integer("dequant_cycles", 1, 1024, 4, "cycles",
                     "bit-serial dequantization of one group sum (overlaps the next group)"),
      param::integer("ibuf_kib", 1, 1 << 20, 64, "KiB", "input buffer, double-buffered"),
      param::integer("wbuf_kib", 1, 1 << 20, 64, "KiB", "weight buffer, double-buffered"),
      param::integer("obuf_kib", 1, 1 << 20, 64, "KiB", "output buffer"),
      param::flag("stepping", false, "per-cycle stepping for functional matmuls (slow)")},
     make});

}  // namespace

}  // namespace qaccel::bitserial
