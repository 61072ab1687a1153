// The RDU fabric's link (arch/rdu/link.hpp): the link rule against runs worked by hand, the
// sustained rate against the hand-derived min(1, 1/K, C / (L + R)), back-pressure from a slow
// consumer, the plain model against an independent recurrence and against the SystemC channel
// cycle for cycle, and the steady-state fast-forward against stepping every vector.
// The RduLinkSystemC tests elaborate SystemC: ctest runs each in its own process, and the
// ones that compare several simulations run each in a forked child.
#define SC_INCLUDE_DYNAMIC_PROCESSES  // sc_spawn: a link made during the simulation
#include "arch/rdu/link.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <sstream>

#include "sim/base/error.hpp"
#include "test_util.hpp"

using namespace qaccel;
using namespace qaccel::rdu;

namespace {

LinkSpec spec(i64 c, i64 l, i64 r) {
  LinkSpec s;
  s.capacity_vectors = c, s.latency_cycles = l, s.credit_latency_cycles = r;
  return s;
}

LinkRunOptions options(i64 n, i64 k, bool fast_forward, bool record = false) {
  LinkRunOptions o;
  o.vectors = n, o.consumer_interval_cycles = k, o.fast_forward = fast_forward, o.record = record;
  return o;
}

// The producer/consumer run written straight from the recurrence in link.hpp, with occupancy
// counted cycle by cycle: shares no code with the model.
struct Reference {
  std::vector<i64> s, d;
  i64 total_cycles = 0, stall = 0, wait = 0, max_occupancy = 0, occupancy_sum = 0;
};

Reference reference(i64 c, i64 l, i64 r, i64 k, i64 n) {
  Reference ref;
  for (i64 j = 0; j < n; ++j) {
    const i64 offered = j ? ref.s[std::size_t(j - 1)] + 1 : 0;
    const i64 credit = j >= c ? ref.d[std::size_t(j - c)] + r : 0;
    const i64 s = std::max(offered, credit);
    const i64 ready = j ? ref.d[std::size_t(j - 1)] + k : 0;
    const i64 d = std::max(s + l, ready);
    ref.s.push_back(s), ref.d.push_back(d);
    ref.stall += s - offered, ref.wait += d - ready;
  }
  ref.total_cycles = ref.d.back() + 1;
  for (i64 u = 0; u < ref.total_cycles; ++u) {
    i64 in = 0;
    for (i64 j = 0; j < n; ++j)
      in += ref.s[std::size_t(j)] <= u && u < ref.d[std::size_t(j)];
    ref.max_occupancy = std::max(ref.max_occupancy, in);
    ref.occupancy_sum += in;
  }
  return ref;
}

// Every figure of a run, as text (to compare runs, also across processes).
std::string describe(const LinkRun& r, bool with_trace = true) {
  std::ostringstream o;
  o << "vectors " << r.vectors << " total " << r.total_cycles << " stall "
    << r.producer_stall_cycles << " wait " << r.consumer_wait_cycles << " maxocc "
    << r.max_occupancy << " occ " << r.occupancy_vector_cycles << " steady " << r.steady_from << " "
    << r.period_vectors << "/" << r.period_cycles;
  if (with_trace) {
    o << " s";
    for (i64 v : r.send_cycles)
      o << " " << v;
    o << " d";
    for (i64 v : r.dequeue_cycles)
      o << " " << v;
  }
  return o.str();
}

std::string describe_counters(const LinkCounters& c) {
  std::ostringstream o;
  o << "sent " << c.sent << " received " << c.received << " stall " << c.producer_stall_cycles
    << " wait " << c.consumer_wait_cycles << " maxocc " << c.max_occupancy << " occ "
    << c.occupancy_vector_cycles;
  return o.str();
}

void expect_equals_reference(const LinkRun& run, const Reference& ref, const std::string& what) {
  EXPECT_EQ(run.send_cycles, ref.s) << what;
  EXPECT_EQ(run.dequeue_cycles, ref.d) << what;
  EXPECT_EQ(run.total_cycles, ref.total_cycles) << what;
  EXPECT_EQ(run.producer_stall_cycles, ref.stall) << what;
  EXPECT_EQ(run.consumer_wait_cycles, ref.wait) << what;
  EXPECT_EQ(run.max_occupancy, ref.max_occupancy) << what;
  EXPECT_EQ(run.occupancy_vector_cycles, ref.occupancy_sum) << what;
}

// Parameter combinations: a grid over small values (under-, exactly and over-buffered; fast,
// matched and slow consumers; R = 0) and random larger ones.
struct Combo {
  i64 c, l, r, k;
};
std::vector<Combo> combos() {
  std::vector<Combo> v;
  for (i64 c : {1, 2, 3, 5, 8})
    for (i64 l : {1, 2, 4, 7})
      for (i64 r : {0, 1, 3})
        for (i64 k : {1, 2, 3, 5})
          v.push_back({c, l, r, k});
  std::mt19937_64 rng(15);
  auto pick = [&](i64 lo, i64 hi) { return lo + i64(rng() % std::uint64_t(hi - lo + 1)); };
  for (int i = 0; i < 300; ++i)
    v.push_back({pick(1, 64), pick(1, 300), pick(0, 300), pick(1, 40)});
  return v;
}

std::string name(const Combo& x) {
  return "C=" + std::to_string(x.c) + " L=" + std::to_string(x.l) + " R=" + std::to_string(x.r) +
         " K=" + std::to_string(x.k);
}

}  // namespace

