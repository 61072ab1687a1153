// The Chrome/Perfetto trace of a run (`qaccel run --trace-json`): the DRAM bucketing alone, then
// whole traces parsed back. Tests that simulate elaborate SystemC: one simulation per test.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "json.hpp"
#include "sim/config/config.hpp"
#include "sim/report/trace.hpp"
#include "sim/simulate.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"
#include "workloads/rng.hpp"

using namespace qaccel;
using qaccel::test::Json;
using qaccel::test::JsonReader;

namespace {

std::int64_t sum(const std::vector<std::int64_t>& v) {
  std::int64_t s = 0;
  for (auto x : v)
    s += x;
  return s;
}

// Everything the trace promises, checked against the run it came from.
void check_trace(const System& sys, const SimResult& res, const std::string& text) {
  const Json doc = JsonReader::parse(text);  // throws on anything but strict JSON
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc["displayTimeUnit"].str(), "ns");
  const Json::Array& ev = doc["traceEvents"].arr();
  const double per_us = sys.spec().clock_ghz * 1000.0;

  // Tracks: the system's process with one named thread per unit; the memory system's process.
  std::map<long long, std::string> threads, processes;
  for (const Json& e : ev) {
    if (e["ph"].str() != "M") continue;
    if (e["name"].str() == "process_name") {
      EXPECT_TRUE(processes.emplace(e["pid"].integer(), e["args"]["name"].str()).second);
    }
    if (e["name"].str() == "thread_name") {
      EXPECT_EQ(e["pid"].integer(), 1);
      EXPECT_TRUE(threads.emplace(e["tid"].integer(), e["args"]["name"].str()).second);
    }
  }
  ASSERT_EQ(processes.size(), 2u);
  EXPECT_EQ(processes[1].rfind("qaccel: ", 0), 0u) << processes[1];
  EXPECT_EQ(processes[2].rfind("memory (", 0), 0u) << processes[2];
  ASSERT_EQ(threads.size(), res.units.size());
  std::map<std::string, long long> tid_of;
  for (std::size_t u = 0; u < res.units.size(); ++u) {
    EXPECT_EQ(threads[static_cast<long long>(u) + 1], res.units[u].name);
    tid_of[res.units[u].name] = static_cast<long long>(u) + 1;
  }

  // Exactly one slice per op, on its unit's track, where the record says it ran.
  std::map<std::tuple<std::string, int, long long>, std::vector<const Json*>> slices;
  std::vector<std::pair<double, double>> counter;  // (ts, GB/s)
  for (const Json& e : ev) {
    const std::string& ph = e["ph"].str();
    if (ph == "X") {
      EXPECT_EQ(e["pid"].integer(), 1);
      slices[{e["name"].str(), int(e["args"]["step"].integer()), e["tid"].integer()}].push_back(&e);
    }
    if (ph == "C") {
      EXPECT_EQ(e["name"].str(), "DRAM bandwidth");
      EXPECT_EQ(e["pid"].integer(), 2);
      counter.emplace_back(e["ts"].num(), e["args"]["GB/s"].num());
    }
  }
  std::size_t matched = 0;
  for (const OpRecord& r : res.records) {
    auto it = slices.find({r.op.name, r.step, tid_of.at(r.unit)});
    ASSERT_NE(it, slices.end()) << r.op.name << " step " << r.step;
    ASSERT_EQ(it->second.size(), 1u) << r.op.name << " step " << r.step;
    const Json& e = *it->second[0];
    ++matched;
    EXPECT_EQ(e["cat"].str(), std::string(to_string(r.op.kind)));
    // Microseconds read back as the very doubles computed from the cycles...
    EXPECT_EQ(e["ts"].num(), double(r.start_cycle) / per_us) << e["ts"].number_text;
    EXPECT_EQ(e["dur"].num(), double(r.end_cycle - r.start_cycle) / per_us);
    // ...which are the cycles to well below a cycle.
    EXPECT_NEAR(e["ts"].num() * per_us, double(r.start_cycle), 1e-6);
    EXPECT_NEAR((e["ts"].num() + e["dur"].num()) * per_us, double(r.end_cycle), 1e-6);
    const Json& a = e["args"];
    EXPECT_EQ(a["start_cycle"].integer(), r.start_cycle);
    EXPECT_EQ(a["end_cycle"].integer(), r.end_cycle);
    EXPECT_EQ(a["cycles"].integer(), r.cost.cycles);
    EXPECT_EQ(a["compute_cycles"].integer(), r.cost.compute_cycles);
    EXPECT_EQ(a["stall_cycles"].integer(), r.cost.stall_cycles);
    EXPECT_EQ(a["waited_for"].str(), r.waited_for);
    EXPECT_EQ(a["dram_bytes"].integer(), r.cost.dram_read_bytes + r.cost.dram_write_bytes);
  }
  std::size_t total_slices = 0;
  for (const auto& [k, v] : slices)
    total_slices += v.size();
  EXPECT_EQ(matched, res.records.size());
  EXPECT_EQ(total_slices, res.records.size());  // no slice without its op

