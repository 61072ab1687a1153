#include "arch/systolic/array.hpp"

#include <algorithm>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::systolic {

std::string_view to_string(Dataflow d) {
  switch (d) {
    case Dataflow::ws:
      return "ws";
    case Dataflow::os:
      return "os";
    case Dataflow::is:
      return "is";
  }
  return "?";
}

Dataflow parse_dataflow(std::string_view s) {
  if (s == "ws") return Dataflow::ws;
  if (s == "os") return Dataflow::os;
  if (s == "is") return Dataflow::is;
  throw ConfigError("dataflow '" + std::string(s) + "': expected ws, os or is");
}

namespace {

using i64 = std::int64_t;
using checked::ceil_div;

// Spatial K folds cut on group boundaries (see the header).
i64 k_folds(const GemmShape& g, int rows) {
  i64 G = g.group_size();
  return checked::mul("the array's K folds", g.k / G, ceil_div(G, rows));
}

}  // namespace

FoldPlan plan(const ArraySpec& a, const GemmShape& g) {
  QACCEL_ASSERT(a.rows > 0 && a.cols > 0, "array without PEs");
  QACCEL_ASSERT(g.m > 0 && g.n > 0 && g.k > 0 && g.k % g.group_size() == 0, "GEMM shape");
  FoldPlan p;
  switch (a.dataflow) {
    case Dataflow::ws:
      p.sr = g.k, p.sc = g.n, p.t = g.m;
      p.row_folds = k_folds(g, a.rows), p.col_folds = ceil_div(g.n, a.cols);
      break;
    case Dataflow::is:
      p.sr = g.k, p.sc = g.m, p.t = g.n;
      p.row_folds = k_folds(g, a.rows), p.col_folds = ceil_div(g.m, a.cols);
      break;
    case Dataflow::os:
      p.sr = g.m, p.sc = g.n, p.t = g.k;
      p.row_folds = ceil_div(g.m, a.rows), p.col_folds = ceil_div(g.n, a.cols);
      break;
  }
  return p;
}

std::int64_t FoldPlan::folds() const {
  return checked::mul("the array's fold count", row_folds, col_folds);
}

i64 FoldPlan::cycles_per_fold(const ArraySpec& a) const {
  const i64 R = a.rows, C = a.cols;
  // R and C are at most a few thousand; t is a GEMM dimension.
  if (a.dataflow == Dataflow::os)
    return checked::add("cycles per fold", t, R + C - 2 + (a.os_drain_exposed ? R : 0));
  return checked::add("cycles per fold", t, (a.preload_double_buffered ? R : 2 * R) + C - 2);
}

i64 FoldPlan::compute_cycles(const ArraySpec& a) const {
  return checked::add("compute cycles", checked::mul("compute cycles", folds(), cycles_per_fold(a)),
                      first_fold_extra(a) - 1);
}

i64 FoldPlan::first_fold_extra(const ArraySpec& a) const {
  return a.dataflow != Dataflow::os && a.preload_double_buffered ? a.rows : 0;
}

i64 compute_cycles(const ArraySpec& a, const GemmShape& g) {
  return plan(a, g).compute_cycles(a);
}