// ---- the rule, by hand -------------------------------------------------------------------------

// C=2, L=2, R=1, K=1: vector 0 sent at 0, visible and dequeued at 2, credit back at 3; vector 1
// at 1 -> 3 (credit 4); vector 2 waits for vector 0's credit: sent 3, dequeued 5; vector 3 sent
// 4 (credit of 1), dequeued 6; vector 4 waits for vector 2's credit (5 + 1): sent 6, dequeued 8.
// Producer stalls 1 (vector 2) + 1 (vector 4); the consumer waits 2 (vector 0) + 1 + 1; every
// vector spends 2 cycles in the link; the run spans cycles 0..8.
TEST(RduLink, FiveVectorsWorkedByHand) {
  for (bool ff : {false, true}) {
    const LinkRun r = run_link_plain(spec(2, 2, 1), options(5, 1, ff, true));
    EXPECT_EQ(r.total_cycles, 9);
    EXPECT_EQ(r.producer_stall_cycles, 2);
    EXPECT_EQ(r.consumer_wait_cycles, 4);
    EXPECT_EQ(r.max_occupancy, 2);
    EXPECT_EQ(r.occupancy_vector_cycles, 10);
    EXPECT_NEAR(r.mean_occupancy(), 10.0 / 9.0, 1e-12);
    // 2 vectors every 3 cycles: C / (L + R).
    EXPECT_EQ(r.period_vectors, 2);
    EXPECT_EQ(r.period_cycles, 3);
    EXPECT_DOUBLE_EQ(r.vectors_per_cycle(), 2.0 / 3.0);
    if (!ff) {
      EXPECT_EQ(r.send_cycles, (std::vector<i64>{0, 1, 3, 4, 6}));
      EXPECT_EQ(r.dequeue_cycles, (std::vector<i64>{2, 3, 5, 6, 8}));
      EXPECT_EQ(describe_counters(r.model),
                describe_counters({5, 5, 2, 4, 2, 10}));  // the model's own counters agree
    }
  }
}

