#include "arch/pim/hbm_pim.hpp"

#include <algorithm>

#include "arch/dram/address_map.hpp"
#include "arch/dram/checker.hpp"
#include "arch/dram/dram.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::pim {

namespace {

// Reserved rows (bit 12 set): mode switches and the register space, as the device decodes them.
constexpr i64 kParkRow = 0x1000, kSbToAbRow = 0x17ff, kAbToSbRow = 0x1fff, kRegRow = 0x3fff;
constexpr int kGrf = 8;              // GRF_A and GRF_B entries (bursts)
constexpr int kRegModeColumn = 0;    // PIM control register
constexpr int kRegCrfColumn = 4;     // CRF, 8 instructions a burst
constexpr int kRegGrfAColumn = 8;    // GRF_A[0..7]
constexpr int kCrfInstructions = 6;  // MAC, JUMP, MAC, JUMP, NOP, EXIT

}  // namespace

std::string GemvLayout::describe() const {
  return std::to_string(out_rows) + " x " + std::to_string(in_cols) + " at " +
         std::to_string(weight_bits) + " bits: " + std::to_string(out_tiles) +
         " output tile(s) of " + std::to_string(rows_per_out_tile) + " rows (" +
         std::to_string(padded_out_rows) + " padding rows), " + std::to_string(in_tiles) +
         " input tile(s) of " + std::to_string(kGrf * elements_per_burst) + " elements, " +
         std::to_string(bank_rows_used) + " DRAM rows per bank";
}

dram::DramConfig one_pseudo_channel(const dram::DramConfig& cfg) {
  dram::DramConfig c = cfg;
  c.org.channels = 1;
  c.org.pseudo_channels = 1;
  c.org.ranks = 1;
  return c;
}

GemvLayout hbm_pim_layout(const dram::DramConfig& cfg, i64 pchs, int blocks, i64 m, i64 n,
                          int weight_bits) {
  const dram::Org& o = cfg.org;
  if (o.rows < 0x4000)
    throw ConfigError(
        "HBM-PIM needs at least 16384 rows per bank (its mode and register rows "
        "sit at 0x1000..0x3fff); the DRAM has " +
        std::to_string(o.rows));
  if (blocks * 2 > o.banks_per_rank())
    throw ConfigError("HBM-PIM: " + std::to_string(blocks) + " blocks need " +
                      std::to_string(2 * blocks) + " banks per pseudo-channel, the DRAM has " +
                      std::to_string(o.banks_per_rank()));
  if (o.bank_groups < 3 || o.banks_per_group < 2)
    throw ConfigError(
        "HBM-PIM needs at least 3 bank groups of 2 banks (its mode switches use "
        "banks 0 and 1 of bank groups 0 and 2)");
  if (i64(o.tx_bytes) * 8 < weight_bits)
    throw ConfigError("PIM: a " + std::to_string(o.tx_bytes) + "-byte burst holds no " +
                      std::to_string(weight_bits) + "-bit weight");
  using checked::add, checked::mul, checked::sub;
  GemvLayout l;
  l.out_rows = m, l.in_cols = n, l.weight_bits = weight_bits;
  l.elements_per_burst = int(i64(o.tx_bytes) * 8 / weight_bits);
  l.in_tiles = ceil_div(n, i64(kGrf) * l.elements_per_burst);
  l.rows_per_out_tile = mul("HBM-PIM: rows per output tile", pchs, blocks, kGrf);
  l.out_tiles = ceil_div(m, l.rows_per_out_tile);
  l.padded_out_rows = sub("HBM-PIM: padding rows",
                          mul("HBM-PIM: padded output rows", l.out_tiles, l.rows_per_out_tile), m);
  // Each (block, input tile) piece is 8 rows x 8 bursts; even tiles in the even bank, odd
  // tiles (and the results) in the odd bank.
  const char* what = "HBM-PIM: weight bursts per bank";
  const i64 bursts = add(what, mul(what, l.out_tiles, ceil_div(l.in_tiles, 2), kGrf * kGrf),
                         mul(what, l.out_tiles, kGrf));
  l.bank_rows_used = ceil_div(bursts, o.tx_per_row());
  if (l.bank_rows_used > kParkRow)
    throw ConfigError("HBM-PIM: a " + std::to_string(m) + " x " + std::to_string(n) +
                      " matrix needs " + std::to_string(l.bank_rows_used) +
                      " rows in every bank, the PIM weight area holds " + std::to_string(kParkRow) +
                      " (" + std::to_string(l.bank_rows_used - kParkRow) + " rows short)");
  return l;
}

