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
        t.q[g * group + i] = static_cast<std::int8_t>(quantize_value(grp[i], s, qmax));
    }
  });
  return t;
}

float QTensor::at(int r, int c) const {
  const std::size_t i = std::size_t(r) * cols + c;
  if (fp16()) return half_to_float(h[i]);
  return static_cast<float>(q[i]) * scales[std::size_t(r) * groups_per_row() + c / group];
}

QTensor half_weights(std::span<const float> w, int rows, int cols) {
  QACCEL_ASSERT(w.size() == std::size_t(rows) * cols, "weight size");
  QTensor t;
  t.rows = rows, t.cols = cols, t.group = cols;
  t.h.resize(w.size());
  for (std::size_t i = 0; i < w.size(); ++i)
    t.h[i] = float_to_half_sat(w[i]);
  return t;
}

void half_activation(std::span<const float> x, QActivation& out) {
  out.group = int(x.size());
  out.q.clear(), out.scales.clear();
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
  const __int128 p = static_cast<__int128>(ma * mb) << shift;
  v_ += ((a ^ b) & 0x8000u) ? -p : p;
}

float HalfDotSum::to_float() const {
  if (nan_) return std::numeric_limits<float>::quiet_NaN();
  if (v_ == 0) return 0.0f;
  unsigned __int128 m = v_ < 0 ? -static_cast<unsigned __int128>(v_) : v_;
  int msb = 127;
  while (!((m >> msb) & 1u))
    --msb;
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
  return v_ < 0 ? -f : f;
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

std::int64_t group_dot(const std::int16_t* x, const std::int8_t* w, int n) {
  // Integer addition is associative, so the compiler may vectorise freely; the value is exact.
  // Chunks of 2^16 products keep an int32 partial sum from overflowing (|x*w| < 2^22).
  std::int64_t total = 0;
  for (int base = 0; base < n; base += 512) {
    int end = std::min(n, base + 512);
    std::int32_t acc = 0;
    for (int i = base; i < end; ++i)
      acc += std::int32_t(x[i]) * std::int32_t(w[i]);
    total += acc;
  }
  return total;
}

void qmatmul(std::span<float> out, const QActivation& x, const QTensor& w) {
  QACCEL_ASSERT(out.size() == std::size_t(w.rows), "qmatmul output size");
  QACCEL_ASSERT(x.q.size() == std::size_t(w.cols) && x.group == w.group, "qmatmul operand shapes");
  const int G = w.group, ng = w.groups_per_row();
  for (int r = 0; r < w.rows; ++r) {
    const std::int8_t* wr = w.q.data() + std::size_t(r) * w.cols;
    const float* ws = w.scales.data() + std::size_t(r) * ng;
    float val = 0.0f;
    for (int g = 0; g < ng; ++g) {
      std::int64_t acc = group_dot(x.q.data() + std::size_t(g) * G, wr + std::size_t(g) * G, G);
      val += (static_cast<float>(acc) * ws[g]) * x.scales[g];
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
