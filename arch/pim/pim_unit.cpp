// `impl: pim`: near-bank compute inside the command-level DRAM (memory.model: dram).
//
// style hbm_pim (Samsung HBM-PIM / Aquabolt-XL): a SIMD block per bank pair of every
// pseudo-channel; a GEMV's weights are laid out row-to-bank (hbm_pim.hpp) and the host drives
// every block at once with all-bank DRAM commands. The op's cycles are the kernel's command
// stream run on one pseudo-channel of the system's DRAM (all pseudo-channels run the same
// stream in lockstep), converted to system cycles; no weight byte crosses the DRAM bus.
//
// Numbers (integer weights, int8/int16 activations; bit for bit the quantization contract):
// each block lane multiplies its share of a burst's weights by the broadcast activations and
// accumulates the group's products in an `acc_bits` integer register (the unit refuses a group
// whose worst case could overflow it); the host logic adds the lanes of each group exactly
// and applies the weight and activation group scales in group order, as `qmatmul` does. So
// group and token scales are applied on the host side, integer partial sums in the banks.
//
// Sharing: a kernel goes to the memory as one request that holds every channel for its length
// (the kernel's length is computed on a private copy of one pseudo-channel, refreshes
// included). The memory serves requests in arrival order, so other units' requests wait while
// the banks are in PIM mode, and a kernel waits for what the channels already hold; the banks
// come back precharged. Refreshes that fall due meanwhile stall the kernel by a precharge and
// nRFC each.
// FP16 (W16A16, how HBM-PIM is measured): each lane multiplies binary16 weights by binary16
// activations and keeps its products' sum exactly (a wide fixed-point accumulator, where
// Aquabolt's lanes accumulate in FP16); the host logic adds the lanes exactly and rounds once
// to float32: the contract's fp16 matmul, so the split over lanes cannot change a bit.
// Not modelled yet: finer interleaving (a second row buffer, NeuPIMs style).
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "arch/common/memory.hpp"
#include "arch/common/unit.hpp"
#include "arch/pim/aim.hpp"
#include "arch/pim/hbm_pim.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::pim {

namespace {

struct PimSpec {
  bool aim = false;        // style: aim (a MAC per bank) or hbm_pim (a block per bank pair)
  int blocks_per_pch = 8;  // hbm_pim: PIM blocks per pseudo-channel (one per bank pair)
  int lanes = 16;          // SIMD lanes per block
  int acc_bits = 32;       // integer lane accumulator
  double mac_pj = 0;       // one lane MAC
  double block_area_mm2 = 0;
};

class PimUnit final : public Unit {
 public:
  PimUnit(const std::string& name, const PimSpec& s, UnitContext& ctx)
      : Unit(name, ctx),
        s_(s),
        cmds_(ctx.stats.add(name + ".mac_commands", "commands",
                            "all-bank column commands that ran a MAC in every block")),
        kernel_(ctx.stats.add(name + ".kernel_cycles", "cycles",
                              "system cycles of the PIM kernels (host commands included)")),
        acts_(ctx.stats.add(name + ".activates", "commands",
                            "ACT commands of the kernels, per pseudo-channel")),
        padding_(ctx.stats.add(name + ".padding_rows", "rows",
                               "output rows the layout pads (whole tiles or row batches)")),
        weight_rows_(ctx.stats.add(name + ".weight_dram_rows", "rows",
                                   "DRAM rows per bank all weight matrices occupy")) {}

  std::string_view impl() const override { return "pim"; }