i64 hbm_pim_stream_commands(const dram::DramConfig& cfg, const GemvLayout& l) {
  using checked::add, checked::mul;
  const char* what = "HBM-PIM: kernel commands";
  const i64 banks = cfg.org.banks_per_rank();
  // Park in and out, the two mode switches, the CRF; per output tile: PIM mode on and off,
  // GRF_B out, and per input tile GRF_A in and 8 x 8 MACs.
  const i64 fixed = 2 * banks + 4 + 2 + (kCrfInstructions + 7) / 8;
  const i64 per_tile = add(what, mul(what, l.in_tiles, kGrf + kGrf * kGrf), kGrf + 2);
  return add(what, fixed, mul(what, l.out_tiles, per_tile));
}

std::vector<PimAccess> hbm_pim_gemv_stream(const dram::DramConfig& cfg, const GemvLayout& l) {
  const int banks_per_bg = cfg.org.banks_per_group;
  const i64 per_row = cfg.org.tx_per_row();
  std::vector<PimAccess> s;
  auto at = [&](bool write, int flat_bank, i64 row, i64 col) {
    // A burst column past the row's end continues in the next row.
    s.push_back({write, flat_bank / banks_per_bg, flat_bank % banks_per_bg, row + col / per_row,
                 int(col % per_row)});
  };
  const int banks = cfg.org.banks_per_rank();
  for (int b = 0; b < banks; ++b)  // park in
    at(false, b, kParkRow, 0);
  // Single-bank -> all-bank: banks 0 and 1 of bank groups 0 and 2.
  for (int b : {0, 1, 2 * banks_per_bg, 2 * banks_per_bg + 1})
    at(true, b, kSbToAbRow, per_row - 1);
  for (int k = 0; k < (kCrfInstructions + 7) / 8; ++k)
    at(true, 1, kRegRow, kRegCrfColumn + k);
  const i64 half_tiles = l.in_tiles / 2;  // tiles of one parity per output tile (layout stride)
  const i64 even_tiles = (l.in_tiles + 1) / 2;
  // Every burst index below is at most the layout's (checked) weight bursts per bank.
  for (i64 j = 0; j < l.out_tiles; ++j) {
    at(true, 0, kRegRow, kRegModeColumn);  // PIM mode on, GRF_B zeroed
    for (int parity = 0; parity < 2; ++parity)
      for (i64 i = parity; i < l.in_tiles; i += 2) {
        for (int g = 0; g < kGrf; ++g)  // the input tile into GRF_A
          at(true, 1, kRegRow, kRegGrfAColumn + g);
        const i64 base = i64(kGrf) * kGrf * (i / 2 + j * (parity ? half_tiles : even_tiles));
        for (int c = 0; c < kGrf * kGrf; ++c)  // MACs: 8 rows x 8 bursts
          at(false, parity, 0, base + c);
      }
    const i64 result = i64(kGrf) * kGrf * l.out_tiles * even_tiles + i64(kGrf) * j;
    for (int g = 0; g < kGrf; ++g)  // GRF_B into the odd bank
      at(true, 1, 0, result + g);
    at(true, 0, kRegRow, kRegModeColumn);  // PIM mode off
  }
  for (int b : {0, 1})  // all-bank -> single-bank
    at(true, b, kAbToSbRow, per_row - 1);
  for (int b = 0; b < banks; ++b)  // park out
    at(false, b, kParkRow, 0);
  return s;
}

StreamTiming run_in_order(const dram::DramConfig& full, const std::vector<PimAccess>& stream,
                          std::vector<std::string>* violations) {
  const dram::DramConfig cfg = one_pseudo_channel(full);
  dram::Dram d(cfg, violations != nullptr);
  dram::Channel& ch = d.channel(0);
  StreamTiming t;
  i64 c = 0, end = 0;
  std::uint64_t id = 0;
  for (const PimAccess& a : stream) {
    dram::DramAddr where;
    where.bank_group = a.bank_group, where.bank = a.bank, where.row = a.row,
    where.column = a.column;
    dram::Request r = d.request(d.map().encode(where), a.write, id++);
    r.all_bank_act = a.all_bank_act;
    ch.enqueue(r, c);
    // Until its column command issues (the next access waits for it).
    for (bool issued = false; !issued;) {
      const i64 e = ch.next_event();
      QACCEL_ASSERT(e < dram::kNever, "a PIM access that never issues");
      ch.step_to(e);
      for (const dram::Completion& done : ch.completions()) {
        issued = true;
        c = done.issue_cycle;
        end = std::max(end, done.write ? done.issue_cycle : done.done_cycle);
      }
      ch.completions().clear();
    }
    ++(a.write ? t.writes : t.reads);
  }
  t.cycles = end;
  const dram::DramTotals tot = d.totals(end);
  t.activates = tot.sum.commands[int(dram::Cmd::ACT)];
  t.refreshes = tot.sum.commands[int(dram::Cmd::REFab)] + tot.sum.commands[int(dram::Cmd::REFpb)];
  if (violations) *violations = dram::check_commands(cfg, ch.commands());
  return t;
}

}  // namespace qaccel::pim
