// Systolic array core speed: simulated PE-cycles (cycles x R x C) per host second for the
// per-cycle stepping mode and the fast mode (functional: integer sums computed; timing: closed
// form only). Run: build/bench/bench_systolic
#include <benchmark/benchmark.h>

#include "arch/systolic/array.hpp"
#include "workloads/rng.hpp"

namespace {

using namespace qaccel::systolic;

void gemm(benchmark::State& state, Mode mode, Dataflow df, bool functional) {
  const int R = 32, C = 32;
  GemmShape s{state.range(0), state.range(1), state.range(2), 64};
  std::vector<std::int16_t> a(std::size_t(s.m * s.k));
  std::vector<std::int16_t> w(std::size_t(s.n * s.k));
  qaccel::SplitMix64 g(1);
  for (auto& v : a)
    v = std::int16_t(int(g.below(255)) - 127);
  for (auto& v : w)
    v = std::int16_t(int(g.below(15)) - 7);
  ArraySpec arr{R, C, df};
  std::vector<std::int64_t> acc;
  std::int64_t cycles = 0;
  for (auto _ : state) {
    cycles = functional ? run_int_gemm(arr, IntGemm{a.data(), w.data(), s}, mode, acc)
                        : compute_cycles(arr, s);
    benchmark::DoNotOptimize(cycles);
  }
  state.counters["pe_cycles_per_s"] = benchmark::Counter(
      double(state.iterations()) * double(cycles) * R * C, benchmark::Counter::kIsRate);
  state.counters["cycles"] = double(cycles);
}

}  // namespace

BENCHMARK_CAPTURE(gemm, step_ws, Mode::step, Dataflow::ws, true)
    ->Args({64, 64, 128})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, step_os, Mode::step, Dataflow::os, true)
    ->Args({64, 64, 128})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, fast_functional_ws, Mode::fast, Dataflow::ws, true)
    ->Args({64, 64, 128})
    ->Args({1, 4096, 4096})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, fast_timing_ws, Mode::fast, Dataflow::ws, false)->Args({1, 4096, 4096});
BENCHMARK_MAIN();
