#pragma once
// Cycle-exact core of a bit-serial PE array (BitMoD / Stripes style), plain C++, no SystemC.
//
// A PE has `lanes` multipliers. Each cycle every lane takes ONE term of its weight (a signed
// power of two) and adds the activation shifted by it into the PE's group accumulator, so a
// weight costs as many cycles as its encoding has terms:
//  - booth: radix-4 Booth digits for integer formats (int8 4 cycles, int4 2, int3 2, int2 1,
//    an asymmetric intN codes q - z of N + 1 bits), and at most two signed power-of-two terms
//    (non-adjacent form) for the codebook / minifloat formats (fp3, fp4, BitMoD, flint4, OliVe,
//    MX, NVFP4: 2 cycles);
//  - serial: one bit of the weight code's two's complement per cycle (Stripes): code_bits
//    cycles (int8 8, fp4 codes up to 12: 5).
// Every weight of a format takes the same number of cycles (zero terms are padded), as in
// BitMoD's lock-step lanes.
//
// After a group of G weights (ceil(G / lanes) weight steps of T cycles: A = ceil(G/lanes) * T
// cycles) the PE hands its exact sum to the bit-serial dequantization unit, which takes
// `dequant_cycles` to apply the group and input scales, while the PE accumulates the next group.
// The PE waits when the dequantizer is still busy. Cycles of one tile with `groups` groups:
//     A + (groups - 1) * max(A, dequant_cycles) + dequant_cycles
// Mapping of out[m][n] (M tokens, N output channels) onto the rows x cols PEs: a weight row is
// broadcast along a PE row, an activation vector down a PE column. A tile takes c = min(cols, M)
// tokens and rows * floor(cols / c) channels (a GEMV spreads its channels over the whole
// array); tiles = ceil(M / c) * ceil(N / (rows * floor(cols / c))), one after another.
//
// Numbers: integer inputs accumulate exactly in integers; binary16 inputs (fp16, fp8) in the
// exact 2^-48 fixed point (HalfDotSum); the dequantizer rounds the sum once to float32 and
// applies ((float)S * s_w) * s_x, groups in order: the contract of QUANTIZATION.md, bit for bit.
// The step mode plays every cycle (terms, lanes, the dequantizer's busy time); the fast mode
// computes the same sums directly and the cycles in closed form. Tests hold them equal.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "workloads/quant.hpp"

namespace qaccel::bitserial {

enum class Encoding { booth, serial };
std::string_view to_string(Encoding e);

// One term of a weight: value = sign * 2^shift (sign 0 for a padding term).
struct Term {
  std::int8_t sign = 0;
  std::int8_t shift = 0;
};

// The term encoding of every code of a format: a fixed number of terms per weight.
class TermTable {
 public:
  static constexpr int kMaxTerms = 16;
  // Throws ConfigError for a format without integer codes (fp16, bf16, fp8, fp32).
  TermTable(WeightFormat f, Encoding e);
  int terms() const { return terms_; }
  const Term* of(int code) const { return table_[std::size_t(code + offset_)].data(); }
  WeightFormat format() const { return format_; }

 private:
  WeightFormat format_;
  int terms_ = 0, offset_ = 0;
  std::vector<std::array<Term, kMaxTerms>> table_;
};

// Terms per weight of a format under an encoding (what TermTable(f, e).terms() gives).
int terms_per_weight(WeightFormat f, Encoding e);

struct ArraySpec {
  int rows = 1, cols = 1, lanes = 4;
  Encoding encoding = Encoding::booth;
  int dequant_cycles = 4;
};

struct Mapping {
  std::int64_t tokens_per_tile = 0, channels_per_tile = 0, token_tiles = 0, channel_tiles = 0;
  std::int64_t tiles() const;  // checked
};
Mapping map(const ArraySpec& a, std::int64_t m, std::int64_t n);

// Cycles of one tile (the closed form above); k and group as the contract's (group divides k).
std::int64_t tile_cycles(const ArraySpec& a, std::int64_t k, std::int64_t group, int terms);
// tiles x tile cycles (checked: OverflowError past 2^63).
std::int64_t compute_cycles(const ArraySpec& a, std::int64_t m, std::int64_t n, std::int64_t k,
                            std::int64_t group, int terms);

enum class Mode { fast, step };

// out (M x N, row-major) = the contract's matmul of the M input rows with w; returns the
// compute cycles. Inputs must be integer codes or binary16 (supports() of the unit checks).
std::int64_t run(const ArraySpec& a, const TermTable& t, const std::vector<const QActivation*>& x,
                 const QTensor& w, Mode mode, std::vector<float>& out);

}  // namespace qaccel::bitserial
