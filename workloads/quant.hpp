#pragma once
// The bit-exact quantized arithmetic every hardware model must reproduce. The contract is
// written out in workloads/QUANTIZATION.md; this file is its executable form.
#include <bit>
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
// consecutive columns, one float32 scale per (row, group). The elements are integer codes in
// `q` (Elem::int_code: every integer and codebook format, value = code * scale) or binary16 /
// bfloat16 bit patterns in `h` (fp16, fp8 (held exactly as binary16) and bf16).
struct QTensor {
  int rows = 0, cols = 0, group = 0, qmax = 0;
  WeightFormat format = WeightFormat::int8;
  Elem elem = Elem::int_code;
  std::vector<std::int16_t> q;        // rows * cols codes (int_code)
  std::vector<float> scales;          // rows * (cols / group); 1.0f for fp16 and bf16
  std::vector<std::uint16_t> h;       // rows * cols (half, bf16)
  std::vector<std::uint8_t> variant;  // bitmod: the type chosen per group (0..3)
  bool fp16() const { return format == WeightFormat::fp16; }
  int groups_per_row() const { return cols / group; }
  // Dequantized value (element * scale, one float32 rounding), used for embedding lookups.
  float at(int r, int c) const;
};

// Symmetric integer weights with range [-qmax, qmax] (the int2..int8 formats).
QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, int qmax);
// Any weight format (QUANTIZATION.md); `group` as QuantSpec::group_for gives it.
QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, WeightFormat f);
// Every code an int_code format's quantizer can produce, ascending (hardware decoders and the
// bit-serial term encodings are derived from it).
std::vector<int> code_values(WeightFormat f);
// The fp16 format: every value rounded to binary16 (float_to_half_sat), `group` = cols.
QTensor half_weights(std::span<const float> w, int rows, int cols);

// A matmul input vector of length K: integer codes in `q` (int8 / int16) or binary16 /
// bfloat16 patterns in `h`, and one float32 scale per weight group (per-token granularity stores
// the same scale in every slot; 1.0f for the unscaled fp16 and bf16).
struct QActivation {
  int group = 0;
  Elem elem = Elem::int_code;
  std::vector<std::int16_t> q;
  std::vector<float> scales;
  std::vector<std::uint16_t> h;
};

void quantize_activation(std::span<const float> x, int group, int qmax, ActGranularity gran,
                         QActivation& out);
// Any activation format, groups of `group` (the weights' group).
void quantize_activation(std::span<const float> x, int group, ActFormat f, ActGranularity gran,
                         QActivation& out);

// out[r] = sum over groups g ascending of ((float)S_g * w.scale[r][g]) * x.scale[g], from
// 0.0f, where S_g is the exact dot product of group g's elements (an integer for integer
// operands) and (float) rounds it once, to nearest even. Every format pair goes through here.
void qmatmul(std::span<float> out, const QActivation& x, const QTensor& w);

// The fp16 format's activation: every element rounded with float_to_half_sat.
void half_activation(std::span<const float> x, QActivation& out);

// fp16 matmul: out[r] = float32(exact sum_j w[r][j] * x[j]) -- every binary16 product is exact,
// the sum is kept exactly and rounded once to nearest even (QUANTIZATION.md), so any hardware
// order or split of the sum gives the same bits. NaN in an operand gives NaN.
void hmatmul(std::span<float> out, const QActivation& x, const QTensor& w);

// The exact sum of binary16 products: a fixed-point accumulator with its LSB at 2^-48 (the
// smallest product, of two subnormals). Products are binned by their power of two in 64-bit
// sums (one integer add per product, no 128-bit shift) and combined in 128 bits when read;
// each bin holds 2^41 products of the largest halves, the total 2^46.
class HalfDotSum {
 public:
  void add(std::uint16_t a, std::uint16_t b);
  // Adds sig * 2^(shift - 48), 0 <= shift < 64 (a product of decoded elements, see ElemTerm,
  // or an int64 partial sum); a bin must not overflow int64.
  void add_term(std::int64_t sig, int shift) {
    bin_[shift] += sig;
    used_ |= std::uint64_t(1) << shift;
  }
  void set_nan() { nan_ = true; }
  void add(const HalfDotSum& o);
  float to_float() const;  // rounded once, to nearest even
  void clear();            // back to zero (cheaper than a new one: only the used bins)