namespace {

// What a PE multiplies and accumulates. The step machinery below is written once for both.
// Integer PEs: int64 operands (the codes) and an int64 accumulator.
struct IntArith {
  using Val = i64;
  using Acc = i64;
  using Gemm = IntGemm;
  static Val load(std::int16_t v) { return v; }
  static Acc mac(Acc p, Val a, Val b) { return p + a * b; }
  static void add(Acc& d, const Acc& s) { d += s; }
};
// FP16 PEs: decoded elements and an exact sum. A product of two decoded elements is
// sig_a * sig_b * 2^(e2_a + e2_b), and e2 >= -24 for each, so the shift from the accumulator's
// 2^-48 LSB is never negative; a zero-padded operand ({0, 0}) adds nothing.
struct HalfArith {
  using Val = ElemTerm;
  using Acc = HalfDotSum;
  using Gemm = HalfGemm;
  static Val load(const ElemTerm& v) { return v; }
  static Acc mac(Acc p, const Val& a, const Val& b) {
    if (a.nan || b.nan)
      p.set_nan();
    else
      p.add_term(std::int64_t(a.sig) * b.sig, a.e2 + b.e2 + 48);
    return p;
  }
  static void add(Acc& d, const Acc& s) { d.add(s); }
};

// One fold of WS or IS: S (R x C) is preloaded from the top one row per cycle, then stream row
// x_t enters the left edge skewed (array row r sees x_t[r] at stream cycle t + r), partial sums
// move down, and y_t[c] leaves the bottom of column c. Returns the fold's cycles; fills y (T x C).
template <class A>
class StationaryFold {
 public:
  using Val = typename A::Val;
  using Acc = typename A::Acc;
  StationaryFold(int rows, int cols)
      : R(rows), C(cols), s(std::size_t(R) * C), s_reg(s.size()), in_reg(s.size()), ps(s.size()) {}
  const int R, C;
  std::vector<Val> s;  // the stationary tile, row-major, zero-padded
  // `count_preload`: the R preload cycles are on the fold's critical path (false when they
  // overlapped the previous fold's stream: double-buffered preload).
  template <class Feed>
  i64 run(i64 T, Feed feed, std::vector<Acc>& y, bool count_preload) {
    // Preload: rows shift down from the top edge; after R cycles row r holds s[r].
    std::fill(s_reg.begin(), s_reg.end(), Val{});
    i64 cycles = 0;
    for (int step = 0; step < R; ++step, cycles += count_preload) {
      for (int r = R - 1; r > 0; --r)
        std::copy_n(s_reg.begin() + std::size_t(r - 1) * C, C, s_reg.begin() + std::size_t(r) * C);
      std::copy_n(s.begin() + std::size_t(R - 1 - step) * C, C, s_reg.begin());
    }
    std::fill(in_reg.begin(), in_reg.end(), Val{});
    std::fill(ps.begin(), ps.end(), Acc{});
    y.assign(std::size_t(T) * C, Acc{});
    i64 collected = 0, want = T * C;
    for (i64 cyc = 0; collected < want; ++cyc, ++cycles) {
      // Descending order: each PE reads its left and upper neighbours' previous-cycle values.
      for (int r = R - 1; r >= 0; --r)
        for (int c = C - 1; c >= 0; --c) {
          std::size_t i = std::size_t(r) * C + c;
          i64 t = cyc - r;
          Val a = c == 0 ? (t >= 0 && t < T ? feed(t, r) : Val{}) : in_reg[i - 1];
          ps[i] = A::mac(r == 0 ? Acc{} : ps[i - C], a, s_reg[i]);
          in_reg[i] = a;
        }
      for (int c = 0; c < C; ++c) {
        i64 t = cyc - (R - 1) - c;
        if (t >= 0 && t < T)
          y[std::size_t(t) * C + c] = ps[std::size_t(R - 1) * C + c], ++collected;
      }
    }
    return cycles;
  }

