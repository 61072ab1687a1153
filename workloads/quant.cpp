#include "workloads/quant.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "sim/base/error.hpp"
#include "sim/base/parallel.hpp"

namespace qaccel {

float symmetric_scale(std::span<const float> x, int qmax) {
  float m = 0.0f;
  for (float v : x)
    m = std::max(m, std::fabs(v));
  return m / static_cast<float>(qmax);
}

int quantize_value(float x, float scale, int qmax) {
  if (scale == 0.0f) return 0;
  float v = x / scale;
  // roundf (half away from zero) without the libm call, so loops vectorise: v - trunc(v) is
  // exact for |v| < 2^23, and |v| <= qmax here up to rounding of the division.
  if (!(std::fabs(v) < 8388608.0f)) return v > 0 ? qmax : -qmax;
  int t = static_cast<int>(v);
  float frac = v - static_cast<float>(t);
  int q = t + (frac >= 0.5f ? 1 : 0) - (frac <= -0.5f ? 1 : 0);
  return std::clamp(q, -qmax, qmax);
}

QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, int qmax) {
  QACCEL_ASSERT(group > 0 && cols % group == 0, "group must divide cols");
  QACCEL_ASSERT(w.size() == std::size_t(rows) * cols, "weight size");
  QTensor t;
  t.rows = rows, t.cols = cols, t.group = group, t.qmax = qmax;
  t.format = static_cast<WeightFormat>(static_cast<int>(WeightFormat::int2) +
                                       std::bit_width(unsigned(qmax)) - 1);
  t.q.resize(w.size());
  t.scales.resize(std::size_t(rows) * (cols / group));
  // Groups are independent: large tensors (the classifier) quantize in parallel row blocks.
  const std::size_t groups = t.scales.size(), blocks = w.size() >= (1u << 22) ? 64 : 1;
  parallel_for(blocks, [&](std::size_t b) {
    for (std::size_t g = b * groups / blocks; g < (b + 1) * groups / blocks; ++g) {
      auto grp = w.subspan(g * group, group);
      float s = symmetric_scale(grp, qmax);
      t.scales[g] = s;
      for (int i = 0; i < group; ++i)
        t.q[g * group + i] = static_cast<std::int16_t>(quantize_value(grp[i], s, qmax));
    }
  });
  return t;
}

float QTensor::at(int r, int c) const {
  const std::size_t i = std::size_t(r) * cols + c;
  const float s = scales[std::size_t(r) * groups_per_row() + c / group];
  if (elem == Elem::half) return half_to_float(h[i]) * s;
  if (elem == Elem::bf16) return bf16_to_float(h[i]) * s;
  return static_cast<float>(q[i]) * s;
}

QTensor half_weights(std::span<const float> w, int rows, int cols) {
  QACCEL_ASSERT(w.size() == std::size_t(rows) * cols, "weight size");
  QTensor t;
  t.rows = rows, t.cols = cols, t.group = cols;
  t.format = WeightFormat::fp16, t.elem = Elem::half;
  t.h.resize(w.size());
  t.scales.assign(std::size_t(rows), 1.0f);
  for (std::size_t i = 0; i < w.size(); ++i)
    t.h[i] = float_to_half_sat(w[i]);
  return t;
}

void half_activation(std::span<const float> x, QActivation& out) {
  out.group = int(x.size());
  out.elem = Elem::half;
  out.q.clear(), out.scales.assign(1, 1.0f);
  out.h.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    out.h[i] = float_to_half_sat(x[i]);
}

void HalfDotSum::add(std::uint16_t a, std::uint16_t b) {
  // A finite half is m * 2^(e - 24) with an 11-bit integer m; the product of two is
  // ma * mb * 2^(ea + eb - 48), an integer multiple of the accumulator's LSB.
  const unsigned ea = (a >> 10) & 0x1fu, eb = (b >> 10) & 0x1fu;
  if (ea == 31 || eb == 31) {  // inf or NaN (saturated operands have no inf; keep it total)
    nan_ = true;
    return;
  }
  const std::uint64_t ma = (a & 0x3ffu) | (ea ? 0x400u : 0u),
                      mb = (b & 0x3ffu) | (eb ? 0x400u : 0u);
  const int shift = int(ea ? ea - 1 : 0) + int(eb ? eb - 1 : 0);  // 0 .. 58
  const std::int64_t p = std::int64_t(ma * mb);
  add_term(((a ^ b) & 0x8000u) ? -p : p, shift);
}

