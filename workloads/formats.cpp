// The quantizers of every weight and activation format (workloads/QUANTIZATION.md, "Formats").
// Each group is quantized on its own, so large tensors split into row blocks in parallel.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <set>

#include "sim/base/error.hpp"
#include "sim/base/parallel.hpp"
#include "workloads/quant.hpp"

namespace qaccel {

namespace {

using W = WeightFormat;

// C roundf: half away from zero (the integer formats' rule, as llama2.c).
double round_half_away(double v) {
  return std::copysign(std::floor(std::fabs(v) + 0.5), v);
}

// Nearest integer, ties to even (the MX and FP element rule).
double round_half_even(double v) {
  const double fl = std::floor(v), frac = v - fl;
  return frac > 0.5 ? fl + 1 : frac < 0.5 ? fl : (std::fmod(fl, 2.0) == 0.0 ? fl : fl + 1);
}

// Minifloat element types in "units" of their smallest subnormal.
struct Mini {
  int mbits, emin;
  double maxv;
  int unit_log2;  // log2 of the smallest subnormal: emin - mbits
};
constexpr Mini kE2M1{1, 0, 6.0, -1};
constexpr Mini kE3M2{2, -2, 28.0, -4};
constexpr Mini kE4M3{3, -6, 448.0, -9};
constexpr Mini kE5M2{2, -14, 57344.0, -16};

double round_to(const Mini& f, double v) {
  return round_minifloat(v, f.mbits, f.emin, f.maxv);
}
int to_units(const Mini& f, double v) {
  return int(std::ldexp(v, -f.unit_log2));
}

// The nearest codebook value to v (grid ascending); a tie goes to the value nearer zero.
int nearest(std::span<const int> grid, double v) {
  const auto it =
      std::lower_bound(grid.begin(), grid.end(), v, [](int g, double x) { return double(g) < x; });
  if (it == grid.begin()) return grid.front();
  if (it == grid.end()) return grid.back();
  const int hi = *it, lo = *(it - 1);
  const double dh = double(hi) - v, dl = v - double(lo);  // exact: small integers and a float
  if (dh != dl) return dh < dl ? hi : lo;
  return std::abs(hi) < std::abs(lo) ? hi : lo;
}

int max_abs(std::span<const int> grid) {
  int m = 0;
  for (int g : grid)
    m = std::max(m, std::abs(g));
  return m;
}

// A grid with its nearest-value table: the nearest value only changes at midpoints of
// consecutive (integer) grid values, all multiples of 1/2, so a value's half-unit interval, or
// the midpoint itself, decides it. Exactly nearest(grid, v), without a search or a branch.
struct Codebook {
  std::vector<int> grid;
  int lo2 = 0, hi2 = 0, maxabs = 0;
  // Per k in [lo2, hi2]: at [2(k - lo2)] the nearest to the point k/2, at [2(k - lo2) + 1] to the
  // open interval (k/2, (k+1)/2).
  std::vector<int> table;
  explicit Codebook(std::vector<int> g) : grid(std::move(g)) {
    lo2 = 2 * grid.front(), hi2 = 2 * grid.back(), maxabs = max_abs(grid);
    for (int k = lo2; k <= hi2; ++k) {
      table.push_back(nearest(grid, k / 2.0));
      table.push_back(nearest(grid, (k + 0.5) / 2.0));
    }
  }
  int nearest_to(double v) const {
    // Clamped to [lo2, hi2] (NaN to lo2), whose end points give the grid's ends, as nearest().
    const double t = std::min(std::max(double(lo2), v * 2.0), double(hi2));  // v * 2 is exact
    int k = static_cast<int>(t);
    k -= double(k) > t ? 1 : 0;  // floor
    return table[std::size_t(2 * (k - lo2) + (t == double(k) ? 0 : 1))];
  }
};

float group_amax(std::span<const float> x) {
  // Four independent maxima (a max ignores NaN the same way in any order): no chain of
  // dependent max latencies through the group.
  float m[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  std::size_t i = 0;
  for (; i + 4 <= x.size(); i += 4)
    for (std::size_t k = 0; k < 4; ++k)
      m[k] = std::max(m[k], std::fabs(x[i + k]));
  for (; i < x.size(); ++i)
    m[0] = std::max(m[0], std::fabs(x[i]));
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

// Codebook group: s = max|w| / max|grid| (float32), codes = nearest(w / s). Returns the
// squared error sum (double) so callers can choose between grids.
double codebook_group(std::span<const float> w, const Codebook& cb, float& scale,
                      std::int16_t* codes) {
  const float s = group_amax(w) / static_cast<float>(cb.maxabs);
  scale = s;
  double err = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const int c = s == 0.0f ? 0 : cb.nearest_to(double(w[i] / s));
    codes[i] = static_cast<std::int16_t>(c);
    const double e = double(w[i]) - double(c) * double(s);
    err += e * e;
  }
  return err;
}

std::vector<int> symmetric(std::initializer_list<int> mags) {
  std::vector<int> g;
  for (int m : mags) {
    g.push_back(m);
    if (m) g.push_back(-m);
  }
  std::sort(g.begin(), g.end());
  return g;
}

const Codebook& fp3_book() {
  static const Codebook c(symmetric({0, 1, 2, 4}));
  return c;
}
const Codebook& fp4_book() {
  static const Codebook c(symmetric({0, 1, 2, 3, 4, 6, 8, 12}));
  return c;
}
const Codebook& flint4_book() {
  static const Codebook c(symmetric({0, 1, 2, 3, 4, 6, 8, 16}));
  return c;
}
const Codebook& olive_outlier_book() {
  static const Codebook c(symmetric({8, 12, 16, 24, 32, 48, 64, 96}));
  return c;
}

// BitMoD's four extended types of a base grid, in the fixed tie-break order: extra resolution
// +r, -r, extra asymmetry +a, -a.
std::vector<int> bitmod_grid(W f, int variant) {
  std::vector<int> g = (f == W::bitmod3 ? fp3_book() : fp4_book()).grid;
  const int r = f == W::bitmod3 ? 3 : 10, a = f == W::bitmod3 ? 6 : 16;
  const int extra[4] = {r, -r, a, -a};
  g.push_back(extra[variant]);
  std::sort(g.begin(), g.end());
  return g;
}
const std::array<Codebook, 4>& bitmod_books(W f) {
  static const std::array<Codebook, 4> b3 = {
      Codebook(bitmod_grid(W::bitmod3, 0)), Codebook(bitmod_grid(W::bitmod3, 1)),
      Codebook(bitmod_grid(W::bitmod3, 2)), Codebook(bitmod_grid(W::bitmod3, 3))};
  static const std::array<Codebook, 4> b4 = {
      Codebook(bitmod_grid(W::bitmod4, 0)), Codebook(bitmod_grid(W::bitmod4, 1)),
      Codebook(bitmod_grid(W::bitmod4, 2)), Codebook(bitmod_grid(W::bitmod4, 3))};
  return f == W::bitmod3 ? b3 : b4;
}

// BitMoD: each of the four types quantizes the group as codebook_group does, the least squared
// error wins (strictly: a tie keeps the earlier type). The four are computed side by side (four
// independent error sums, each still in element order); types of the same largest magnitude
// (+r and -r, +a and -a) have the same scale, so the scaled weights are computed once per pair.
float bitmod_group(const std::array<Codebook, 4>& books, std::span<const float> w, float amax,
                   std::int16_t* codes, std::uint8_t* variant) {
  QACCEL_ASSERT(books[0].maxabs == books[1].maxabs && books[2].maxabs == books[3].maxabs,
                "bitmod types pair up by largest magnitude");
  const std::size_t n = w.size();
  thread_local std::vector<double> scaled;
  thread_local std::vector<std::int16_t> trial;
  scaled.resize(2 * n), trial.resize(4 * n);
  float s[4];
  for (std::size_t v = 0; v < 4; ++v)
    s[v] = amax / static_cast<float>(books[v].maxabs);
  for (std::size_t p = 0; p < 2; ++p) {
    const float sp = s[2 * p];
    for (std::size_t i = 0; i < n; ++i)
      scaled[p * n + i] = sp == 0.0f ? 0.0 : double(w[i] / sp);
  }
  double err[4] = {0, 0, 0, 0};
  for (std::size_t i = 0; i < n; ++i) {
    const double wi = double(w[i]);
    for (std::size_t v = 0; v < 4; ++v) {
      const int q = s[v] == 0.0f ? 0 : books[v].nearest_to(scaled[(v / 2) * n + i]);
      trial[v * n + i] = static_cast<std::int16_t>(q);
      const double e = wi - double(q) * double(s[v]);
      err[v] += e * e;
    }
  }
  double best = std::numeric_limits<double>::infinity();
  int best_v = -1;
  for (int v = 0; v < 4; ++v)
    if (err[v] < best) best = err[v], best_v = v;
  if (best_v < 0) return 0.0f;  // every error overflowed: no type wins (codes stay as they are)
  std::copy_n(trial.data() + std::size_t(best_v) * n, n, codes);
  *variant = std::uint8_t(best_v);
  return s[best_v];
}

// OliVe-style outlier-victim pairs: normal int4 [-7, 7]; in a pair with an element beyond 7.5
// scale units, the larger one becomes an outlier on the abfloat grid +-{8 .. 96} and the other
// (the victim) becomes 0. The scale is max|w| / c for the c of least squared error.
double olive_group(std::span<const float> w, float amax, int c, float& scale, std::int16_t* codes) {
  const float s = amax / static_cast<float>(c);
  scale = s;
  double err = 0;
  for (std::size_t i = 0; i < w.size(); i += 2) {
    const std::size_t n = std::min<std::size_t>(2, w.size() - i);
    double v[2] = {0, 0};
    for (std::size_t j = 0; j < n; ++j)
      v[j] = s == 0.0f ? 0.0 : double(w[i + j] / s);
    int code[2] = {0, 0};
    const bool out0 = std::fabs(v[0]) > 7.5, out1 = n > 1 && std::fabs(v[1]) > 7.5;
    if (out0 || out1) {
      const std::size_t o = (n > 1 && std::fabs(v[1]) > std::fabs(v[0])) ? 1 : 0;
      code[o] = olive_outlier_book().nearest_to(v[o]);
    } else {
      for (std::size_t j = 0; j < n; ++j)
        code[j] = int(std::clamp(round_half_away(v[j]), -7.0, 7.0));
    }
    for (std::size_t j = 0; j < n; ++j) {
      codes[i + j] = static_cast<std::int16_t>(code[j]);
      const double e = double(w[i + j]) - double(code[j]) * double(s);
      err += e * e;
    }
  }
  return err;
}

// One group of `w` into codes (int_code formats) or binary16 / bfloat16 patterns; returns the
// group's float32 scale. `tensor_scale` is NVFP4's second-level scale.
float quantize_group(W f, std::span<const float> w, float tensor_scale, std::int16_t* codes,
                     std::uint16_t* h, std::uint8_t* variant) {
  const WeightFormatInfo& fi = info(f);
  const float amax = group_amax(w);
  const std::size_t n = w.size();
  switch (f) {
    case W::fp32:
    case W::fp16:
    case W::bf16:
      QACCEL_ASSERT(false, "fp32/fp16/bf16 are not group-quantized");
      return 0.0f;
    case W::fp8e4m3:
    case W::fp8e5m2: {
      const Mini& m = f == W::fp8e4m3 ? kE4M3 : kE5M2;
      const float s = amax / static_cast<float>(m.maxv);
      for (std::size_t i = 0; i < n; ++i)
        h[i] = s == 0.0f ? 0 : float_to_half(float(round_to(m, double(w[i] / s))));
      return s;
    }
    case W::int2:
    case W::int3:
    case W::int4:
    case W::int5:
    case W::int6:
    case W::int7:
    case W::int8: {
      const float s = symmetric_scale(w, fi.code_max);
      for (std::size_t i = 0; i < n; ++i)
        codes[i] = static_cast<std::int16_t>(quantize_value(w[i], s, fi.code_max));
      return s;
    }
    case W::int2asym:
    case W::int3asym:
    case W::int4asym:
    case W::int5asym:
    case W::int6asym:
    case W::int7asym:
    case W::int8asym: {
      // The range always holds 0, so 0 is exact and the zero point lies in [0, levels].
      float lo = 0.0f, hi = 0.0f;
      for (float v : w)
        lo = std::min(lo, v), hi = std::max(hi, v);
      const int levels = fi.code_max;
      const float s = (hi - lo) / static_cast<float>(levels);
      if (s == 0.0f) {
        std::fill_n(codes, n, std::int16_t(0));
        return 0.0f;
      }
      const int z = int(std::clamp(round_half_away(double(-lo / s)), 0.0, double(levels)));
      for (std::size_t i = 0; i < n; ++i) {
        const int q = int(std::clamp(round_half_away(double(w[i] / s)) + z, 0.0, double(levels)));
        codes[i] = static_cast<std::int16_t>(q - z);  // value = s * (q - z)
      }
      return s;
    }
    case W::flint4: {
      float s = 0;
      codebook_group(w, flint4_book(), s, codes);
      return s;
    }
    case W::fp3:
    case W::fp4: {
      float s = 0;
      codebook_group(w, f == W::fp3 ? fp3_book() : fp4_book(), s, codes);
      return s;
    }
    case W::bitmod3:
    case W::bitmod4:
      return bitmod_group(bitmod_books(f), w, amax, codes, variant);
    case W::olive4: {
      std::vector<std::int16_t> trial(n);
      double best = std::numeric_limits<double>::infinity();
      float best_s = 0;
      for (int c : {7, 8, 12, 16, 24, 32, 48, 64, 96}) {
        float s = 0;
        const double e = olive_group(w, amax, c, s, trial.data());
        if (e < best) best = e, best_s = s, std::copy(trial.begin(), trial.end(), codes);
      }
      return best_s;
    }
    case W::mxint8:
    case W::mxfp6:
    case W::mxfp4: {
      // OCP MX: shared exponent X = floor(log2 amax) - emax(element), E8M0 range [-127, 127].
      const int emax = f == W::mxint8 ? 0 : f == W::mxfp6 ? 4 : 2;
      const int unit_log2 = f == W::mxint8 ? -6 : f == W::mxfp6 ? kE3M2.unit_log2 : -1;
      int X = -127;
      if (amax > 0.0f) {
        int ex = 0;
        std::frexp(amax, &ex);  // amax = f * 2^ex, f in [0.5, 1)
        X = std::clamp(ex - 1 - emax, -127, 127);
      }
      for (std::size_t i = 0; i < n; ++i) {
        const double v = std::ldexp(double(w[i]), -X);
        int c = 0;
        if (f == W::mxint8) {
          c = int(std::clamp(round_half_even(v * 64.0), -127.0, 127.0));
        } else {
          const Mini& m = f == W::mxfp6 ? kE3M2 : kE2M1;
          c = to_units(m, round_to(m, v));
        }
        codes[i] = static_cast<std::int16_t>(c);
      }
      return amax > 0.0f ? std::ldexp(1.0f, X + unit_log2) : 0.0f;
    }
    case W::nvfp4: {
      // Block scale: E4M3 of (amax / 6) / tensor_scale; effective scale = e4m3 * tensor_scale.
      if (tensor_scale == 0.0f) {
        std::fill_n(codes, n, std::int16_t(0));
        return 0.0f;
      }
      const float bs = float(round_to(kE4M3, double((amax / 6.0f) / tensor_scale)));
      const float S = bs * tensor_scale;
      for (std::size_t i = 0; i < n; ++i)
        codes[i] =
            S == 0.0f ? 0 : static_cast<std::int16_t>(to_units(kE2M1, round_to(kE2M1, w[i] / S)));
      return S * 0.5f;  // the value of one E2M1 unit
    }
  }
  return 0.0f;
}

}  // namespace

std::vector<int> code_values(WeightFormat f) {
  const WeightFormatInfo& fi = info(f);
  QACCEL_ASSERT(fi.elem == Elem::int_code, "code_values of a float format");
  std::set<int> out;
  auto minifloat = [&](const Mini& m) {  // every representable value of the type, in units
    const int max_units = to_units(m, m.maxv);
    for (int u = 0; u <= max_units; ++u) {
      const double v = std::ldexp(double(u), m.unit_log2);
      if (round_to(m, v) == v) out.insert(u), out.insert(-u);
    }
  };
  switch (f) {
    case W::flint4:
    case W::fp3:
    case W::fp4:
    case W::bitmod3:
    case W::bitmod4:
    case W::olive4: {
      std::vector<std::vector<int>> grids;
      if (f == W::flint4) grids.push_back(flint4_book().grid);
      if (f == W::fp3) grids.push_back(fp3_book().grid);
      if (f == W::fp4) grids.push_back(fp4_book().grid);
      if (f == W::bitmod3 || f == W::bitmod4)
        for (const auto& b : bitmod_books(f))
          grids.push_back(b.grid);
      if (f == W::olive4)
        grids.push_back(symmetric({0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96}));
      for (const auto& g : grids)
        out.insert(g.begin(), g.end());
      break;
    }
    case W::mxfp6:
      minifloat(kE3M2);
      break;
    case W::mxfp4:
    case W::nvfp4:
      minifloat(kE2M1);
      break;
    default: {  // integers: symmetric [-qmax, qmax]; asymmetric codes q - z in [-levels, levels]
      for (int c = -fi.code_max; c <= fi.code_max; ++c)
        out.insert(c);
    }
  }
  return {out.begin(), out.end()};
}

QTensor quantize_weights(std::span<const float> w, int rows, int cols, int group, WeightFormat f) {
  QACCEL_ASSERT(w.size() == std::size_t(rows) * cols, "weight size");
  const WeightFormatInfo& fi = info(f);
  QACCEL_ASSERT(f != W::fp32, "fp32 weights are not quantized");
  // Loaders refuse non-finite weights; a NaN would reach an int conversion below.
  QACCEL_ASSERT(std::all_of(w.begin(), w.end(), [](float v) { return std::isfinite(v); }),
                "non-finite weight");
  if (f == W::fp16) return half_weights(w, rows, cols);
  QTensor t;
  t.rows = rows, t.cols = cols, t.format = f, t.elem = fi.elem, t.qmax = fi.code_max;
  if (f == W::bf16) {
    t.group = cols;
    t.h.resize(w.size());
    t.scales.assign(std::size_t(rows), 1.0f);
    for (std::size_t i = 0; i < w.size(); ++i)
      t.h[i] = float_to_bf16_sat(w[i]);
    return t;
  }
  QACCEL_ASSERT(group > 0 && cols % group == 0, "group must divide cols");
  t.group = group;
  if (fi.elem == Elem::int_code)
    t.q.resize(w.size());
  else
    t.h.resize(w.size());
  t.scales.resize(std::size_t(rows) * (cols / group));
  if (f == W::bitmod3 || f == W::bitmod4) t.variant.resize(t.scales.size());
  float tensor_scale = 0.0f;
  if (f == W::nvfp4) tensor_scale = group_amax(w) / 2688.0f;  // 448 * 6
  const std::size_t groups = t.scales.size(), blocks = w.size() >= (1u << 20) ? 64 : 1;
  parallel_for(blocks, [&](std::size_t b) {
    for (std::size_t g = b * groups / blocks; g < (b + 1) * groups / blocks; ++g) {
      const std::size_t at = g * std::size_t(group);
      t.scales[g] = quantize_group(
          f, w.subspan(at, std::size_t(group)), tensor_scale, t.q.empty() ? nullptr : &t.q[at],
          t.h.empty() ? nullptr : &t.h[at], t.variant.empty() ? nullptr : &t.variant[g]);
    }
  });
  return t;
}

void quantize_activation(std::span<const float> x, int group, ActFormat f, ActGranularity gran,
                         QActivation& out) {
  QACCEL_ASSERT(group > 0 && x.size() % group == 0, "group must divide the activation length");
  if (f == ActFormat::int8 || f == ActFormat::int16)
    return quantize_activation(x, group, f == ActFormat::int8 ? 127 : 32767, gran, out);
  const std::size_t n_groups = x.size() / std::size_t(group);
  out.group = group;
  out.elem = act_elem(f);
  out.q.clear();
  out.h.resize(x.size());
  if (f == ActFormat::fp16 || f == ActFormat::bf16) {
    out.scales.assign(n_groups, 1.0f);
    for (std::size_t i = 0; i < x.size(); ++i)
      out.h[i] = f == ActFormat::fp16 ? float_to_half_sat(x[i]) : float_to_bf16_sat(x[i]);
    return;
  }
  // fp8: a float32 scale amax / max-finite per token (or per group), elements rounded to
  // nearest even and saturated, held exactly as binary16.
  const Mini& m = f == ActFormat::fp8e4m3 ? kE4M3 : kE5M2;
  const float maxv = static_cast<float>(m.maxv);
  out.scales.resize(n_groups);
  if (gran == ActGranularity::token)
    std::fill(out.scales.begin(), out.scales.end(), group_amax(x) / maxv);
  else
    for (std::size_t g = 0; g < n_groups; ++g)
      out.scales[g] = group_amax(x.subspan(g * group, std::size_t(group))) / maxv;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float s = out.scales[i / std::size_t(group)];
    out.h[i] = s == 0.0f ? 0 : float_to_half(float(round_to(m, double(x[i] / s))));
  }
}

}  // namespace qaccel