 private:
  std::vector<Val> s_reg, in_reg;
  std::vector<Acc> ps;
};

template <class A>
i64 step_stationary(const ArraySpec& a, const typename A::Gemm& g, i64 groups,
                    std::vector<typename A::Acc>& acc) {
  using Val = typename A::Val;
  const i64 M = g.shape.m, N = g.shape.n, K = g.shape.k, G = g.shape.group_size();
  const bool ws = a.dataflow == Dataflow::ws;
  StationaryFold<A> f(a.rows, a.cols);
  std::vector<typename A::Acc> y;
  i64 cycles = 0;
  bool first = true;
  const i64 cols_total = ws ? N : M, T = ws ? M : N;
  for (i64 grp = 0; grp < groups; ++grp)
    for (i64 k0 = grp * G; k0 < (grp + 1) * G; k0 += a.rows) {
      const i64 kr = std::min<i64>(a.rows, (grp + 1) * G - k0);
      for (i64 c0 = 0; c0 < cols_total; c0 += a.cols) {
        const i64 cc = std::min<i64>(a.cols, cols_total - c0);
        std::fill(f.s.begin(), f.s.end(), Val{});
        for (i64 r = 0; r < kr; ++r)
          for (i64 c = 0; c < cc; ++c)
            f.s[std::size_t(r) * a.cols + c] =
                ws ? A::load(g.w[(c0 + c) * K + k0 + r]) : A::load(g.a[(c0 + c) * K + k0 + r]);
        auto feed = [&](i64 t, int r) -> Val {
          if (r >= kr) return Val{};
          return ws ? A::load(g.a[t * K + k0 + r]) : A::load(g.w[t * K + k0 + r]);
        };
        cycles += f.run(T, feed, y, !a.preload_double_buffered || first);
        first = false;
        for (i64 t = 0; t < T; ++t)
          for (i64 c = 0; c < cc; ++c) {
            i64 m = ws ? t : c0 + c, n = ws ? c0 + c : t;
            A::add(acc[std::size_t((m * N + n) * groups + grp)], y[std::size_t(t) * a.cols + c]);
          }
      }
    }
  return cycles;
}

// OS: PE (r, c) owns out[m0 + r][n0 + c]; a[m][t] enters row r at cycle t + r, w[n][t] enters
// column c at cycle t + c, so the PE multiplies pair t at cycle t + r + c and hands its sum to
// the output path at every group boundary. The last MAC is at cycle T + R + C - 3. The results
// then drain, one row per cycle: overlapped with the next fold (SCALE-Sim) or, with
// os_drain_exposed, R more cycles.
template <class A>
i64 step_os(const ArraySpec& a, const typename A::Gemm& g, i64 groups,
            std::vector<typename A::Acc>& acc) {
  using Val = typename A::Val;
  using Acc = typename A::Acc;
  const i64 M = g.shape.m, N = g.shape.n, K = g.shape.k, G = g.shape.group_size();
  const int R = a.rows, C = a.cols;
  const std::size_t P = std::size_t(R) * C;
  std::vector<Val> a_reg(P), b_reg(P);
  std::vector<Acc> out(P * groups);
  i64 cycles = 0;
  for (i64 m0 = 0; m0 < M; m0 += R)
    for (i64 n0 = 0; n0 < N; n0 += C) {
      std::fill(a_reg.begin(), a_reg.end(), Val{});
      std::fill(b_reg.begin(), b_reg.end(), Val{});
      std::fill(out.begin(), out.end(), Acc{});
      i64 macs = 0, want = i64(P) * K;
      for (i64 cyc = 0; macs < want; ++cyc, ++cycles)
        for (int r = R - 1; r >= 0; --r)
          for (int c = C - 1; c >= 0; --c) {
            std::size_t i = std::size_t(r) * C + c;
            i64 ta = cyc - r, tb = cyc - c;
            Val av =
                c == 0 ? (ta >= 0 && ta < K && m0 + r < M ? A::load(g.a[(m0 + r) * K + ta]) : Val{})
                       : a_reg[i - 1];
            Val bv =
                r == 0 ? (tb >= 0 && tb < K && n0 + c < N ? A::load(g.w[(n0 + c) * K + tb]) : Val{})
                       : b_reg[i - C];
            i64 t = cyc - r - c;
            if (t >= 0 && t < K) {
              Acc& o = out[i * groups + t / G];
              o = A::mac(o, av, bv), ++macs;
            }
            a_reg[i] = av, b_reg[i] = bv;
          }
      // Drain: the bottom row leaves each cycle and the rest shift down.
      for (int step = 0; step < R; ++step, cycles += a.os_drain_exposed) {
        int r = R - 1 - step;  // the row leaving now, after `step` shifts
        for (int c = 0; c < C; ++c) {
          i64 m = m0 + r, n = n0 + c;
          if (m >= M || n >= N) continue;
          for (i64 grp = 0; grp < groups; ++grp)
            A::add(acc[std::size_t((m * N + n) * groups + grp)],
                   out[(std::size_t(r) * C + c) * groups + grp]);
        }
      }
    }
  return cycles;
}

template <class A>
i64 step_gemm(const ArraySpec& a, const typename A::Gemm& g, i64 groups,
              std::vector<typename A::Acc>& acc) {
  // Both modes report the last busy cycle's 0-based index, as SCALE-Sim does (count - 1).
  return (a.dataflow == Dataflow::os ? step_os<A>(a, g, groups, acc)
                                     : step_stationary<A>(a, g, groups, acc)) -
         1;
}

}  // namespace