// Back-pressure, C=2, L=1, R=1, consumer every K=3 cycles: dequeues at 1, 4, 7, 10, 13 (the
// consumer's pace); credits back at 2, 5, 8, 11; vectors 0, 1, 2 go at 0, 1, 2 (two initial
// credits, then vector 0's at 2); vector 3 waits for vector 1's credit (5), vector 4 for
// vector 2's (8): the producer stalls 2 + 2 cycles, the run spans cycles 0..13.
TEST(RduLink, SlowConsumerFiveVectorsWorkedByHand) {
  const LinkRun r = run_link_plain(spec(2, 1, 1), options(5, 3, false, true));
  EXPECT_EQ(r.send_cycles, (std::vector<i64>{0, 1, 2, 5, 8}));
  EXPECT_EQ(r.dequeue_cycles, (std::vector<i64>{1, 4, 7, 10, 13}));
  EXPECT_EQ(r.total_cycles, 14);
  EXPECT_EQ(r.producer_stall_cycles, 4);
  EXPECT_EQ(r.consumer_wait_cycles, 1);
  EXPECT_EQ(r.max_occupancy, 2);
  EXPECT_EQ(r.occupancy_vector_cycles, 1 + 3 + 5 + 5 + 5);
}

// A consumer slowed to one vector every K cycles (C*K >= L + R, so it is the bottleneck):
// vector j is dequeued at L + j*K, and once credits run short vector j is sent when vector
// j - C's credit is back, L + (j - C)*K + R. Over N vectors the producer stalls
// s_{N-1} - (N - 1) = L + R + (N-1-C)*K - (N-1) cycles and the run takes L + (N-1)*K + 1:
// every cycle the consumer is slowed by costs the producer N - 1 - C stall cycles.
TEST(RduLink, SlowConsumerStallsTheProducerByTheHandDerivedAmount) {
  const i64 c = 4, l = 3, r = 2, n = 1000;
  i64 previous_stall = -1;
  for (i64 k : {2, 3, 4, 5, 8}) {
    for (bool ff : {false, true}) {
      const LinkRun run = run_link_plain(spec(c, l, r), options(n, k, ff));
      EXPECT_EQ(run.total_cycles, l + (n - 1) * k + 1) << "K=" << k;
      EXPECT_EQ(run.producer_stall_cycles, l + r + (n - 1 - c) * k - (n - 1)) << "K=" << k;
      EXPECT_EQ(run.consumer_wait_cycles, l) << "K=" << k;  // only the first vector's latency
      EXPECT_DOUBLE_EQ(run.vectors_per_cycle(), 1.0 / double(k));
    }
    const i64 stall = run_link_plain(spec(c, l, r), options(n, k, false)).producer_stall_cycles;
    if (k == 3) {
      EXPECT_EQ(stall - previous_stall, n - 1 - c);  // one more cycle per vector
    }
    previous_stall = stall;
  }
}

// The sustained rate: C vectors every max(C, C*K, L + R) cycles, measured over the last C
// vectors of a long stepped run. The expected periods are worked by hand per row.
TEST(RduLink, SustainedRateMatchesTheHandDerivedRate) {
  struct Row {
    i64 c, l, r, k;
    i64 period_cycles;  // for C vectors
    const char* what;
  };
  const Row rows[] = {
      {1, 1, 1, 1, 2, "under-buffered: one slot, registered credit: 1/2"},
      {2, 4, 2, 1, 6, "under-buffered: 2 vectors per 6 cycles"},
      {4, 5, 3, 1, 8, "under-buffered: 4 per 8"},
      {3, 4, 0, 1, 4, "under-buffered, R = 0: 3 per 4"},
      {10, 100, 50, 1, 150, "long wire: 10 per 150"},
      {2, 1, 1, 1, 2, "exactly buffered (C = L + R): full rate"},
      {8, 5, 3, 1, 8, "exactly buffered: full rate"},
      {1, 1, 0, 1, 1, "one slot, combinational credit: full rate"},
      {16, 5, 3, 1, 16, "over-buffered: full rate"},
      {4, 2, 2, 3, 12, "slow consumer: 1/3"},
      {1, 1, 1, 3, 3, "slow consumer, one slot: 1/3"},
      {2, 5, 5, 3, 10, "slow consumer, but the credit loop is slower: 2 per 10"},
      {2, 3, 3, 3, 6, "tie: consumer and credit loop both 1/3"},
      {64, 7, 9, 1, 64, "deep buffer: full rate"},
  };
  for (const Row& x : rows) {
    const i64 n = 4000;
    const LinkRun run = run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, false, true));
    const auto& d = run.dequeue_cycles;
    const auto& s = run.send_cycles;
    EXPECT_EQ(d[std::size_t(n - 1)] - d[std::size_t(n - 1 - x.c)], x.period_cycles) << x.what;
    EXPECT_EQ(s[std::size_t(n - 1)] - s[std::size_t(n - 1 - x.c)], x.period_cycles) << x.what;
    EXPECT_EQ(run.period_vectors, x.c) << x.what;
    EXPECT_EQ(run.period_cycles, x.period_cycles) << x.what;
    EXPECT_DOUBLE_EQ(run.vectors_per_cycle(), double(x.c) / double(x.period_cycles)) << x.what;
    // min(1, 1/K, C / (L + R)), the formula of link.hpp.
    const double rate = std::min({1.0, 1.0 / double(x.k), double(x.c) / double(x.l + x.r)});
    EXPECT_DOUBLE_EQ(run.vectors_per_cycle(), rate) << x.what;
    const Reference ref = reference(x.c, x.l, x.r, x.k, n);
    EXPECT_EQ(ref.d[std::size_t(n - 1)] - ref.d[std::size_t(n - 1 - x.c)], x.period_cycles)
        << x.what;
  }
}