void HalfDotSum::add(const HalfDotSum& o) {
  for (std::uint64_t u = o.used_; u; u &= u - 1)
    bin_[std::countr_zero(u)] += o.bin_[std::countr_zero(u)];
  used_ |= o.used_, nan_ |= o.nan_;
}

void HalfDotSum::clear() {
  for (std::uint64_t u = used_; u; u &= u - 1)
    bin_[std::countr_zero(u)] = 0;
  used_ = 0, nan_ = false;
}

float HalfDotSum::to_float() const {
  if (nan_) return std::numeric_limits<float>::quiet_NaN();
  __int128 v = 0;
  for (std::uint64_t u = used_; u; u &= u - 1)
    v += static_cast<__int128>(bin_[std::countr_zero(u)]) << std::countr_zero(u);
  if (v == 0) return 0.0f;
  unsigned __int128 m = v < 0 ? -static_cast<unsigned __int128>(v) : v;
  const std::uint64_t hi = std::uint64_t(m >> 64);
  const int msb = hi ? 127 - std::countl_zero(hi) : 63 - std::countl_zero(std::uint64_t(m));
  int exp = -48;   // value = m * 2^exp
  if (msb > 23) {  // keep 24 significant bits, round the rest to nearest even
    const int drop = msb - 23;
    const unsigned __int128 rem = m & ((static_cast<unsigned __int128>(1) << drop) - 1);
    const unsigned __int128 half = static_cast<unsigned __int128>(1) << (drop - 1);
    m >>= drop, exp += drop;
    if (rem > half || (rem == half && (m & 1u))) ++m;  // a carry to 2^24 stays exact below
  }
  // m < 2^25 and the result lies between 2^-48 and 2^80: ldexp is exact, never denormal.
  const float f = std::ldexp(static_cast<float>(static_cast<std::uint32_t>(m)), exp);
  return v < 0 ? -f : f;
}

void hmatmul(std::span<float> out, const QActivation& x, const QTensor& w) {
  QACCEL_ASSERT(out.size() == std::size_t(w.rows), "hmatmul output size");
  QACCEL_ASSERT(w.fp16() && x.h.size() == std::size_t(w.cols), "hmatmul operand shapes");
  for (int r = 0; r < w.rows; ++r) {
    const std::uint16_t* wr = w.h.data() + std::size_t(r) * w.cols;
    HalfDotSum s;
    for (int j = 0; j < w.cols; ++j)
      s.add(wr[j], x.h[std::size_t(j)]);
    out[r] = s.to_float();
  }
}

void quantize_activation(std::span<const float> x, int group, int qmax, ActGranularity gran,
                         QActivation& out) {
  QACCEL_ASSERT(group > 0 && x.size() % group == 0, "group must divide the activation length");
  std::size_t n_groups = x.size() / group;
  out.group = group;
  out.elem = Elem::int_code;
  out.h.clear();
  out.q.resize(x.size());
  out.scales.resize(n_groups);
  if (gran == ActGranularity::token) {
    float s = symmetric_scale(x, qmax);
    std::fill(out.scales.begin(), out.scales.end(), s);
  } else {
    for (std::size_t g = 0; g < n_groups; ++g)
      out.scales[g] = symmetric_scale(x.subspan(g * group, group), qmax);
  }
  for (std::size_t i = 0; i < x.size(); ++i)
    out.q[i] = static_cast<std::int16_t>(quantize_value(x[i], out.scales[i / group], qmax));
}