  // DRAM bytes: the bandwidth counter (a step function: each sample holds until the next)
  // integrates to the run's DRAM bytes, which the memory's busy stretches moved.
  EXPECT_GT(res.totals.dram_bytes, 0);
  std::int64_t stretches = 0;
  for (std::size_t i = 0; i < res.memory.size(); ++i) {
    const MemoryBusy& m = res.memory[i];
    stretches += m.bytes;
    EXPECT_LE(m.begin_cycle, m.end_cycle);
    // Kept apart only when one more would have spanned over 1/16384 of the time so far.
    if (i > 0) {
      EXPECT_GT(m.end_cycle - res.memory[i - 1].begin_cycle, m.end_cycle >> 14) << i;
    }
  }
  EXPECT_EQ(stretches, res.totals.dram_bytes);
  ASSERT_GE(counter.size(), 2u);
  EXPECT_EQ(counter.front().first, 0.0);
  EXPECT_EQ(counter.back().first, double(res.totals.cycles) / per_us);
  EXPECT_EQ(counter.back().second, 0.0);
  double bytes = 0;
  for (std::size_t i = 0; i + 1 < counter.size(); ++i) {
    EXPECT_LT(counter[i].first, counter[i + 1].first);
    EXPECT_LE(counter[i].second, sys.peak_dram_bytes_per_cycle() * sys.spec().clock_ghz * 1.0001);
    bytes += counter[i].second * (counter[i + 1].first - counter[i].first) * 1000.0;  // GB/s x ns
  }
  EXPECT_NEAR(bytes, double(res.totals.dram_bytes), 1e-9 * double(res.totals.dram_bytes));
  EXPECT_LE(counter.size(), 1002u);  // about 1000 buckets, whatever the run's length

  // Byte-identical when written again.
  std::ostringstream again;
  write_trace_json(again, sys, res, "t");
  std::ostringstream first;
  write_trace_json(first, sys, res, "t");
  EXPECT_EQ(first.str(), again.str());
}

}  // namespace

TEST(TraceBuckets, SplitProRataInWholeBytes) {
  // Width 100 over 1000 cycles: a stretch over buckets 0-2 splits 50/100/50 by its cycles.
  DramBuckets b = bucket_dram({{50, 250, 200, 0}}, 1000, 10);
  EXPECT_EQ(b.width, 100);
  ASSERT_EQ(b.bytes.size(), 10u);
  EXPECT_EQ(b.bytes[0], 50);
  EXPECT_EQ(b.bytes[1], 100);
  EXPECT_EQ(b.bytes[2], 50);
  // 7 bytes over three equal buckets: whole bytes, cumulative rounding, none lost.
  b = bucket_dram({{0, 300, 7, 1}}, 1000, 10);
  EXPECT_EQ(b.bytes[0], 2);
  EXPECT_EQ(b.bytes[1], 2);
  EXPECT_EQ(b.bytes[2], 3);
  // A span that does not divide: ceil(1001 / 10) = 101-cycle buckets, the last one 92.
  b = bucket_dram({{990, 1001, 11, 0}}, 1001, 10);
  EXPECT_EQ(b.width, 101);
  ASSERT_EQ(b.bytes.size(), 10u);
  EXPECT_EQ(b.width_of(9), 92);
  EXPECT_EQ(b.bytes[9], 11);
  // A stretch ending after the given span extends it; an empty stretch lands in its bucket.
  b = bucket_dram({{0, 10, 10, 0}, {2000, 2000, 5, 0}}, 1000, 10);
  EXPECT_EQ(b.span, 2000);
  EXPECT_EQ(b.bytes.back(), 5);
  EXPECT_EQ(sum(b.bytes), 15);
  // Nothing at all.
  EXPECT_TRUE(bucket_dram({}, 0).bytes.empty());
}