  bool supports(const Op& op, std::string* why) const override {
    auto no = [&](const std::string& w) {
      if (why) *why = w;
      return false;
    };
    if (!ctx_.memory || !ctx_.memory->dram)
      return no("PIM needs the command-level DRAM (system.memory.model: dram)");
    if (op.kind != OpKind::gemv && op.kind != OpKind::matmul && op.kind != OpKind::classifier)
      return no("PIM runs weight GEMVs only");
    if (op.m != 1 || op.count != 1) return no("PIM runs one token at a time (m = 1)");
    const bool fp16 = op.wformat == WeightFormat::fp16 && op.aformat == ActFormat::fp16;
    if (!fp16 && op.wformat != WeightFormat::int8 && op.wformat != WeightFormat::int4)
      return no("PIM blocks take int8, int4 and fp16 weights (" + op.dtype + ")");
    if (!fp16 && op.aformat != ActFormat::int8 && op.aformat != ActFormat::int16)
      return no("activations must be int8 or int16 (" + op.dtype + ")");
    // Worst case of one lane's accumulator over a group.
    const double group = double(op.group ? op.group : op.k);
    const double worst = std::ceil(group / s_.lanes) * double((1 << (op.weight_bits - 1)) - 1) *
                         double((1 << (op.act_bits - 1)) - 1);
    if (!fp16 && worst >= std::ldexp(1.0, s_.acc_bits - 1))
      return no("a group of " + std::to_string(i64(group)) + " could overflow the " +
                std::to_string(s_.acc_bits) + "-bit lane accumulators");
    try {
      if (s_.aim)
        aim_layout(*ctx_.memory->dram, op.n, op.k, op.weight_bits, op.group);
      else
        layout(op);
    } catch (const OverflowError& e) {
      // Not a reason to run it elsewhere: the input asks for counts past 64 bits.
      throw OverflowError("op " + op.name + " on unit '" + name_ + "': " + e.what());
    } catch (const ConfigError& e) {
      return no(e.what());
    }
    return true;
  }

  OpPlan plan(const Op& op) override {
    const Kernel& k = kernel(op);
    // Every weight matrix keeps its own rows in the banks: the PIM area must hold them all.
    for (const TensorRef& t : op.reads)
      if (t.kind == TensorKind::weight && placed_.emplace(t.name, k.bank_rows).second) {
        checked::accumulate(rows_placed_, k.bank_rows, "PIM: DRAM rows of all weights");
        const i64 area = s_.aim ? ctx_.memory->dram->org.rows - 1 : 0x1000;
        if (rows_placed_ > area)
          throw ConfigError(
              "PIM unit '" + name_ + "': the weights need " + std::to_string(rows_placed_) +
              " DRAM rows in every bank, its area "
              "holds " +
              std::to_string(area) + " (" + std::to_string(rows_placed_ - area) + " rows short)");
      }
    OpPlan pl;
    OpCost& c = pl.cost;
    c.macs = op.macs, c.flops = op.flops;
    c.compute_cycles = k.system_cycles;
    pl.timing = OpPlan::Timing::stream;
    pl.memory_hold_cycles = k.system_cycles;  // the kernel drives the DRAM itself
    c.compute_pj = double(op.macs) * s_.mac_pj;
    // DRAM energy of the kernel's commands on every pseudo-channel (the weights never cross
    // the bus, so nothing is charged per byte).
    c.dram_pj = k.dram_pj;
    cmds_ += double(k.mac_commands), kernel_ += double(k.system_cycles);
    acts_ += double(k.activates), padding_ += double(k.padding_rows);
    weight_rows_ = double(rows_placed_);
    return pl;
  }

  double peak_flops_per_cycle() const override {
    if (!ctx_.memory || !ctx_.memory->dram) return 1;
    const dram::DramConfig& d = *ctx_.memory->dram;
    const double commands_per_ns = 1.0 / (d.timing.nCCDL * d.tck_ns());
    // A column command carries tx_bytes of weights: the densest format it takes (int4) gives
    // the peak, so every op's utilization stays at or under 100%.
    const double macs_per_command = double(d.org.tx_bytes) * 8 / 4;
    return 2.0 * pchs() * units_per_pch() * macs_per_command * commands_per_ns / ctx_.clock_ghz;
  }
  double area_mm2() const override { return pchs() * units_per_pch() * s_.block_area_mm2; }

