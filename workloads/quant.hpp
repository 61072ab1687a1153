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
struct QTensor {
  int rows = 0, cols = 0, group = 0, qmax = 0;
  std::vector<std::int8_t> q;  // rows * cols
  std::vector<float> scales;   // rows * (cols / group)
  int groups_per_row() const { return cols / group; }
  // Dequantized value (float)q * scale, used for embedding lookups.
  float at(int r, int c) const {
    return static_cast<float>(q[std::size_t(r) * cols + c]) *
           scales[std::size_t(r) * groups_per_row() + c / group];
  }
};

QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, int qmax);

// A quantized activation vector of length K: int8 or int16 values and one scale per weight
// group (per-token granularity stores the same scale in every slot).
struct QActivation {
  int group = 0;
  std::vector<std::int16_t> q;
  std::vector<float> scales;
};

void quantize_activation(std::span<const float> x, int group, int qmax, ActGranularity gran,
                         QActivation& out);

// out[r] = sum over groups g ascending of ((float)acc_g * w.scale[r][g]) * x.scale[g], starting
// from 0.0f, where acc_g is the exact integer dot product of group g.
void qmatmul(std::span<float> out, const QActivation& x, const QTensor& w);

// Exact integer dot product of one group (int64 so no (q, G) combination can overflow).
std::int64_t group_dot(const std::int16_t* x, const std::int8_t* w, int n);

// out[r] = sum_j w[r][j] * x[j], float32, j ascending (llama2.c matmul).
void fmatmul(std::span<float> out, std::span<const float> x, std::span<const float> w, int rows,
             int cols);

// IEEE 754 binary16 conversions, round-to-nearest-even (used for the 16-bit KV cache).
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

}  // namespace qaccel