TEST(TraceBuckets, ConserveBytesOverRandomStretches) {
  SplitMix64 g(7);
  std::vector<MemoryBusy> mem;
  std::int64_t t = 0, total = 0;
  for (int i = 0; i < 5000; ++i) {
    t += g.below(50);
    const std::int64_t len = g.below(3000), bytes = std::int64_t(g.below(1u << 30)) * 7;
    mem.push_back({t, t + len, bytes, int(i % 3)});
    total += bytes;
    t += len;
  }
  for (int buckets : {1, 7, 1000, 100000}) {
    DramBuckets b = bucket_dram(mem, t, buckets);
    EXPECT_LE(b.bytes.size(), std::size_t(buckets));
    EXPECT_EQ(sum(b.bytes), total) << buckets;
    for (auto x : b.bytes)
      EXPECT_GE(x, 0);
  }
}

// A model workload: tiny decode on the edge NPU (overlap schedule, fcfs memory).
TEST(Trace, ModelRunHasOneSlicePerOpAndConservesDramBytes) {
  test::TempDir dir;
  System sys(config::load_system(test::source_dir() + "/configs/systems/edge-npu.yaml"));
  ModelSpec m = config::load_model(test::source_dir() + "/configs/models/tiny.yaml");
  WorkloadSpec w = config::load_workload(test::source_dir() + "/configs/workloads/decode-32.yaml");
  SimOptions so;
  so.record_memory = true;
  SimResult res = simulate(sys, m, w, so);
  ASSERT_FALSE(res.memory.empty());
  std::ostringstream os;
  write_trace_json(os, sys, res, "qaccel: edge-npu / tiny / decode-32");
  check_trace(sys, res, os.str());
}

// A layer list on a 1.5 GHz clock (timestamps that are not whole nanoseconds), serial order and
// next-op prefetch.
TEST(Trace, LayerListSerialPrefetchOddClock) {
  config::SystemSpec spec =
      config::load_system(test::source_dir() + "/configs/systems/edge-npu.yaml");
  spec.clock_ghz = 1.5;
  spec.schedule = Schedule::serial;
  spec.prefetch = Prefetch::next_op;
  System sys(spec);
  config::LayerList layers =
      config::load_layers(test::source_dir() + "/configs/layers/gemm-example.yaml");
  SimOptions so;
  so.record_memory = true;
  SimResult res = simulate_graph(sys, layers.graph, so);
  std::ostringstream os;
  write_trace_json(os, sys, res, "qaccel: edge-npu / layers");
  check_trace(sys, res, os.str());
}

TEST(Trace, JsonReaderIsStrict) {
  for (const char* bad : {"{\"a\": 1,}", "[1 2]", "{\"a\": 01}", "\"x\ty\"", "{\"a\": 1} x",
                          "{\"a\": 1, \"a\": 2}", "[.5]", "nul"}) {
    EXPECT_THROW(JsonReader::parse(bad), std::runtime_error) << bad;
  }
  EXPECT_EQ(JsonReader::parse("{\"a\": [1, -2.5e3, \"\\u00e9\", true, null]}")["a"].arr()[1].num(),
            -2500.0);
}