// ---- the model against an independent derivation ----------------------------------------------

TEST(RduLink, PlainModelEqualsTheRecurrence) {
  for (const Combo& x : combos()) {
    const i64 n = 150;
    const LinkRun run = run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, false, true));
    const Reference ref = reference(x.c, x.l, x.r, x.k, n);
    expect_equals_reference(run, ref, name(x));
    // The model's own counters count the same stalls, waits and occupancy.
    EXPECT_EQ(describe_counters(run.model),
              describe_counters({n, n, ref.stall, ref.wait, ref.max_occupancy, ref.occupancy_sum}))
        << name(x);
    if (HasFailure()) return;
  }
}

TEST(RduLink, ModelAnswersCreditAndArrivalTimes) {
  LinkModel m(spec(1, 3, 2));
  EXPECT_EQ(m.recv_ready(0), kUnknown);  // nothing sent
  EXPECT_EQ(m.send_ready(0), 0);
  EXPECT_EQ(m.send(0, 0), 3);  // visible at 0 + L
  EXPECT_EQ(m.occupancy(), 1);
  EXPECT_EQ(m.send_ready(1), kUnknown);  // the only credit is out, its vector not dequeued
  EXPECT_EQ(m.recv_ready(1), 3);
  const Dequeued q = m.recv(1, 3);
  EXPECT_EQ(q.sent_cycle, 0);
  EXPECT_EQ(q.credit_cycle, 5);  // 3 + R
  EXPECT_EQ(m.send_ready(3), 5);
  EXPECT_EQ(m.send(1, 5), 8);
  const LinkCounters c = m.counters();
  EXPECT_EQ(c.producer_stall_cycles, 4);  // asked at 1, sent at 5
  EXPECT_EQ(c.consumer_wait_cycles, 2);   // asked at 1, dequeued at 3
  EXPECT_EQ(c.max_occupancy, 1);
  // One vector per cycle each way, and calls in time order.
  LinkModel w(spec(4, 1, 0));
  w.send(0, 0);
  EXPECT_EQ(w.send_ready(0), 1);
  EXPECT_THROW(w.send(0, 0), InternalError);
  w.send(1, 2);
  EXPECT_THROW(w.recv(0, 1), InternalError);  // cycle 1 after cycle 2
}

