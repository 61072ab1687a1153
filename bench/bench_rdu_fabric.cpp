// RDU fabric simulation speed: vectors moved through the links per host second, for the
// sections of one decoder layer (decode step) placed on a grid, plain engine (what the RDU unit
// runs). Run: build/bench/bench_rdu_fabric
#include <benchmark/benchmark.h>

#include "arch/rdu/fabric.hpp"
#include "sim/config/config.hpp"

namespace {

using namespace qaccel;
using namespace qaccel::rdu;

void layer(benchmark::State& state, const char* model, int rows, int cols, int agcus) {
  const ModelSpec m =
      config::load_model(std::string(QACCEL_SOURCE_DIR) + "/configs/models/" + model + ".yaml");
  WorkloadSpec w;
  w.name = "decode";
  w.phase = Phase::decode;
  w.context_len = 512, w.generated_tokens = 1, w.batch = 1;
  RduSpec s;
  s.rows = rows, s.cols = cols, s.agcus = agcus, s.lanes = 32;
  s.matmul_pcus = 64, s.matmul_streams = 8;
  const Mapping mp = map_layer(lower_layer(m, w, 0, s), s, Fusion::layer);
  std::int64_t vectors = 0, cycles = 0;
  for (auto _ : state) {
    vectors = 0, cycles = 0;
    for (const Section& sec : mp.sections) {
      const FabricResult r = simulate_section(sec, s, FabricEngine::plain);
      vectors += r.vectors_moved, cycles += r.cycles;
    }
    benchmark::DoNotOptimize(cycles);
  }
  state.counters["vectors_per_s"] =
      benchmark::Counter(double(state.iterations()) * double(vectors), benchmark::Counter::kIsRate);
  state.counters["vectors"] = double(vectors);
  state.counters["cycles"] = double(cycles);
  state.counters["sections"] = double(mp.sections.size());
}

}  // namespace

BENCHMARK_CAPTURE(layer, stories15M_16x16, "stories15M", 16, 16, 16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(layer, llama2_7b_32x32, "llama-2-7b", 32, 32, 64)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