std::int64_t group_dot(const std::int16_t* x, const std::int16_t* w, int n) {
  // Integer addition is associative, so the compiler may vectorise freely; the value is exact.
  // |x * w| < 2^30, so an int64 sum cannot overflow for any group a tensor can hold.
  std::int64_t acc = 0;
  for (int i = 0; i < n; ++i)
    acc += std::int64_t(std::int32_t(x[i]) * std::int32_t(w[i]));
  return acc;
}

namespace {

// An IEEE-style binary float of E exponent and M mantissa bits (bias 2^(E-1) - 1), held in 16
// bits: value = sig * 2^e2 with e2 = max(e, 1) - bias - M.
template <int E, int M>
ElemTerm decode_binary(std::uint16_t v) {
  constexpr unsigned emask = (1u << E) - 1, mmask = (1u << M) - 1;
  constexpr int bias = (1 << (E - 1)) - 1;
  const unsigned e = (v >> M) & emask;
  ElemTerm t;
  if (e == emask) return t.nan = true, t;  // infinity or NaN
  const std::int32_t m = std::int32_t((v & mmask) | (e ? mmask + 1 : 0u));
  t.sig = (v & 0x8000u) ? -m : m;
  t.e2 = int(e ? e : 1) - bias - M;
  return t;
}

}  // namespace

ElemTerm decode_half(std::uint16_t h) {
  return decode_binary<5, 10>(h);
}
ElemTerm decode_bf16(std::uint16_t b) {
  return decode_binary<8, 7>(b);
}

void prepare_half_fixed(std::span<const ElemTerm> x, int group, HalfFixed& out) {
  const std::size_t ng = x.size() / std::size_t(group);
  out.xfix.assign(x.size(), 0);
  out.e.assign(ng, 0);
  out.fixed.assign(ng, 0);
  out.digits.assign(ng, 0);
  for (auto& d : out.d)
    d.resize(x.size());
  // Codes are below 2^15 and a significand below 2^11: X below 2^(11 + span), the group sum
  // below 2^(26 + span + log2 group).
  const int max_span = 62 - 26 - int(std::bit_width(unsigned(group)));
  for (std::size_t g = 0; g < ng; ++g) {
    int lo = 1 << 20, hi = -(1 << 20);
    bool nan = false;
    for (std::size_t j = g * group; j < (g + 1) * group; ++j) {
      nan |= x[j].nan;
      if (x[j].sig != 0) lo = std::min(lo, x[j].e2), hi = std::max(hi, x[j].e2);
    }
    if (nan || (hi >= lo && hi - lo > max_span)) continue;
    if (hi < lo) lo = 0;  // all zero
    out.e[g] = lo, out.fixed[g] = 1;
    std::int64_t top = 0;  // the largest |xfix|
    for (std::size_t j = g * group; j < (g + 1) * group; ++j) {
      out.xfix[j] = x[j].sig == 0 ? 0 : std::int64_t(x[j].sig) << (x[j].e2 - lo);
      top = std::max(top, out.xfix[j] < 0 ? -out.xfix[j] : out.xfix[j]);
    }
    // The top digit is signed: n digits hold [-2^(15n), 2^(15n)) when |xfix| < 2^(15n), and
    // max_span keeps |xfix| below 2^(11 + 34).
    QACCEL_ASSERT(top < (std::int64_t(1) << 45), "fixed-point input beyond three digits");
    const int n = top < (std::int64_t(1) << 15) ? 1 : top < (std::int64_t(1) << 30) ? 2 : 3;
    out.digits[g] = std::int8_t(n);
    for (std::size_t j = g * group; j < (g + 1) * group; ++j) {
      const std::int64_t v = out.xfix[j];
      for (int k = 0; k < n; ++k)  // low digits unsigned, the top one the signed rest
        out.d[k][j] = std::int16_t(k + 1 < n ? (v >> (15 * k)) & 0x7fff : v >> (15 * k));
    }
  }
}