TEST(RduLink, SameCycleSendAndDequeueCountOccupancyOnce) {
  // C=1, R=0: the credit of a dequeue at cycle t pays for a send at t; the link never holds
  // more than one vector.
  LinkModel m(spec(1, 1, 0));
  m.send(0, 0);
  m.recv(1, 1);
  EXPECT_EQ(m.send_ready(1), 1);
  m.send(1, 1);
  m.recv(2, 2);
  m.send(2, 2);
  EXPECT_EQ(m.counters().max_occupancy, 1);
  EXPECT_EQ(m.counters().occupancy_vector_cycles, 2);
  // C=2: within cycle 1 the send of vector 1 comes before the dequeue of vector 0 (SystemC may
  // run the sender first). In cycle 1 the link holds vector 1 only: occupancy 1 throughout.
  LinkModel w(spec(2, 1, 0));
  w.send(0, 0);
  w.send(1, 1);
  w.recv(1, 1);
  w.recv(2, 2);
  EXPECT_EQ(w.counters().max_occupancy, 1);
}

TEST(RduLink, BadValuesNameTheirKeys) {
  auto message = [](const LinkSpec& s) {
    try {
      s.validate("fabric.links.l0");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(spec(0, 1, 1)),
            "fabric.links.l0.capacity_vectors: must be >= 1 (a link buffers at least one vector), "
            "found 0");
  EXPECT_NE(message(spec(2, 0, 1)).find("fabric.links.l0.latency_cycles: must be >= 1"),
            std::string::npos);
  EXPECT_NE(message(spec(2, 1, -1)).find("fabric.links.l0.credit_latency_cycles: must be >= 0"),
            std::string::npos);
  EXPECT_NE(message(spec(kMaxCapacityVectors + 1, 1, 1)).find("must be <= 1000000"),
            std::string::npos);
  LinkSpec lanes = spec(2, 1, 1);
  lanes.lanes = 0;
  EXPECT_NE(message(lanes).find("fabric.links.l0.lanes: must be >= 1"), std::string::npos);
  EXPECT_EQ(message(spec(1, 1, 0)), "no error");
  EXPECT_THROW(run_link_plain(spec(2, 1, 1), options(5, 0, true)), ConfigError);  // K = 0
  EXPECT_THROW(run_link_plain(spec(2, 1, 1), options(0, 1, true)), ConfigError);  // no vectors
  EXPECT_DOUBLE_EQ(spec(1, 1, 1).bytes_per_vector(), 64.0);  // 16 lanes x 32 bits
}

// ---- fast-forward ------------------------------------------------------------------------------

// Fast-forward stops at the first proven repetition and computes the rest; stepping simulates
// every vector (and checks the repetition goes on). Every figure must agree, for run lengths
// that end anywhere in a period. The steady state is proven early (within 3C + 8 vectors in
// every case here), which is what makes --vectors 1e9 instant.
TEST(RduLink, FastForwardEqualsStepping) {
  int skipped = 0;
  for (const Combo& x : combos()) {
    for (i64 n : {i64(1), x.c, 3 * x.c + 1, i64(997), i64(20000) + x.c / 2}) {
      const LinkRun step = run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, false));
      const LinkRun ff = run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, true));
      ASSERT_EQ(describe(ff, false), describe(step, false)) << name(x) << " N=" << n;
      EXPECT_EQ(step.simulated_vectors, n);
      if (ff.simulated_vectors < n) ++skipped;
      if (n == 20000 + x.c / 2) {
        ASSERT_TRUE(ff.steady()) << name(x);
        EXPECT_LE(ff.simulated_vectors, 3 * x.c + 8) << name(x);
        const double rate = std::min({1.0, 1.0 / double(x.k), double(x.c) / double(x.l + x.r)});
        EXPECT_DOUBLE_EQ(ff.vectors_per_cycle(), rate) << name(x);
      }
    }
  }
  EXPECT_GT(skipped, 600);  // the comparison did exercise the fast-forward
}

TEST(RduLink, FastForwardAMillionVectorsEqualsStepping) {
  for (const Combo& x : {Combo{3, 4, 2, 1}, Combo{5, 20, 7, 2}, Combo{7, 3, 1, 3}}) {
    const i64 n = 1'000'003;
    EXPECT_EQ(describe(run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, true)), false),
              describe(run_link_plain(spec(x.c, x.l, x.r), options(n, x.k, false)), false))
        << name(x);
  }
}

// ---- the SystemC channel -----------------------------------------------------------------------