  bool matmul(const std::vector<const QActivation*>& rows, const QTensor& w,
              std::vector<float>& out) override {
    if (w.fp16()) return matmul_fp16(rows, w, out);
    if (w.elem != Elem::int_code || rows.empty() || rows[0]->elem != Elem::int_code) return false;
    const int G = w.group, ng = w.groups_per_row();
    out.assign(rows.size() * std::size_t(w.rows), 0.0f);
    std::vector<std::int64_t> lane(std::size_t(s_.lanes));
    const std::int64_t limit = (std::int64_t(1) << (s_.acc_bits - 1)) - 1;
    for (std::size_t t = 0; t < rows.size(); ++t) {
      const QActivation& x = *rows[t];
      for (int r = 0; r < w.rows; ++r) {
        const std::int16_t* wr = w.q.data() + std::size_t(r) * std::size_t(w.cols);
        float val = 0.0f;
        for (int g = 0; g < ng; ++g) {
          // Banks: lane l takes elements l, l + lanes, ... of the group.
          std::fill(lane.begin(), lane.end(), 0);
          for (int j = 0; j < G; ++j) {
            std::int64_t& a = lane[std::size_t(j % s_.lanes)];
            a += std::int64_t(wr[g * G + j]) * std::int64_t(x.q[std::size_t(g * G + j)]);
            QACCEL_ASSERT(a <= limit && a >= -limit - 1, "PIM lane accumulator overflow");
          }
          // Host logic: the exact lane sum, then the scales in the contract's order.
          std::int64_t acc = 0;
          for (std::int64_t a : lane)
            acc += a;
          val += (static_cast<float>(acc) * w.scales[std::size_t(r) * ng + g]) * x.scales[g];
        }
        out[t * std::size_t(w.rows) + std::size_t(r)] = val;
      }
    }
    return true;
  }

 private:
  bool matmul_fp16(const std::vector<const QActivation*>& rows, const QTensor& w,
                   std::vector<float>& out) const {
    out.assign(rows.size() * std::size_t(w.rows), 0.0f);
    std::vector<HalfDotSum> lane(std::size_t(s_.lanes));
    for (std::size_t t = 0; t < rows.size(); ++t) {
      const QActivation& x = *rows[t];
      QACCEL_ASSERT(x.h.size() == std::size_t(w.cols), "fp16 activation shape");
      for (int r = 0; r < w.rows; ++r) {
        const std::uint16_t* wr = w.h.data() + std::size_t(r) * std::size_t(w.cols);
        std::fill(lane.begin(), lane.end(), HalfDotSum{});
        for (int j = 0; j < w.cols; ++j)  // banks: lane l takes elements l, l + lanes, ...
          lane[std::size_t(j % s_.lanes)].add(wr[j], x.h[std::size_t(j)]);
        HalfDotSum total;  // host logic: the lanes' exact sum, one rounding
        for (const HalfDotSum& l : lane)
          total.add(l);
        out[t * std::size_t(w.rows) + std::size_t(r)] = total.to_float();
      }
    }
    return true;
  }

  struct Kernel {
    i64 system_cycles = 0, mac_commands = 0, activates = 0, padding_rows = 0, bank_rows = 0;
    double dram_pj = 0;
  };

