#pragma once
// AiM-style PIM (SK hynix GDDR6-AiM, the setting of PIM-GPT): a MAC unit beside every bank,
// fed by that bank's column reads, and a per-channel global buffer holding the broadcast input
// vector. GEMV layout (PIM-GPT's row-to-bank mapping): matrix row i goes to bank i mod banks of
// channel (i / banks) mod (channels x pseudo-channels), one DRAM row per chunk of the matrix row (a
// row's worth of elements), so every bank of every channel works at once.
//
// The kernel on one channel, per input chunk: write the chunk into the global buffer (WRGB,
// one write per burst), then per batch of `banks` output rows: all-bank activate (ACTAB: the
// same row in every bank), one all-bank MAC (MACAB) per burst of the chunk, and the MAC results
// read out (RDMAC, 16-bit results a burst) at every quantization group boundary so the host
// can apply group scales; the next ACTAB precharges. Timing rules that bind, as modelled here:
// ACTAB is an ACT of bank 0 (nRCD, nRAS, nRP, nRC as for one bank) that also holds off the next
// ACT for (banks / 4) x nFAW (the four-activate windows of the banks it opens); MACAB is a read
// column command (tCCD_L apart, as every bank group is busy); WRGB and RDMAC are column
// commands on the data bus (turnarounds apply; WRGB is modelled on a reserved row of the last
// bank, RDMAC on the open row); refresh as usual. Commands issue in program order.
#include "arch/pim/hbm_pim.hpp"

namespace qaccel::pim {

struct AimLayout {
  i64 out_rows = 0, in_cols = 0;
  int weight_bits = 8;
  i64 group = 0;
  int elements_per_burst = 0;  // tx_bytes x 8 / weight_bits (tx_bytes <= 2^20)
  i64 row_elements = 0;        // one DRAM row of one matrix row
  i64 chunks = 0;              // DRAM rows per matrix row
  i64 batches = 0;             // output rows per bank and channel
  i64 padded_out_rows = 0;
  i64 bank_rows_used = 0;
  std::string describe() const;
};

// Throws ConfigError when the matrix does not fit the banks, saying by how much, and
// OverflowError when a count of it does not fit in 64 bits.
AimLayout aim_layout(const dram::DramConfig& cfg, i64 out_rows, i64 in_cols, int weight_bits,
                     i64 group);
std::vector<PimAccess> aim_gemv_stream(const dram::DramConfig& cfg, const AimLayout& l);
// Its length, without building it (checked: OverflowError past 2^63).
i64 aim_stream_commands(const dram::DramConfig& cfg, const AimLayout& l);

}  // namespace qaccel::pim
