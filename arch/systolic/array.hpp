#pragma once
// Cycle-accurate core of a weight/output/input-stationary systolic array (plain C++, no
// SystemC). Two modes that must agree on every cycle and every output bit:
//  - step: moves operands through the PE grid one cycle at a time (the reference);
//  - fast: closed-form cycle count (SCALE-Sim's compute model) and plain integer loops.
//
// Mapping of out[m][n] = sum_k a[m][k] * b[k][n] (b = weights) onto R x C PEs, as SCALE-Sim:
//   WS: rows <- K, cols <- N, streamed T = M     OS: rows <- M, cols <- N, T = K
//   IS: rows <- K, cols <- M, streamed T = N
// Cycles of one fold, whatever part of the array it occupies (SCALE-Sim v2 pads every fold to
// the whole array): WS and IS 2R + C + T - 2 (preload R, stream T, skew R + C - 2); OS
// R + C + T - 2 (no preload; the results leave while the next fold streams). folds =
// ceil(Sr/R) * ceil(Sc/C). A GEMM's compute cycles are folds x per-fold - 1: SCALE-Sim reports
// the 0-based index of the last busy cycle, and so do we (in both modes).
// Opt-in physical variants (not SCALE-Sim-comparable): `os_drain_exposed` adds R drain cycles
// per OS fold (results shift out before the next fold starts); `preload_double_buffered`
// (WS, IS) loads the next fold's stationary tile during the current stream, as a TPU's weight
// FIFO does, so only the first fold pays the R preload cycles.
//
// Quantization groups: the contract needs each group's integer sum on its own. Spatial K folds
// (WS, IS) are therefore cut on group boundaries: each group of G takes ceil(G/R) folds, and a
// group smaller than R leaves R - G rows idle. OS accumulates K in time and hands each PE's sum
// to the output path at every group boundary, so its folds do not change. A plain GEMM (no
// quantization) is one group of K, which gives SCALE-Sim's counts exactly.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/quant.hpp"

namespace qaccel::systolic {

enum class Dataflow { ws, os, is };
std::string_view to_string(Dataflow d);
Dataflow parse_dataflow(std::string_view s);  // throws ConfigError

struct ArraySpec {
  int rows = 0, cols = 0;
  Dataflow dataflow = Dataflow::ws;
  bool os_drain_exposed = false;
  bool preload_double_buffered = false;
};

struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t group = 0;  // K elements per quantization group; 0 = one group of K
  std::int64_t group_size() const { return group == 0 ? k : group; }
};

// Spatial/temporal mapping of a GEMM and its fold counts.
struct FoldPlan {
  std::int64_t sr = 0, sc = 0, t = 0;  // spatial rows/cols and temporal length
  std::int64_t row_folds = 0, col_folds = 0;
  // Checked (OverflowError): huge GEMMs on small arrays can take more than 2^63 cycles.
  std::int64_t folds() const;
  // Cycles of every fold after the first.
  std::int64_t cycles_per_fold(const ArraySpec& a) const;
  // Extra cycles of the first fold (the one exposed preload when it is double-buffered).
  std::int64_t first_fold_extra(const ArraySpec& a) const;
  // folds x per-fold + first-fold extra - 1 (see the header comment).
  std::int64_t compute_cycles(const ArraySpec& a) const;
};
FoldPlan plan(const ArraySpec& a, const GemmShape& g);

// Compute cycles of the GEMM (no memory stalls), SCALE-Sim v2's COMPUTE_REPORT "Total Cycles".
std::int64_t compute_cycles(const ArraySpec& a, const GemmShape& g);

// Integer operands: a is M x K (activations, row-major), w is N x K (weights, one row per output
// channel, as QTensor stores them). Result: acc[(m * N + n) * groups + g], each group's exact sum.
struct IntGemm {
  const std::int16_t* a = nullptr;
  const std::int16_t* w = nullptr;
  GemmShape shape;
};

enum class Mode { fast, step };

// Runs the integer GEMM on the array; returns compute cycles. `acc` gets the per-group sums
// (int64 so an overflow of the PE accumulator can be detected by the caller, never silently).
std::int64_t run_int_gemm(const ArraySpec& a, const IntGemm& g, Mode mode,
                          std::vector<std::int64_t>& acc);

// FP16 PEs: operands are decoded elements (sig * 2^e2: binary16 and fp8 values, or integer
// codes, which binary16 holds exactly up to 2^11), laid out as IntGemm's. Each PE keeps its
// group's sum exact (HalfDotSum, a 2^-48 fixed-point accumulator), so the per-group sum is the
// contract's S_g whatever the order of the additions; the step mode still adds every product
// in the array's dataflow order, one per PE per cycle, and takes the int PEs' cycles.
struct HalfGemm {
  const ElemTerm* a = nullptr;
  const ElemTerm* w = nullptr;
  GemmShape shape;
};
std::int64_t run_half_gemm(const ArraySpec& a, const HalfGemm& g, Mode mode,
                           std::vector<HalfDotSum>& acc);

// The output path: out[m][n] = sum over groups ascending of ((float)acc * ws[n][g]) * xs[m][g],
// from 0.0f (the contract of workloads/QUANTIZATION.md). xs: M x groups, ws: N x groups.
void apply_scales(const std::vector<std::int64_t>& acc, const GemmShape& g, const float* xs,
                  const float* ws, float* out);
// The same for exact float sums: (float)acc is HalfDotSum::to_float (one rounding, to nearest
// even), as qmatmul rounds S_g.
void apply_scales(const std::vector<HalfDotSum>& acc, const GemmShape& g, const float* xs,
                  const float* ws, float* out);

}  // namespace qaccel::systolic
