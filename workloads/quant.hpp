#pragma once
// The bit-exact quantized arithmetic every hardware model must reproduce. The contract is
// written out in workloads/QUANTIZATION.md; this file is its executable form.
#include <cstdint>
#include <span>
#include <vector>

#include "workloads/spec.hpp"

namespace qaccel {

// Symmetric scale of a group: max|x| / qmax in float32 (a division), 0 for an all-zero group.
float symmetric_scale(std::span<const float> x, int qmax);
// q = (int) roundf(x / scale) clamped to [-qmax, qmax]; 0 when scale is 0.
int quantize_value(float x, float scale, int qmax);

// A weight matrix of rows x cols (cols = K, the reduction dimension) in groups of `group`
// consecutive columns, one float32 scale per (row, group). Values fit int8 for every format.
// The fp16 format instead stores IEEE binary16 values in `h` (no groups, no scales).
struct QTensor {
  int rows = 0, cols = 0, group = 0, qmax = 0;
  std::vector<std::int8_t> q;    // rows * cols
  std::vector<float> scales;     // rows * (cols / group)
  std::vector<std::uint16_t> h;  // fp16 format: rows * cols binary16 values
  bool fp16() const { return !h.empty(); }
  int groups_per_row() const { return cols / group; }
  // Dequantized value ((float)q * scale, or the half widened), used for embedding lookups.
  float at(int r, int c) const;
};

QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, int qmax);
// The fp16 format: every value rounded to binary16 (float_to_half_sat), `group` = cols.
QTensor half_weights(std::span<const float> w, int rows, int cols);

// A quantized activation vector of length K: int8 or int16 values and one scale per weight
// group (per-token granularity stores the same scale in every slot).
struct QActivation {
  int group = 0;
  std::vector<std::int16_t> q;
  std::vector<float> scales;
  std::vector<std::uint16_t> h;  // fp16 format: the vector in binary16 (q and scales empty)
};

void quantize_activation(std::span<const float> x, int group, int qmax, ActGranularity gran,
                         QActivation& out);

// out[r] = sum over groups g ascending of ((float)acc_g * w.scale[r][g]) * x.scale[g], starting
// from 0.0f, where acc_g is the exact integer dot product of group g.
void qmatmul(std::span<float> out, const QActivation& x, const QTensor& w);

// The fp16 format's activation: every element rounded with float_to_half_sat.
void half_activation(std::span<const float> x, QActivation& out);

// fp16 matmul: out[r] = float32(exact sum_j w[r][j] * x[j]) -- every binary16 product is exact,
// the sum is kept exactly and rounded once to nearest even (QUANTIZATION.md), so any hardware
// order or split of the sum gives the same bits. NaN in an operand gives NaN.
void hmatmul(std::span<float> out, const QActivation& x, const QTensor& w);

// The exact sum of binary16 products: a fixed-point accumulator with its LSB at 2^-48 (the
// smallest product, of two subnormals), wide enough for 2^46 products of the largest halves.
class HalfDotSum {
 public:
  void add(std::uint16_t a, std::uint16_t b);
  void add(const HalfDotSum& o) { v_ += o.v_, nan_ |= o.nan_; }
  float to_float() const;  // rounded once, to nearest even

 private:
  __int128 v_ = 0;
  bool nan_ = false;
};

// Exact integer dot product of one group (int64 so no (q, G) combination can overflow).
std::int64_t group_dot(const std::int16_t* x, const std::int8_t* w, int n);

// out[r] = sum_j w[r][j] * x[j], float32, j ascending (llama2.c matmul).
void fmatmul(std::span<float> out, std::span<const float> x, std::span<const float> w, int rows,
             int cols);

// IEEE 754 binary16 conversions, round-to-nearest-even (used for the 16-bit KV cache).
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);
// The same rounding, but a finite value beyond the format saturates to +-65504 (the fp16
// matmul operands: an overflow to infinity would make the exact sum undefined). NaN stays NaN.
std::uint16_t float_to_half_sat(float f);

}  // namespace qaccel
