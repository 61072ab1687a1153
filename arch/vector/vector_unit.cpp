// A SIMD vector unit for everything the array does not run: norms, RoPE, softmax, SiLU, adds,
// float32 attention over the KV cache, embedding gathers, and float matmuls as a fallback.
//
// Cycle model (documented, deliberately simple):
//   compute = ceil(flops / lanes) + latency, or ceil(elements / lanes) + latency for pure data
//   movement (embedding, kv_append), one float op per lane per cycle;
//   memory  = the op's DRAM bytes (weights, KV cache, activations that overflow the global
//   buffer) read as one stream through the memory socket, overlapped with compute, then the
//   writes (KV appends, spilled outputs);
//   cycles  = max(compute, memory) as the unit's module plays it out; stall = cycles - compute.
#include <algorithm>

#include "arch/common/unit.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel::vector {

namespace {

using i64 = std::int64_t;

struct VectorSpec {
  int lanes = 64;
  int latency_cycles = 8;
  int buffer_kib = 256;
};

class VectorUnit final : public Unit {
 public:
  VectorUnit(const std::string& name, const VectorSpec& s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(s),
        busy_(ctx.stats.add(name + ".compute_cycles", "cycles",
                            "cycles the lanes compute (incl. pipeline latency)")),
        flops_(ctx.stats.add(name + ".flops", "flops", "float32 operations")),
        sram_(ctx.stats.add(name + ".sram_bytes", "bytes", "buffer bytes read and written")) {}

  std::string_view impl() const override { return "vector"; }
  bool supports(const Op&, std::string*) const override { return true; }

  OpPlan plan(const Op& op) override {
    using checked::add;
    OpPlan pl;
    OpCost& c = pl.cost;
    c.macs = op.macs, c.flops = op.flops;
    i64 work = op.flops > 0 ? op.flops : op.elements;
    c.compute_cycles = checked::ceil_div(work, s_.lanes) + s_.latency_cycles;
    const i64 act = add("activation bytes", op.act_read_bytes, op.act_write_bytes);
    const bool act_in_dram = act > ctx_.global_buffer_bytes;
    c.dram_read_bytes = add("DRAM read bytes", op.weight_bytes, op.kv_read_bytes,
                            act_in_dram ? op.act_read_bytes : 0);
    c.dram_write_bytes =
        add("DRAM write bytes", op.kv_write_bytes, act_in_dram ? op.act_write_bytes : 0);
    c.sram_read_bytes = add("SRAM bytes", op.act_read_bytes, op.weight_bytes, op.kv_read_bytes);
    c.sram_write_bytes = op.act_write_bytes;
    pl.timing = OpPlan::Timing::stream;
    pl.fold_cycles = pl.last_fold_cycles = c.compute_cycles;
    c.compute_pj = double(op.flops) * ctx_.tech.vector_flop_pj;
    c.sram_pj =
        (double(c.sram_read_bytes) + double(c.sram_write_bytes)) * ctx_.tech.sram(s_.buffer_kib);
    c.dram_pj = (double(c.dram_read_bytes) + double(c.dram_write_bytes)) * ctx_.dram_pj_per_byte;
    busy_ += double(c.compute_cycles), flops_ += double(op.flops);
    sram_ += double(c.sram_read_bytes) + double(c.sram_write_bytes);
    return pl;
  }

  double peak_flops_per_cycle() const override { return s_.lanes; }
  double area_mm2() const override {
    return s_.lanes * ctx_.tech.vector_lane_area_mm2 +
           s_.buffer_kib * ctx_.tech.sram_area_mm2_per_kib;
  }

 private:
  VectorSpec s_;
  double &busy_, &flops_, &sram_;
};

std::unique_ptr<Unit> make(const std::string& name, const ParamValues& v, UnitContext& ctx) {
  VectorSpec s;
  s.lanes = int(v.integer("lanes"));
  s.latency_cycles = int(v.integer("latency_cycles"));
  s.buffer_kib = int(v.integer("buffer_kib"));
  return std::make_unique<VectorUnit>(name, s, ctx);
}

const RegisterUnit reg(
    {"vector",
     "SIMD float32 vector unit: norms, RoPE, softmax, attention, activations, fallback matmuls",
     {param::integer("lanes", 1, 1 << 16, param::required, "",
                     "SIMD lanes, one float32 operation each per cycle"),
      param::integer("latency_cycles", 0, 1 << 16, 8, "cycles",
                     "pipeline latency added to every op"),
      param::integer("buffer_kib", 1, 1 << 20, 256, "KiB",
                     "local buffer, for SRAM energy and area")},
     make});

}  // namespace

}  // namespace qaccel::vector
