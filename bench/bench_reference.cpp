// Reference decode speed: tokens per host second for a stories110M-shaped synthetic model,
// float32 and W8A8. Run: build/bench/bench_reference (reports tokens/s as a counter).
#include <benchmark/benchmark.h>

#include "workloads/ops.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

namespace {

qaccel::ModelSpec stories110m(const char* scheme) {
  qaccel::ModelSpec m;
  m.name = "stories110M";
  m.dim = 768, m.hidden_dim = 2048, m.n_layers = 12, m.n_heads = 12, m.n_kv_heads = 12;
  m.vocab_size = 32000, m.seq_len = 1024;
  m.quant = qaccel::parse_scheme(scheme);
  return m;
}

void decode(benchmark::State& state, const char* scheme) {
  qaccel::ModelSpec m = stories110m(scheme);
  qaccel::Reference ref(m, qaccel::synthetic_weights(m, 1), m.seq_len);
  // Decode at a 64-token context: fill it first, then time one position per iteration.
  int pos = 0;
  for (; pos < 64; ++pos)
    ref.forward(pos % m.vocab_size, pos);
  for (auto _ : state) {
    if (pos == m.seq_len) state.SkipWithError("ran past seq_len");
    benchmark::DoNotOptimize(ref.forward(pos % m.vocab_size, pos).data());
    ++pos;
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  qaccel::WorkloadSpec w;
  w.phase = qaccel::Phase::decode, w.context_len = 64, w.generated_tokens = 1;
  double macs = double(qaccel::totals(qaccel::lower_forward(m, w)).macs);
  state.counters["macs_per_s"] =
      benchmark::Counter(double(state.iterations()) * macs, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(decode, fp32, "fp32")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(decode, w8a8, "w8a8-g64")->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_MAIN();
