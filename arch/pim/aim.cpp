#include "arch/pim/aim.hpp"

#include <algorithm>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::pim {

std::string AimLayout::describe() const {
  return std::to_string(out_rows) + " x " + std::to_string(in_cols) + " at " +
         std::to_string(weight_bits) + " bits: " + std::to_string(batches) +
         " row batch(es) per bank, " + std::to_string(chunks) + " chunk(s) of " +
         std::to_string(row_elements) + " elements per matrix row (" +
         std::to_string(padded_out_rows) + " padding rows), " + std::to_string(bank_rows_used) +
         " DRAM rows per bank";
}

AimLayout aim_layout(const dram::DramConfig& cfg, i64 m, i64 n, int weight_bits, i64 group) {
  using checked::mul, checked::sub;
  const dram::Org& o = cfg.org;
  if (i64(o.tx_bytes) * 8 < weight_bits)
    throw ConfigError("PIM: a " + std::to_string(o.tx_bytes) + "-byte burst holds no " +
                      std::to_string(weight_bits) + "-bit weight");
  AimLayout l;
  l.out_rows = m, l.in_cols = n, l.weight_bits = weight_bits, l.group = group;
  l.elements_per_burst = int(i64(o.tx_bytes) * 8 / weight_bits);
  l.row_elements = mul("AiM: elements per DRAM row", o.row_bytes(), 8) / weight_bits;
  l.chunks = ceil_div(n, l.row_elements);
  const i64 per_batch =
      mul("AiM: output rows per batch", o.channels, o.pseudo_channels, o.banks_per_rank());
  l.batches = ceil_div(m, per_batch);
  l.padded_out_rows =
      sub("AiM: padding rows", mul("AiM: padded output rows", l.batches, per_batch), m);
  l.bank_rows_used = mul("AiM: DRAM rows per bank", l.batches, l.chunks);
  const i64 usable = o.rows - 1;  // the last row of the last bank stands in for the buffer
  if (l.bank_rows_used > usable)
    throw ConfigError("AiM: a " + std::to_string(m) + " x " + std::to_string(n) + " matrix needs " +
                      std::to_string(l.bank_rows_used) + " rows in every bank, the banks hold " +
                      std::to_string(usable) + " (" + std::to_string(l.bank_rows_used - usable) +
                      " rows short)");
  return l;
}

namespace {

// Results leave the MAC units at every group boundary (per-row quantization: once a chunk).
i64 aim_group_bursts(const AimLayout& l) {
  return l.group > 0 ? std::max<i64>(1, l.group / l.elements_per_burst) : i64(1) << 40;
}
// 16-bit results, a burst holds tx_bytes / 2 of them, one per bank.
int aim_result_bursts(const dram::DramConfig& cfg) {
  return int(ceil_div(cfg.org.banks_per_rank() * 2, cfg.org.tx_bytes));
}

}  // namespace

i64 aim_stream_commands(const dram::DramConfig& cfg, const AimLayout& l) {
  using checked::add, checked::mul;
  const char* what = "AiM: kernel commands";
  // Per chunk of b bursts: b WRGB, then per batch b MACABs and ceil(b / group) RDMAC rounds.
  auto chunk = [&](i64 len) {
    const i64 b = ceil_div(len, l.elements_per_burst);
    return add(
        what, b,
        mul(what, l.batches,
            add(what, b, mul(what, ceil_div(b, aim_group_bursts(l)), aim_result_bursts(cfg)))));
  };
  if (l.chunks == 0) return 0;
  const i64 last = l.in_cols - (l.chunks - 1) * l.row_elements;
  return add(what, mul(what, l.chunks - 1, chunk(l.row_elements)), chunk(last));
}

std::vector<PimAccess> aim_gemv_stream(const dram::DramConfig& cfg, const AimLayout& l) {
  const int per_bg = cfg.org.banks_per_group;
  const int last_bank = cfg.org.banks_per_rank() - 1;
  const i64 buffer_row = cfg.org.rows - 1;
  const int e = l.elements_per_burst;
  const i64 group_bursts = aim_group_bursts(l);
  const int result_bursts = aim_result_bursts(cfg);
  std::vector<PimAccess> s;
  for (i64 k = 0; k < l.chunks; ++k) {
    const i64 len = std::min(l.row_elements, l.in_cols - k * l.row_elements);
    const i64 bursts = ceil_div(len, e);  // <= the bursts of one DRAM row
    for (i64 b = 0; b < bursts; ++b)      // WRGB
      s.push_back({true, last_bank / per_bg, last_bank % per_bg, buffer_row,
                   int(b % cfg.org.tx_per_row())});
    for (i64 j = 0; j < l.batches; ++j) {
      const i64 row = j * l.chunks + k;  // < bank_rows_used
      for (i64 b = 0; b < bursts; ++b) {
        PimAccess mac{false, 0, 0, row, int(b)};  // MACAB (its first one needs the ACTAB)
        mac.all_bank_act = true;
        s.push_back(mac);
        if ((b + 1) % group_bursts == 0 || b + 1 == bursts)
          for (int r = 0; r < result_bursts; ++r)  // RDMAC
            s.push_back({false, 0, 0, row, int(b)});
      }
    }
  }
  return s;
}

}  // namespace qaccel::pim
