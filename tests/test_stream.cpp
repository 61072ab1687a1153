// A workload runs pass by pass in bounded memory (GraphBuilder, the engine's window, RecordLog);
// these tests hold it to the whole-graph run it replaces, record for record.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/record_log.hpp"
#include "sim/simulate.hpp"
#include "test_util.hpp"
#include "workloads/graph.hpp"

namespace qaccel {
namespace {

// Every field of a record, as text (exact: doubles to 17 digits).
std::string dump(const OpRecord& r) {
  std::ostringstream os;
  os.precision(17);
  const Op& o = r.op;
  os << o.name << "|" << int(o.kind) << "|" << o.layer << "|" << o.m << "," << o.n << "," << o.k
     << "," << o.count << "," << o.elements << "|" << o.dtype << "|" << o.weight_bits << ","
     << o.act_bits << "," << o.kv_bits << "," << int(o.wformat) << "," << int(o.aformat) << ","
     << o.group << "|" << o.macs << "," << o.flops << "," << o.weight_bytes << ","
     << o.act_read_bytes << "," << o.act_write_bytes << "," << o.kv_read_bytes << ","
     << o.kv_write_bytes << "|" << r.step << "|" << r.unit << "|" << r.mapped_by << "|"
     << r.waited_for << "|";
  const OpCost& c = r.cost;
  for (std::int64_t v :
       {c.cycles, c.compute_cycles, c.stall_cycles, c.macs, c.flops, c.dram_read_bytes,
        c.dram_write_bytes, c.sram_read_bytes, c.sram_write_bytes, r.ready_cycle, r.start_cycle,
        r.end_cycle, r.memory_cycles, r.hidden_memory_cycles, r.prefetched_bytes})
    os << v << ",";
  for (double v : {c.compute_pj, c.sram_pj, c.dram_pj, r.intensity, r.attained_flops_per_cycle,
                   r.peak_flops_per_cycle, r.utilization})
    os << v << ",";
  os << r.memory_bound;
  return os.str();
}

// A run's whole outcome as text: records, units, totals and every statistic.
std::string outcome(System& sys, const SimResult& r) {
  std::ostringstream os;
  os.precision(17);
  for (const OpRecord& rec : r.records)
    os << dump(rec) << "\n";
  for (const UnitUsage& u : r.units)
    os << u.name << " " << u.ops << " " << u.busy_cycles << " " << u.stalled_cycles << " "
       << u.idle_cycles << "\n";
  os << r.totals.cycles << " " << r.totals.dynamic_pj << " " << r.totals.leakage_pj << "\n";
  for (const Stat& s : sys.stats().all())
    os << s.name << "=" << s.value << "\n";
  return os.str();
}

struct Case {
  std::string system, model, workload;
  std::string schedule, prefetch, attention;  // "" keeps the system's
};

// The same run both ways, each in a child of its own (one elaboration per process).
void expect_same(const Case& c) {
  const std::string dir = test::source_dir() + "/configs/";
  auto run = [&](bool whole) {
    return test::in_child([&] {
      config::SystemSpec spec = config::load_system(dir + "systems/" + c.system + ".yaml");
      if (c.schedule == "serial") spec.schedule = Schedule::serial;
      if (c.prefetch == "next_op") spec.prefetch = Prefetch::next_op;
      if (c.attention == "per_head") spec.attention = AttentionOps::per_head;
      System sys(spec);
      const ModelSpec m = config::load_model(dir + "models/" + c.model + ".yaml");
      WorkloadSpec w;
      if (c.workload == "prompt-then-8") {  // a batch of two 32-token prompts, then 8 tokens
        w.name = c.workload, w.phase = Phase::prefill, w.prompt_len = 32, w.batch = 2;
        w.generated_tokens = 8;
      } else {
        w = config::load_workload(dir + "workloads/" + c.workload + ".yaml");
      }
      if (auto p = w.problems(m); !p.empty()) throw std::runtime_error(p[0]);
      SimResult r =
          whole ? simulate_graph(sys, lower_workload(m, w, spec.attention)) : simulate(sys, m, w);
      EXPECT_TRUE(r.deadlock.empty()) << r.deadlock;
      return outcome(sys, r);
    });
  };
  const std::string whole = run(true), passes = run(false);
  ASSERT_GT(whole.size(), 1000u);
  if (whole == passes) return;
  // Name the first line that differs.
  std::istringstream a(whole), b(passes);
  std::string la, lb;
  int line = 0;
  while (std::getline(a, la) && std::getline(b, lb) && la == lb)
    ++line;
  ADD_FAILURE() << c.system << " " << c.model << " " << c.workload << " " << c.schedule << " "
                << c.prefetch << " " << c.attention << ": line " << line
                << " differs\n whole graph: " << la << "\n pass by pass: " << lb;
}

TEST(Stream, PassByPassEqualsTheWholeGraphOnEveryShippedSystem) {
  for (const auto& e :
       std::filesystem::directory_iterator(test::source_dir() + "/configs/systems")) {
    const std::string sys = e.path().stem().string();
    SCOPED_TRACE(sys);
    expect_same({sys, "stories15M", "decode-32", "", "", ""});
  }
}

TEST(Stream, PassByPassEqualsTheWholeGraphWithAPromptAndSchedules) {
  for (const char* sys : {"edge-npu-dram", "duplex", "hbm-pim", "rdu-small", "bitmod"}) {
    SCOPED_TRACE(sys);
    expect_same({sys, "tiny", "prompt-then-8", "", "", ""});
    expect_same({sys, "tiny", "decode-32", "serial", "next_op", ""});
    expect_same({sys, "tiny", "decode-32", "", "next_op", "per_head"});
  }
}

// GraphBuilder against build_graph over all the passes: the same edges and addresses, and once
// finished ops are forgotten, the edges to them become the floor of their latest end.
TEST(Stream, GraphBuilderEqualsBuildGraph) {
  ModelSpec m = test::small_model();
  for (const char* kind : {"decode", "prefill"}) {
    WorkloadSpec w;
    w.name = kind;
    w.phase = std::string(kind) == "decode" ? Phase::decode : Phase::prefill;
    w.context_len = 4, w.prompt_len = 5, w.generated_tokens = 6, w.batch = 2;
    for (AttentionOps att : {AttentionOps::per_layer, AttentionOps::per_head}) {
      const OpGraph g = lower_workload(m, w, att);
      // Made-up end cycles, not monotone in op order.
      auto end_of = [](std::int64_t id) { return (id * 7919) % 1000 + 1; };
      GraphBuilder b;
      std::int64_t forgotten = 0;
      std::size_t peak_tensors = 0;
      for (int s = 0; s < w.passes(); ++s) {
        const PassBlock pb = b.add_pass(lower_forward(m, w, s, att), s);
        for (std::size_t k = 0; k < pb.ops.size(); ++k) {
          const std::size_t i = std::size_t(pb.first) + k;
          ASSERT_EQ(pb.ops[k].name, g.ops[i].name);
          EXPECT_EQ(pb.read_address[k], g.read_address[i]) << g.ops[i].name;
          EXPECT_EQ(pb.write_address[k], g.write_address[i]) << g.ops[i].name;
          std::vector<std::int64_t> live;
          std::int64_t floor = 0;
          for (int p : g.preds[i])
            if (p < forgotten)
              floor = std::max(floor, end_of(p));
            else
              live.push_back(p);
          EXPECT_EQ(pb.preds[k], live) << "step " << s << " " << g.ops[i].name;
          EXPECT_EQ(pb.ready_floor_cycles[k], floor) << "step " << s << " " << g.ops[i].name;
        }
        // Forget every pass but the last one, as the engine's window would.
        const std::int64_t upto = pb.first;
        std::vector<std::int64_t> ends;
        for (std::int64_t id = forgotten; id < upto; ++id)
          ends.push_back(end_of(id));
        b.forget(forgotten, ends);
        forgotten = upto;
        peak_tensors = std::max(peak_tensors, b.tensors());
      }
      std::uint64_t extent = 0;  // as System checks it against the DRAM's capacity
      for (const Tensor& t : g.tensors)
        extent = std::max(extent, t.address + std::uint64_t(t.bytes));
      EXPECT_EQ(b.extent(), extent);
      EXPECT_EQ(b.ops(), std::int64_t(g.size()));
      // Bounded: weights, caches and two passes' activations, not every pass's.
      EXPECT_LT(peak_tensors, g.tensors.size() / 2) << kind;
    }
  }
}

// The peak resident memory of a child that runs a stories15M decode of `tokens` steps.
std::int64_t peak_rss_kib(int tokens, bool keep_records) {
  const std::string out = test::in_child([&] {
    const std::string dir = test::source_dir() + "/configs/";
    System sys(config::load_system(dir + "systems/edge-npu.yaml"));
    ModelSpec m = config::load_model(dir + "models/stories15M.yaml");
    m.seq_len = 8192;
    WorkloadSpec w;
    w.name = "long", w.phase = Phase::decode, w.context_len = 16, w.generated_tokens = tokens;
    SimOptions so;
    so.keep_records = keep_records;
    SimResult r = simulate(sys, m, w, so);
    EXPECT_EQ(r.ops, count_ops(m, w));
    std::ifstream st("/proc/self/status");
    for (std::string line; std::getline(st, line);)
      if (line.rfind("VmHWM:", 0) == 0) return line.substr(6);
    return std::string("0");
  });
  return std::stoll(out);
}

// Memory does not grow with the number of decode steps: 20 times the steps (about 600k ops
// more, which the whole graph held at about 1.5 KB each) add less than 3 MiB.
TEST(Stream, PeakMemoryDoesNotGrowWithTheDecodeSteps) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's quarantine holds freed memory: resident size says nothing";
#endif
  for (bool keep : {false, true}) {
    const std::int64_t short_kib = peak_rss_kib(300, keep), long_kib = peak_rss_kib(6000, keep);
    EXPECT_LT(long_kib - short_kib, 3072) << "keep_records " << keep << ": " << short_kib
                                          << " KiB for 300 steps, " << long_kib << " for 6000";
  }
}

TEST(RecordLog, RoundTripsEveryFieldThroughItsFile) {
  std::vector<OpRecord> in;
  for (int i = 0; i < 40000; ++i) {  // about 10 MB serialized: most of it goes to the file
    OpRecord r;
    r.op.name = "L" + std::to_string(i % 32) + ".op" + std::string(std::size_t(i % 7), 'x');
    r.op.kind = OpKind(i % 12), r.op.layer = i % 33 - 1;
    r.op.m = i, r.op.n = 2 * i + 1, r.op.k = 3 * i + 2, r.op.count = i % 5 + 1;
    r.op.elements = std::int64_t(i) << 33, r.op.dtype = i % 2 ? "w4a8-g64" : "";
    r.op.weight_bits = i % 9, r.op.act_bits = 32 - i % 9, r.op.kv_bits = i % 17;
    r.op.wformat = WeightFormat(i % 3), r.op.aformat = ActFormat(i % 6), r.op.group = i % 129;
    r.op.macs = i * 11LL, r.op.flops = i * 22LL, r.op.weight_bytes = i * 3LL;
    r.op.act_read_bytes = i * 5LL, r.op.act_write_bytes = i * 7LL, r.op.kv_read_bytes = -i;
    r.op.kv_write_bytes = i * 13LL;
    r.step = i / 100, r.unit = "u" + std::to_string(i % 3), r.mapped_by = "rule:x";
    r.waited_for = i % 4 ? "input,memory" : "";
    r.cost = {i + 1LL, i + 2LL, i + 3LL, i + 4LL, i + 5LL,  i + 6LL,
              i + 7LL, i + 8LL, i + 9LL, i * 0.5, i * 0.25, i * 1e-3};
    r.ready_cycle = i * 17LL, r.start_cycle = i * 19LL, r.end_cycle = i * 23LL;
    r.memory_cycles = i * 29LL, r.hidden_memory_cycles = i * 31LL, r.prefetched_bytes = i * 37LL;
    r.intensity = i / 3.0, r.attained_flops_per_cycle = i / 7.0, r.peak_flops_per_cycle = 1.5;
    r.utilization = i / 11.0, r.memory_bound = i % 2;
    in.push_back(r);
  }
  RecordLog log;
  for (const OpRecord& r : in)
    log.add(r);
  EXPECT_EQ(log.size(), in.size());
  EXPECT_GT(log.file_bytes(), 0);
  EXPECT_LT(log.memory_bytes(), std::size_t(8) << 20);
  // Two walks at once, each at its own place.
  auto a = log.begin(), b = log.begin();
  for (std::size_t i = 0; i < in.size(); ++i, ++a) {
    ASSERT_EQ(dump(*a), dump(in[i])) << i;
    if (i % 2 == 0) {
      ASSERT_EQ(dump(*b), dump(in[i / 2])) << i;
      ++b;
    }
  }
  EXPECT_TRUE(a == log.end());
  RecordLog moved = std::move(log);
  EXPECT_EQ(dump(moved.to_vector().back()), dump(in.back()));
}

TEST(RecordLog, AnUnwritableTemporaryDirectoryIsAnIoError) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", "/nonexistent/qaccel", 1);
  RecordLog log;
  OpRecord r;
  r.op.name = std::string(1000, 'n');
  try {
    for (int i = 0; i < 10000; ++i)
      log.add(r);
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/qaccel"), std::string::npos) << e.what();
  }
  if (old)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
}

}  // namespace
}  // namespace qaccel