// A child process per simulation (SystemC elaborates once per process).
std::string systemc_run(const LinkSpec& s, const LinkRunOptions& o) {
  return test::in_child([&] {
    const LinkRun r = run_link_systemc(s, o);
    return describe(r) + " | " + describe_counters(r.model);
  });
}

TEST(RduLinkSystemC, ChannelEqualsPlainModelCycleForCycle) {
  const Combo cases[] = {{1, 1, 0, 1}, {1, 3, 2, 1}, {2, 2, 1, 1}, {2, 1, 1, 3},  {3, 4, 0, 2},
                         {4, 5, 3, 1}, {5, 2, 9, 4}, {8, 1, 1, 1}, {6, 17, 0, 2}, {16, 40, 23, 3}};
  for (const Combo& x : cases) {
    const LinkSpec s = spec(x.c, x.l, x.r);
    const LinkRunOptions o = options(200, x.k, false, true);
    const LinkRun plain = run_link_plain(s, o);
    EXPECT_EQ(systemc_run(s, o), describe(plain) + " | " + describe_counters(plain.model))
        << name(x);
  }
}

TEST(RduLinkSystemC, FastForwardEqualsStepping) {
  for (const Combo& x : {Combo{2, 2, 1, 1}, Combo{3, 4, 0, 2}, Combo{5, 9, 4, 1}}) {
    const LinkSpec s = spec(x.c, x.l, x.r);
    const std::string ff = systemc_run(s, options(5003, x.k, true));
    const std::string step = systemc_run(s, options(5003, x.k, false));
    EXPECT_EQ(ff.substr(0, ff.find(" |")), step.substr(0, step.find(" |"))) << name(x);
    EXPECT_EQ(step.substr(0, step.find(" s ")),
              describe(run_link_plain(s, options(5003, x.k, false)), false))
        << name(x);
  }
}

// One elaboration in this process: the hand-worked five vectors through the SystemC channel.
TEST(RduLinkSystemC, FiveVectorsWorkedByHand) {
  const LinkRun r = run_link_systemc(spec(2, 2, 1), options(5, 1, false, true));
  EXPECT_EQ(r.send_cycles, (std::vector<i64>{0, 1, 3, 4, 6}));
  EXPECT_EQ(r.dequeue_cycles, (std::vector<i64>{2, 3, 5, 6, 8}));
  EXPECT_EQ(r.total_cycles, 9);
  EXPECT_EQ(r.producer_stall_cycles, 2);
  EXPECT_EQ(r.consumer_wait_cycles, 4);
  EXPECT_EQ(describe_counters(r.model), describe_counters({5, 5, 2, 4, 2, 10}));
}

// A link made while the simulation runs (no sc_prim_channel, so no elaboration needed), used by
// two spawned threads from cycle 10: the hand-worked schedule, 10 cycles later.
namespace {
SC_MODULE(LateLink) {
  std::vector<i64> s, d;
  std::unique_ptr<LinkChannel<int>> link;
  SC_CTOR(LateLink) {
    SC_THREAD(run);
  }
  void run() {
    wait(10, sc_core::SC_NS);
    link = std::make_unique<LinkChannel<int>>(spec(2, 2, 1));
    sc_core::sc_spawn([this] {
      i64 t = 10;
      for (int j = 0; j < 5; ++j)
        s.push_back(t = link->send(j, t)), ++t;
    });
    sc_core::sc_spawn([this] {
      i64 t = 10;
      for (int j = 0; j < 5; ++j) {
        const auto got = link->recv(t);
        EXPECT_EQ(got.value, j);
        d.push_back(got.cycle), t = got.cycle + 1;
      }
    });
  }
};
}  // namespace

TEST(RduLinkSystemC, LinkMadeDuringTheSimulation) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  LateLink top("top");
  sc_core::sc_start();
  EXPECT_EQ(top.s, (std::vector<i64>{10, 11, 13, 14, 16}));
  EXPECT_EQ(top.d, (std::vector<i64>{12, 13, 15, 16, 18}));
}