  // MAC blocks per pseudo-channel: one per bank (AiM) or per bank pair.
  i64 units_per_pch() const {
    if (!s_.aim) return s_.blocks_per_pch;
    return ctx_.memory && ctx_.memory->dram ? ctx_.memory->dram->org.banks_per_rank() : 1;
  }
  i64 pchs() const {
    if (!ctx_.memory || !ctx_.memory->dram) return 1;
    const dram::Org& o = ctx_.memory->dram->org;
    return i64(o.channels) * o.pseudo_channels;
  }
  GemvLayout layout(const Op& op) const {
    return hbm_pim_layout(*ctx_.memory->dram, pchs(), s_.blocks_per_pch, op.n, op.k,
                          op.weight_bits);
  }
  // Kernels by shape: a model repeats a handful of GEMV shapes many times.
  const Kernel& kernel(const Op& op) {
    const auto key = std::make_tuple(op.n, op.k, op.weight_bits, op.group, op.dtype);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    const dram::DramConfig& d = *ctx_.memory->dram;
    std::vector<PimAccess> stream;
    Kernel k;
    // The kernel is timed command by command from a list of them (32 bytes each): refuse one
    // that would take gigabytes and minutes (a model's GEMVs take well under a million).
    constexpr i64 kMaxCommands = i64(1) << 25;
    auto bound = [&](i64 commands) {
      if (commands > kMaxCommands)
        throw ConfigError("op " + op.name + " on unit '" + name_ + "': its PIM kernel has " +
                          std::to_string(commands) + " DRAM commands, more than the " +
                          std::to_string(kMaxCommands) +
                          " the simulator times (a smaller matrix or fewer rows per bank)");
    };
    if (s_.aim) {
      const AimLayout l = aim_layout(d, op.n, op.k, op.weight_bits, op.group);
      bound(aim_stream_commands(d, l));
      stream = aim_gemv_stream(d, l);
      k.mac_commands = 0;
      for (const PimAccess& a : stream)
        k.mac_commands += a.all_bank_act;
      k.padding_rows = l.padded_out_rows, k.bank_rows = l.bank_rows_used;
    } else {
      const GemvLayout l = layout(op);
      bound(hbm_pim_stream_commands(d, l));
      stream = hbm_pim_gemv_stream(d, l);
      k.mac_commands = checked::mul("HBM-PIM: MAC commands", l.out_tiles, l.in_tiles, 64);
      k.padding_rows = l.padded_out_rows, k.bank_rows = l.bank_rows_used;
    }
    // Timed without refresh: the memory adds the refreshes that fall due while it holds the
    // kernel, at their real times (each stalls it by a precharge and nRFC).
    dram::DramConfig quiet = d;
    quiet.ctrl.refresh = dram::Refresh::none;
    const StreamTiming t = run_in_order(quiet, stream);
    // A slow DRAM clock under a fast system clock multiplies the count (up to 1e5 times).
    k.system_cycles = checked::to_i64(
        "PIM kernel cycles", std::ceil(double(t.cycles) * d.tck_ns() * ctx_.clock_ghz - 1e-9));
    k.activates = t.activates;
    const dram::CommandEnergy e = d.command_energy();
    k.dram_pj = double(pchs()) * (double(t.activates) * e.act_pre_pj + double(t.reads) * e.rd_pj +
                                  double(t.writes) * e.wr_pj + double(t.refreshes) * e.ref_pj);
    return cache_.emplace(key, k).first->second;
  }

  PimSpec s_;
  double &cmds_, &kernel_, &acts_, &padding_, &weight_rows_;
  std::map<std::tuple<i64, i64, int, i64, std::string>, Kernel> cache_;
  std::map<std::string, i64> placed_;  // weight tensor -> DRAM rows per bank it occupies
  i64 rows_placed_ = 0;
};

std::unique_ptr<Unit> make(const std::string& name, const ParamValues& v, UnitContext& ctx) {
  if (!ctx.memory || !ctx.memory->dram)
    throw ConfigError("unit '" + name +
                      "': impl pim computes inside the command-level DRAM; "
                      "set system.memory.model: dram");
  PimSpec s;
  s.aim = v.choice("style") == "aim";
  s.blocks_per_pch = int(v.integer("blocks_per_pch"));
  if (s.aim && s.blocks_per_pch != 8)
    throw ConfigError("unit '" + name +
                      "': blocks_per_pch applies to style hbm_pim only (aim has a MAC unit in "
                      "every bank)");
  s.lanes = int(v.integer("lanes"));
  s.acc_bits = int(v.integer("acc_bits"));
  s.mac_pj = v.number("mac_pj");
  s.block_area_mm2 = v.number("block_area_mm2");
  return std::make_unique<PimUnit>(name, s, ctx);
}

const RegisterUnit reg(
    {"pim",
     "processing in memory: SIMD blocks beside the DRAM banks run GEMVs with all-bank DRAM "
     "commands (needs memory.model: dram)",
     {param::choice("style", {"hbm_pim", "aim"}, "hbm_pim",
                    "hbm_pim: a SIMD block per bank pair (Samsung); aim: a MAC unit per bank "
                    "and a global buffer per channel (SK hynix)"),
      param::integer("blocks_per_pch", 1, 64, 8, "blocks",
                     "hbm_pim: PIM blocks per pseudo-channel (one per bank pair); aim: leave at 8"),
      param::integer("lanes", 1, 256, 16, "lanes",
                     "integer accumulator lanes per block (timing follows the burst)"),
      param::integer("acc_bits", 8, 64, 32, "bits", "integer lane accumulator width"),
      param::number("mac_pj", 0, 1e3, 0.0, "pj", "energy of one lane MAC (0: not counted)"),
      param::number("block_area_mm2", 0, 1e3, 0.0, "mm2",
                    "area of one PIM block (0: on the DRAM die, not counted)")},
     make});

}  // namespace

}  // namespace qaccel::pim