namespace {

// sum_j a[j] * b[j] of n int16 pairs in 32-bit sums (each |a * b| * n below 2^31), the
// pattern compilers turn into multiply-add SIMD instructions.
std::int32_t dot16(const std::int16_t* a, const std::int16_t* b, int n) {
  std::int32_t s = 0;
  for (int i = 0; i < n; ++i)
    s += std::int32_t(a[i]) * std::int32_t(b[i]);
  return s;
}

}  // namespace

std::int64_t fixed_group_dot(const HalfFixed& hf, std::size_t g, int group,
                             const std::int16_t* codes, int code_max) {
  const std::size_t at = g * std::size_t(group);
  const int n = hf.digits[g];
  // |code * digit| <= code_max * 2^15: blocks of `block` products keep the 32-bit sums exact.
  const int block = std::max(1, 65535 / std::clamp(code_max, 1, 1 << 15));
  // The digits' sums combine modulo 2^64: the true total fits int64, so the result is exact.
  std::uint64_t acc = 0;
  for (int k = 0; k < n; ++k) {
    const std::int16_t* d = hf.d[k].data() + at;
    std::int64_t s = 0;
    for (int j = 0; j < group; j += block)
      s += dot16(codes + j, d + j, std::min(block, group - j));
    acc += std::uint64_t(s) << (15 * k);
  }
  return std::int64_t(acc);
}

void WideDotSum::add_term(std::int64_t sig, int e2) {
  const int pos = e2 - kLsb;
  QACCEL_ASSERT(pos >= 0 && pos / 32 + 2 < kLimbs, "WideDotSum term out of range");
  const bool neg = sig < 0;
  // |sig| < 2^31 shifted by < 32 fits 63 bits: split over two 32-bit limbs.
  const std::uint64_t mag = std::uint64_t(neg ? -sig : sig) << (pos % 32);
  const std::int64_t lo = std::int64_t(mag & 0xffffffffu), hi = std::int64_t(mag >> 32);
  limb_[pos / 32] += neg ? -lo : lo;
  limb_[pos / 32 + 1] += neg ? -hi : hi;
  if (++adds_ == (1 << 30)) normalize();  // each limb holds 2^31 such adds before overflow
}

void WideDotSum::normalize() {
  for (int i = 0; i + 1 < kLimbs; ++i) {
    const std::int64_t carry = limb_[i] >> 32;  // floor division: limbs become 0..2^32-1
    limb_[i] -= carry * (std::int64_t(1) << 32);
    limb_[i + 1] += carry;
  }
  adds_ = 0;
}

float WideDotSum::to_float() const {
  if (nan_) return std::numeric_limits<float>::quiet_NaN();
  WideDotSum n = *this;
  n.normalize();
  const bool neg = n.limb_[kLimbs - 1] < 0;
  std::uint32_t mag[kLimbs];
  if (neg) {  // two's complement over the limbs
    std::int64_t borrow = 0;
    for (int i = 0; i < kLimbs; ++i) {
      std::int64_t v = -n.limb_[i] - borrow;
      borrow = v < 0 ? 1 : 0;
      mag[i] = std::uint32_t(v + (borrow << 32));
    }
  } else {
    for (int i = 0; i < kLimbs; ++i)
      mag[i] = std::uint32_t(n.limb_[i]);
  }
  auto bit = [&](int b) { return b >= 0 && ((mag[b / 32] >> (b % 32)) & 1u); };
  int top = kLimbs * 32 - 1;
  while (top >= 0 && !bit(top))
    --top;
  if (top < 0) return 0.0f;
  // Keep the bits from the float's quantum at this magnitude (24 significant bits, or the
  // subnormal quantum 2^-149) and round the rest to nearest even.
  const int top_e2 = top + kLsb;
  const int q_e2 = std::max(top_e2 - 23, -149), q = q_e2 - kLsb;
  std::uint64_t m = 0;
  for (int b = top; b >= std::max(q, 0); --b)
    m = (m << 1) | (bit(b) ? 1u : 0u);
  if (q > 0) {
    const bool half = bit(q - 1);
    bool sticky = false;
    for (int b = q - 2; b >= 0 && !sticky; --b)
      sticky = bit(b);
    if (half && (sticky || (m & 1u))) ++m;
  }
  // m has at most 25 bits at a quantum float32 holds: the conversion is exact unless it
  // overflows, which gives infinity.
  const double v = std::ldexp(double(m), q_e2);
  const float f = v > double(std::numeric_limits<float>::max())
                      ? std::numeric_limits<float>::infinity()
                      : float(v);
  return neg ? -f : f;
}

