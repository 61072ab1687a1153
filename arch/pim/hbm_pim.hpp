#pragma once
// HBM-PIM (Samsung Aquabolt-XL style) GEMV at command level. A PIM block sits between each
// pair of banks (even, odd) of a pseudo-channel: 16 FP16 lanes (one 32-byte burst), register
// files GRF_A (the broadcast input, 8 bursts) and GRF_B (8 accumulators, one per output row).
// In all-bank PIM mode the host drives every block at once with ordinary DRAM commands on
// banks 0 and 1 (the controller tracks only those two; each command acts on every bank of the
// same parity), so one column command is one MAC in every block, and the standard timing rules
// bind the stream: tCCD_L between column commands (banks 0 and 1 share bank group 0; the
// layout requires 3+ bank groups of 2+ banks), tRCD and
// tRP at every row change, read/write turnaround around each GRF_A load, refresh as usual. An
// all-bank ACT counts as one ACT (no tFAW), as in Samsung's PIMSimulator.
//
// The kernel (per pseudo-channel; all of them run the same stream in lockstep):
//   park in (one read per bank), single-bank -> all-bank mode (4 writes to a reserved row),
//   CRF program (1 write), then per output tile of blocks x 8 rows over every pseudo-channel:
//   PIM mode on (1 write); per input tile of 8 bursts, even tiles first (even bank) then odd
//   (odd bank): 8 writes of the input into GRF_A, 64 MAC reads (8 output rows x 8 bursts, two
//   DRAM rows); 8 writes of GRF_B into the odd bank; PIM mode off (1 write); then all-bank ->
//   single-bank (2 writes) and park out (16 reads). Commands issue strictly in program order.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/dram/spec.hpp"
#include "sim/base/checked.hpp"

namespace qaccel::pim {

using i64 = std::int64_t;
using checked::ceil_div;

// One host command of the kernel on one pseudo-channel (rank 0).
struct PimAccess {
  bool write = false;
  int bank_group = 0, bank = 0;  // bank within its group
  i64 row = 0;
  int column = 0;             // in bursts (transactions)
  bool all_bank_act = false;  // an ACT it needs opens the row in every bank (AiM's ACTAB)
};

struct GemvLayout {
  i64 out_rows = 0, in_cols = 0;
  int weight_bits = 16;
  int elements_per_burst = 0;  // tx_bytes x 8 / weight_bits (16 FP16, 32 int8, 64 int4)
  i64 in_tiles = 0;            // input tiles of 8 bursts
  i64 out_tiles = 0;           // output tiles of pchs x blocks x 8 rows
  i64 rows_per_out_tile = 0;
  i64 padded_out_rows = 0;  // out_tiles x rows_per_out_tile - out_rows
  i64 bank_rows_used = 0;   // DRAM rows per bank holding weights (and results)
  std::string describe() const;
};

// The layout of an m x n matrix over `pchs` pseudo-channels with `blocks` PIM blocks each
// (PIM-GPT-style row-to-bank mapping: block k of pseudo-channel c owns output rows
// 8 (c blocks + k) .. + 8 of each output tile). Throws ConfigError when the weights do not fit
// the banks, saying by how much, and OverflowError when a count of it does not fit in 64 bits.
GemvLayout hbm_pim_layout(const dram::DramConfig& cfg, i64 pchs, int blocks, i64 out_rows,
                          i64 in_cols, int weight_bits);

// The command stream of one pseudo-channel.
std::vector<PimAccess> hbm_pim_gemv_stream(const dram::DramConfig& cfg, const GemvLayout& l);
// Its length, without building it (checked: OverflowError past 2^63).
i64 hbm_pim_stream_commands(const dram::DramConfig& cfg, const GemvLayout& l);

struct StreamTiming {
  i64 cycles = 0;  // DRAM cycles until the last read data returns (or last write issues)
  i64 reads = 0, writes = 0, activates = 0, refreshes = 0;
};
// Runs a stream on one pseudo-channel of `cfg`, strictly in program order: access k + 1
// reaches the controller in the cycle access k's column command issued. With `violations`,
// the issued commands are replayed through the checker into it.
StreamTiming run_in_order(const dram::DramConfig& cfg, const std::vector<PimAccess>& stream,
                          std::vector<std::string>* violations = nullptr);

// The same DRAM as one pseudo-channel on its own (channels 1, pseudo-channels 1).
dram::DramConfig one_pseudo_channel(const dram::DramConfig& cfg);

}  // namespace qaccel::pim