i64 run_int_gemm(const ArraySpec& a, const IntGemm& g, Mode mode, std::vector<i64>& acc) {
  const GemmShape& s = g.shape;
  FoldPlan p = plan(a, s);  // validates
  const i64 G = s.group_size(), groups = s.k / G;
  acc.assign(std::size_t(s.m * s.n * groups), 0);
  if (mode == Mode::step) return step_gemm<IntArith>(a, g, groups, acc);
  for (i64 m = 0; m < s.m; ++m)
    for (i64 n = 0; n < s.n; ++n)
      for (i64 grp = 0; grp < groups; ++grp)
        acc[std::size_t((m * s.n + n) * groups + grp)] =
            group_dot(g.a + m * s.k + grp * G, g.w + n * s.k + grp * G, int(G));
  return p.compute_cycles(a);
}

i64 run_half_gemm(const ArraySpec& a, const HalfGemm& g, Mode mode, std::vector<HalfDotSum>& acc) {
  const GemmShape& s = g.shape;
  FoldPlan p = plan(a, s);  // validates
  const i64 G = s.group_size(), groups = s.k / G;
  acc.assign(std::size_t(s.m * s.n * groups), HalfDotSum{});
  if (mode == Mode::step) return step_gemm<HalfArith>(a, g, groups, acc);
  for (i64 m = 0; m < s.m; ++m)
    for (i64 n = 0; n < s.n; ++n)
      for (i64 grp = 0; grp < groups; ++grp) {
        HalfDotSum& sum = acc[std::size_t((m * s.n + n) * groups + grp)];
        const ElemTerm* x = g.a + m * s.k + grp * G;
        const ElemTerm* w = g.w + n * s.k + grp * G;
        for (i64 j = 0; j < G; ++j) {
          if (x[j].nan || w[j].nan)
            sum.set_nan();
          else
            sum.add_term(std::int64_t(x[j].sig) * w[j].sig, x[j].e2 + w[j].e2 + 48);
        }
      }
  return p.compute_cycles(a);
}

void apply_scales(const std::vector<i64>& acc, const GemmShape& g, const float* xs, const float* ws,
                  float* out) {
  const i64 groups = g.k / g.group_size();
  for (i64 m = 0; m < g.m; ++m)
    for (i64 n = 0; n < g.n; ++n) {
      float val = 0.0f;
      const i64* a = acc.data() + (m * g.n + n) * groups;
      for (i64 grp = 0; grp < groups; ++grp)
        val += (static_cast<float>(a[grp]) * ws[n * groups + grp]) * xs[m * groups + grp];
      out[m * g.n + n] = val;
    }
}

void apply_scales(const std::vector<HalfDotSum>& acc, const GemmShape& g, const float* xs,
                  const float* ws, float* out) {
  const i64 groups = g.k / g.group_size();
  for (i64 m = 0; m < g.m; ++m)
    for (i64 n = 0; n < g.n; ++n) {
      float val = 0.0f;
      const HalfDotSum* a = acc.data() + (m * g.n + n) * groups;
      for (i64 grp = 0; grp < groups; ++grp)
        val += (a[grp].to_float() * ws[n * groups + grp]) * xs[m * groups + grp];
      out[m * g.n + n] = val;
    }
}

}  // namespace qaccel::systolic