double round_minifloat(double v, int mbits, int emin, double maxv) {
  if (std::isnan(v)) return v;
  const double a = std::fabs(v);
  if (a == 0.0) return v;
  if (a >= maxv) return std::copysign(maxv, v);
  const int e = std::max(std::ilogb(a), emin);
  const double quantum = std::ldexp(1.0, e - mbits);
  const double n = a / quantum, fl = std::floor(n), frac = n - fl;  // exact (power of 2)
  const double r = frac > 0.5   ? fl + 1
                   : frac < 0.5 ? fl
                                : (std::fmod(fl, 2.0) == 0.0 ? fl : fl + 1);
  return std::copysign(std::min(r * quantum, maxv), v);
}

std::uint16_t float_to_bf16_sat(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if (std::isnan(f)) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  if (std::isinf(f)) return static_cast<std::uint16_t>(((x >> 16) & 0x8000u) | 0x7f7fu);
  x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
  std::uint16_t b = static_cast<std::uint16_t>(x >> 16);
  if ((b & 0x7f80u) == 0x7f80u) b = static_cast<std::uint16_t>((b & 0x8000u) | 0x7f7fu);
  return b;
}

float bf16_to_float(std::uint16_t b) {
  return std::bit_cast<float>(std::uint32_t(b) << 16);
}

void qmatmul(std::span<float> out, const QActivation& x, const QTensor& w) {
  QACCEL_ASSERT(out.size() == std::size_t(w.rows), "qmatmul output size");
  const bool x_int = x.elem == Elem::int_code, w_int = w.elem == Elem::int_code;
  QACCEL_ASSERT((x_int ? x.q.size() : x.h.size()) == std::size_t(w.cols) && x.group == w.group,
                "qmatmul operand shapes");
  const int G = w.group, ng = w.groups_per_row();
  if (x_int && w_int) {
    for (int r = 0; r < w.rows; ++r) {
      const std::int16_t* wr = w.q.data() + std::size_t(r) * w.cols;
      const float* ws = w.scales.data() + std::size_t(r) * ng;
      float val = 0.0f;
      for (int g = 0; g < ng; ++g) {
        std::int64_t acc = group_dot(x.q.data() + std::size_t(g) * G, wr + std::size_t(g) * G, G);
        val += (static_cast<float>(acc) * ws[g]) * x.scales[g];
      }
      out[r] = val;
    }
    return;
  }
  // A float element on either side: decode both to sig * 2^e2 and sum exactly. Without
  // bfloat16 every product is a multiple of 2^-48 and fits HalfDotSum's 128 bits.
  auto decode = [](Elem e, std::int16_t q, std::uint16_t h) {
    return e == Elem::int_code ? ElemTerm{q, 0, false}
           : e == Elem::half   ? decode_half(h)
                               : decode_bf16(h);
  };
  std::vector<ElemTerm> xt(std::size_t(w.cols));
  for (int j = 0; j < w.cols; ++j)
    xt[std::size_t(j)] =
        decode(x.elem, x_int ? x.q[std::size_t(j)] : 0, x_int ? 0 : x.h[std::size_t(j)]);
  const bool wide = x.elem == Elem::bf16 || w.elem == Elem::bf16;
  HalfFixed hf;
  if (w_int && x.elem == Elem::half)
    prepare_half_fixed(xt, G, hf);
  else
    hf.fixed.assign(std::size_t(ng), 0);
  HalfDotSum narrow;  // one for all rows: clear() only touches the bins a group used
  for (int r = 0; r < w.rows; ++r) {
    const std::size_t base = std::size_t(r) * w.cols;
    const float* ws = w.scales.data() + std::size_t(r) * ng;
    float val = 0.0f;
    for (int g = 0; g < ng; ++g) {
      if (w_int && !wide && hf.fixed[std::size_t(g)]) {  // one int64 dot product
        const std::int64_t acc =
            fixed_group_dot(hf, std::size_t(g), G, w.q.data() + base + std::size_t(g) * G, w.qmax);
        val += (fixed_to_float(acc, hf.e[std::size_t(g)]) * ws[g]) * x.scales[g];
        continue;
      }
      narrow.clear();
      if (w_int && !wide) {  // codes x binary16 inputs of a wide exponent spread, binned
        for (int j = g * G; j < (g + 1) * G; ++j) {
          const ElemTerm a = xt[std::size_t(j)];
          if (a.nan) narrow.set_nan();
          narrow.add_term(std::int64_t(w.q[base + j]) * a.sig, a.e2 + 48);
        }
        val += (narrow.to_float() * ws[g]) * x.scales[g];
        continue;
      }
      WideDotSum wsum;  // only the general path needs it (640 bits to clear per group)
      for (int j = g * G; j < (g + 1) * G; ++j) {
        const ElemTerm a = xt[std::size_t(j)];
        const ElemTerm b = decode(w.elem, w_int ? w.q[base + j] : 0, w_int ? 0 : w.h[base + j]);
        if (a.nan || b.nan) {
          narrow.set_nan(), wsum.set_nan();
          continue;
        }
        const std::int64_t p = std::int64_t(a.sig) * b.sig;
        if (wide)
          wsum.add_term(p, a.e2 + b.e2);
        else
          narrow.add_term(p, a.e2 + b.e2 + 48);
      }
      const float s = wide ? wsum.to_float() : narrow.to_float();
      val += (s * ws[g]) * x.scales[g];
    }
    out[r] = val;
  }
}