 private:
  std::int64_t bin_[64] = {};
  std::uint64_t used_ = 0;  // bins that may be non-zero
  bool nan_ = false;
};

// The exact sum of products of any two elements, bfloat16 included: a 640-bit fixed-point
// accumulator (LSB 2^-300) in 32-bit limbs, rounded once to float32, to nearest even (subnormal
// and overflowing sums too).
class WideDotSum {
 public:
  // Adds sig * 2^e2, |sig| < 2^31, e2 >= -300.
  void add_term(std::int64_t sig, int e2);
  void set_nan() { nan_ = true; }
  float to_float() const;

 private:
  static constexpr int kLimbs = 20, kLsb = -300;
  std::int64_t limb_[kLimbs] = {};
  int adds_ = 0;
  bool nan_ = false;
  void normalize();
};

// A decoded element: value = sig * 2^e2 (binary16: |sig| < 2^11, e2 >= -24; bfloat16:
// |sig| < 2^8, e2 >= -133; integer code: e2 = 0). `nan` for NaN or infinity.
struct ElemTerm {
  std::int32_t sig = 0;
  int e2 = 0;
  bool nan = false;
};
ElemTerm decode_half(std::uint16_t h);

// Binary16 inputs of one matmul as per-group fixed point, for weights that are integer codes:
// x_j = xfix[j] * 2^e[g] with e[g] the group's smallest exponent. Valid for a group (fixed[g])
// when no element is NaN and every |code * xfix| summed over the group fits 62 bits; then the
// group's exact sum is one int64 dot product (the contract's value, only faster to get).
// The same inputs are also held as int16 digits of 15 bits, so the dot product runs on 16-bit
// multiplies with 32-bit sums (what SIMD units do fast): xfix = d[0] + d[1] 2^15 + d[2] 2^30
// with digits[g] (1 to 3) digits, the lower ones in [0, 2^15), the top one signed (one digit:
// xfix itself).
struct HalfFixed {
  std::vector<std::int64_t> xfix;
  std::vector<int> e;
  std::vector<char> fixed;
  std::vector<std::int16_t> d[3];
  std::vector<std::int8_t> digits;
};
void prepare_half_fixed(std::span<const ElemTerm> x, int group, HalfFixed& out);
// sum over group g's j of codes[j] * xfix[j], exactly, for a group with fixed[g]; `codes`
// points at the group's first code and every |code| is at most code_max (QTensor::qmax).
std::int64_t fixed_group_dot(const HalfFixed& hf, std::size_t g, int group,
                             const std::int16_t* codes, int code_max);
// A HalfFixed group's sum acc * 2^e (e as HalfFixed::e, -24 <= e <= 5) rounded once to
// float32, to nearest even: what HalfDotSum gives for it, without the bins. The int64 to
// float32 conversion rounds once (the default rounding mode); the power of two is exact since
// the result stays between 2^-24 and 2^68, in float32's normal range.
inline float fixed_to_float(std::int64_t acc, int e) {
  return static_cast<float>(acc) * std::bit_cast<float>(std::uint32_t(e + 127) << 23);
}
ElemTerm decode_bf16(std::uint16_t b);

// Rounds v to a minifloat with `mbits` mantissa bits and smallest normal exponent `emin`
// (subnormals below), to nearest even, saturating at +-maxv (exact in double; NaN stays NaN).
double round_minifloat(double v, int mbits, int emin, double maxv);
// bfloat16: round to nearest even, saturating at the largest finite value; NaN stays NaN.
std::uint16_t float_to_bf16_sat(float f);
float bf16_to_float(std::uint16_t b);

// Exact integer dot product of one group (int64 so no (q, G) combination can overflow).
std::int64_t group_dot(const std::int16_t* x, const std::int16_t* w, int n);

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