void fmatmul(std::span<float> out, std::span<const float> x, std::span<const float> w, int rows,
             int cols) {
  QACCEL_ASSERT(x.size() == std::size_t(cols) && w.size() == std::size_t(rows) * cols,
                "fmatmul operand shapes");
  // Four rows at a time: each row still sums left to right (bit-identical to the plain loop),
  // but the four independent chains hide the FP add latency.
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = w.data() + std::size_t(r) * cols;
    const float *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (int j = 0; j < cols; ++j) {
      float xj = x[j];
      a0 += w0[j] * xj;
      a1 += w1[j] * xj;
      a2 += w2[j] * xj;
      a3 += w3[j] * xj;
    }
    out[r] = a0, out[r + 1] = a1, out[r + 2] = a2, out[r + 3] = a3;
  }
  for (; r < rows; ++r) {
    const float* wr = w.data() + std::size_t(r) * cols;
    float a = 0.0f;
    for (int j = 0; j < cols; ++j)
      a += wr[j] * x[j];
    out[r] = a;
  }
}

std::uint16_t float_to_half(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  std::uint32_t sign = (x >> 16) & 0x8000u;
  std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t man = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (man ? 0x200u : 0u));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow to infinity
  if (e <= 0) {
    if (e < -10) return static_cast<std::uint16_t>(sign);  // underflows to zero
    man |= 0x800000u;                                      // make the implicit bit explicit
    int shift = 14 - e;                                    // 24-bit mantissa -> subnormal
    std::uint32_t half_man = man >> shift;
    std::uint32_t rem = man & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_man & 1u))) ++half_man;
    return static_cast<std::uint16_t>(sign | half_man);
  }
  std::uint32_t h = sign | (std::uint32_t(e) << 10) | (man >> 13);
  std::uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: correct
  return static_cast<std::uint16_t>(h);
}

std::uint16_t float_to_half_sat(float f) {
  if (std::isnan(f)) return float_to_half(f);
  const std::uint16_t h = float_to_half(f);
  return (h & 0x7fffu) == 0x7c00u ? static_cast<std::uint16_t>((h & 0x8000u) | 0x7bffu) : h;
}

float half_to_float(std::uint16_t h) {
  std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400u));
      bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace qaccel
