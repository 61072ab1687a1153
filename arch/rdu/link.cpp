#include "arch/rdu/link.hpp"

#include <algorithm>

#include "sim/base/error.hpp"

namespace qaccel::rdu {

namespace {

// One cycle of the fabric clock is 1 ns of SystemC time (1000 units of the default 1 ps
// resolution), as everywhere in qaccel.
sc_core::sc_time cycles_time(i64 n) {
  return sc_core::sc_time::from_value(sc_dt::uint64(n) * 1000u);
}
i64 now_cycle() {
  return i64(sc_core::sc_time_stamp().value() / 1000u);
}

constexpr i64 kMaxVectors = 10'000'000'000;

void check_range(const std::string& where, const char* key, i64 v, i64 lo, i64 hi,
                 const char* why) {
  if (v >= lo && v <= hi) return;
  throw ConfigError(where + "." + key + ": must be " +
                    (v < lo ? ">= " + std::to_string(lo) + why : "<= " + std::to_string(hi)) +
                    ", found " + std::to_string(v));
}

void check_run(const LinkSpec& spec, const LinkRunOptions& opt) {
  spec.validate("link");
  check_range("link run", "vectors", opt.vectors, 1, kMaxVectors, "");
  check_range("link run", "consumer_interval_cycles", opt.consumer_interval_cycles, 1,
              kMaxLatencyCycles, "");
}

// The per-vector figures of a producer/consumer run, summed, and the proof of its steady state.
//
// Steady state. The run's future after vector j depends only on s_j and d_{j-C+1..j} (the
// recurrence in link.hpp). If every one of them is the value C vectors earlier plus the same q,
// the state repeats shifted by q, so from then on vector k + C is sent and dequeued exactly q
// cycles after vector k, and every per-vector figure below (stall, wait, cycles in the link,
// occupancy at its send) repeats with period C. The rest of the run then follows without
// simulating it. Only an observed repetition counts as proof: nothing assumes the rate.
class RunAccumulator {
 public:
  RunAccumulator(const LinkSpec& spec, const LinkRunOptions& opt)
      : c_(spec.capacity_vectors),
        k_(opt.consumer_interval_cycles),
        n_(opt.vectors),
        ff_(opt.fast_forward),
        record_(opt.record),
        s_(std::size_t(c_ + 1)),
        d_(std::size_t(c_ + 1)),
        terms_(std::size_t(c_)) {
    r_.vectors = n_;
  }
  i64 count() const { return j_; }

  // Vector count() was sent in cycle s and dequeued in cycle d. True when the rest of the run
  // follows from a proven steady state (fast-forward on): stop simulating.
  bool add(i64 s, i64 d) {
    const i64 j = j_;
    Terms t;
    t.stall = s - (j ? at(s_, j - 1) + 1 : 0);
    t.wait = d - (j ? at(d_, j - 1) + k_ : 0);
    t.link_cycles = d - s;
    // Occupancy in cycle s: vectors 0..j minus those dequeued by then. At most C are in the
    // link, so every k from ptr_ on is still in the d_ ring.
    while (ptr_ < j && at(d_, ptr_) <= s)
      ++ptr_;
    t.occupancy = j + 1 - ptr_;
    QACCEL_ASSERT(t.stall >= 0 && t.wait >= 0 && t.link_cycles >= 1 && t.occupancy <= c_,
                  "link run: vector " + std::to_string(j) + " sent at " + std::to_string(s) +
                      ", dequeued at " + std::to_string(d) + " breaks the link rule");
    at(s_, j) = s;
    at(d_, j) = d;
    terms_[std::size_t(j % c_)] = t;
    r_.producer_stall_cycles += t.stall;
    r_.consumer_wait_cycles += t.wait;
    r_.occupancy_vector_cycles += t.link_cycles;
    r_.max_occupancy = std::max(r_.max_occupancy, t.occupancy);
    if (record_) {
      r_.send_cycles.push_back(s);
      r_.dequeue_cycles.push_back(d);
    }
    ++j_;
    if (j < c_) return false;
    const i64 delta = d - at(d_, j - c_);
    if (r_.steady()) {
      // Stepping on past the proof: the repetition must go on (a self-check of the proof).
      QACCEL_ASSERT(delta == r_.period_cycles && s - at(s_, j - c_) == r_.period_cycles,
                    "link run: the steady state proven at vector " +
                        std::to_string(r_.steady_from) + " did not repeat at vector " +
                        std::to_string(j));
      return false;
    }
    run_ = (j > c_ && delta == delta_) ? run_ + 1 : 1;
    delta_ = delta;
    if (run_ >= c_ && s - at(s_, j - c_) == delta) {
      r_.steady_from = j + 1 - c_;
      r_.period_vectors = c_;
      r_.period_cycles = delta;
      return ff_ && j + 1 < n_;
    }
    return false;
  }

  LinkRun finish(const LinkCounters& model) {
    QACCEL_ASSERT(j_ >= 1, "link run: no vector simulated");
    r_.simulated_vectors = j_;
    r_.model = model;
    i64 last_d = at(d_, j_ - 1);
    if (j_ < n_) {
      QACCEL_ASSERT(r_.steady(), "link run: stopped before the end without a steady state");
      // Vectors j_ .. n_-1 repeat vectors j_-C .. j_-1 (ring slots in order from j_ % C).
      const i64 rest = n_ - j_, full = rest / c_, part = rest % c_;
      Terms period{}, partial{};
      for (i64 x = 0; x < c_; ++x) {
        const Terms& t = terms_[std::size_t((j_ + x) % c_)];
        period += t;
        if (x < part) partial += t;
      }
      r_.producer_stall_cycles += full * period.stall + partial.stall;
      r_.consumer_wait_cycles += full * period.wait + partial.wait;
      r_.occupancy_vector_cycles += full * period.link_cycles + partial.link_cycles;
      // Vector n_-1 = j_ + u is vector j_ + u % C - C plus (u / C + 1) periods.
      const i64 u = rest - 1;
      last_d = at(d_, j_ + u % c_ - c_) + (u / c_ + 1) * r_.period_cycles;
    }
    r_.total_cycles = last_d + 1;
    return std::move(r_);
  }

 private:
  struct Terms {
    i64 stall = 0, wait = 0, link_cycles = 0, occupancy = 0;
    Terms& operator+=(const Terms& o) {
      stall += o.stall, wait += o.wait, link_cycles += o.link_cycles;
      return *this;
    }
  };
  // Rings of the last C + 1 values, indexed by vector.
  i64& at(std::vector<i64>& ring, i64 k) { return ring[std::size_t(k % i64(ring.size()))]; }

  i64 c_, k_, n_;
  bool ff_, record_;
  std::vector<i64> s_, d_;
  std::vector<Terms> terms_;  // the last C vectors' figures
  i64 j_ = 0;                 // vectors added
  i64 ptr_ = 0;               // vectors dequeued by the latest vector's send cycle
  i64 delta_ = 0, run_ = 0;   // d_j - d_{j-C}, and for how many vectors in a row it held
  LinkRun r_;
};

// The calculator's two processes on a SystemC link.
class LinkBench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(LinkBench);
  LinkBench(const sc_core::sc_module_name& name, const LinkSpec& spec, const LinkRunOptions& opt,
            RunAccumulator& acc)
      : sc_core::sc_module(name), link_(spec), opt_(opt), acc_(acc) {
    SC_THREAD(produce);
    SC_THREAD(consume);
  }
  const LinkModel& model() const { return link_.model(); }

 private:
  // Offers vector j from the cycle after it sent vector j - 1.
  void produce() {
    i64 t = 0;
    for (i64 j = 0; j < opt_.vectors && !stop_; ++j)
      t = link_.send(j, t) + 1;
  }
  // Asks for a vector at cycle 0, then K cycles after each dequeue.
  void consume() {
    i64 t = 0;
    for (i64 j = 0; j < opt_.vectors; ++j) {
      const auto got = link_.recv(t);
      QACCEL_ASSERT(got.value == j, "link delivered vector " + std::to_string(got.value) +
                                        " in place of " + std::to_string(j));
      t = got.cycle + opt_.consumer_interval_cycles;
      if (acc_.add(got.sent_cycle, got.cycle)) {
        stop_ = true;  // the producer ends at its next send; nothing else wakes anyone
        return;
      }
    }
  }

  LinkChannel<i64> link_;
  const LinkRunOptions& opt_;
  RunAccumulator& acc_;
  bool stop_ = false;
};

}  // namespace

void LinkSpec::validate(const std::string& where) const {
  check_range(where, "lanes", lanes, 1, kMaxLanes, "");
  check_range(where, "elem_bits", elem_bits, 1, kMaxElemBits, "");
  check_range(where, "capacity_vectors", capacity_vectors, 1, kMaxCapacityVectors,
              " (a link buffers at least one vector)");
  check_range(where, "latency_cycles", latency_cycles, 1, kMaxLatencyCycles,
              " (a vector is seen the cycle after it is sent at the earliest)");
  check_range(where, "credit_latency_cycles", credit_latency_cycles, 0, kMaxLatencyCycles, "");
}

// ---- LinkModel -------------------------------------------------------------------------------

LinkModel::LinkModel(const LinkSpec& spec) : spec_(spec), initial_credits_(spec.capacity_vectors) {
  QACCEL_ASSERT(
      spec.capacity_vectors >= 1 && spec.latency_cycles >= 1 && spec.credit_latency_cycles >= 0,
      "link spec not validated");
}

void LinkModel::advance_to(i64 t) {
  QACCEL_ASSERT(t >= last_event_, "link calls out of time order: cycle " + std::to_string(t) +
                                      " after cycle " + std::to_string(last_event_));
  // The occupancy after every event of the previous event's cycle held until now.
  if (t > last_event_) c_.max_occupancy = std::max(c_.max_occupancy, occupancy());
  last_event_ = t;
}

i64 LinkModel::send_ready(i64 t) const {
  const i64 u = std::max(t, last_send_ + 1);
  if (initial_credits_ > 0) return u;
  if (credits_.empty()) return kUnknown;
  return std::max(u, credits_.front());
}

i64 LinkModel::send(i64 asked, i64 t) {
  QACCEL_ASSERT(send_ready(t) == t && asked <= t,
                "link send at cycle " + std::to_string(t) + " without a credit or a free cycle");
  advance_to(t);
  if (initial_credits_ > 0)
    --initial_credits_;
  else
    credits_.pop_front();
  const i64 visible = t + spec_.latency_cycles;
  visible_.push_back(visible);
  last_send_ = t;
  ++c_.sent;
  c_.producer_stall_cycles += t - asked;
  return visible;
}

i64 LinkModel::recv_ready(i64 t) const {
  if (visible_.empty()) return kUnknown;
  return std::max({t, last_recv_ + 1, visible_.front()});
}

Dequeued LinkModel::recv(i64 asked, i64 t) {
  QACCEL_ASSERT(recv_ready(t) == t && asked <= t,
                "link dequeue at cycle " + std::to_string(t) + " with no visible vector");
  advance_to(t);
  const i64 sent = visible_.front() - spec_.latency_cycles;
  visible_.pop_front();
  const i64 credit = t + spec_.credit_latency_cycles;
  credits_.push_back(credit);
  last_recv_ = t;
  ++c_.received;
  c_.consumer_wait_cycles += t - asked;
  c_.occupancy_vector_cycles += t - sent;
  return {sent, credit};
}

LinkCounters LinkModel::counters() const {
  LinkCounters c = c_;
  c.max_occupancy = std::max(c.max_occupancy, occupancy());
  return c;
}

// ---- LinkTiming ------------------------------------------------------------------------------

LinkTiming::LinkTiming(const LinkSpec& spec) : model_(spec) {
  QACCEL_ASSERT(sc_core::sc_get_time_resolution() == sc_core::sc_time(1, sc_core::SC_PS),
                "SystemC time resolution must be 1 ps (1 cycle = 1000 units)");
}

i64 LinkTiming::send(i64 not_before_cycle) {
  const i64 asked = std::max(now_cycle(), not_before_cycle);
  for (;;) {
    const i64 now = now_cycle();
    const i64 t = model_.send_ready(std::max(now, not_before_cycle));
    if (t == kUnknown) {
      sender_waits_ = true;
      sc_core::wait(credit_back_);  // notified for the cycle the next credit arrives
      sender_waits_ = false;
    } else if (t > now)
      sc_core::wait(cycles_time(t - now));
    else
      break;
  }
  const i64 t = now_cycle();
  model_.send(asked, t);
  // Only a receiver that found the link empty needs telling; a later one reads the model.
  if (receiver_waits_) data_in_.notify(cycles_time(model_.spec().latency_cycles));
  return t;
}

std::pair<i64, i64> LinkTiming::recv(i64 not_before_cycle) {
  const i64 asked = std::max(now_cycle(), not_before_cycle);
  for (;;) {
    const i64 now = now_cycle();
    const i64 t = model_.recv_ready(std::max(now, not_before_cycle));
    if (t == kUnknown) {
      receiver_waits_ = true;
      sc_core::wait(data_in_);  // notified for the cycle the next vector becomes visible
      receiver_waits_ = false;
    } else if (t > now)
      sc_core::wait(cycles_time(t - now));
    else
      break;
  }
  const i64 t = now_cycle();
  const Dequeued q = model_.recv(asked, t);
  // R = 0 is a delta notification: a sender waiting for it sends in this same cycle.
  if (sender_waits_) credit_back_.notify(cycles_time(q.credit_cycle - t));
  return {t, q.sent_cycle};
}

// ---- the calculator ----------------------------------------------------------------------------

double LinkRun::vectors_per_cycle() const {
  if (steady()) return double(period_vectors) / double(period_cycles);
  return run_vectors_per_cycle();
}

LinkRun run_link_plain(const LinkSpec& spec, const LinkRunOptions& opt) {
  check_run(spec, opt);
  LinkModel m(spec);
  RunAccumulator acc(spec, opt);
  // Two parties, each with the cycle it next wants to act; the earlier acts first (calls in
  // time order, as the model requires). A tie is order-free: a send is seen L >= 1 cycles later.
  i64 sent = 0, p_ask = 0, c_ask = 0;
  for (;;) {
    const i64 ps = sent < opt.vectors ? m.send_ready(p_ask) : kUnknown;
    const i64 cs = m.recv_ready(c_ask);
    if (cs != kUnknown && (ps == kUnknown || cs <= ps)) {
      const Dequeued q = m.recv(c_ask, cs);
      c_ask = cs + opt.consumer_interval_cycles;
      if (acc.add(q.sent_cycle, cs) || acc.count() == opt.vectors) break;
    } else {
      QACCEL_ASSERT(ps != kUnknown, "link run: neither side can move");
      m.send(p_ask, ps);
      ++sent;
      p_ask = ps + 1;
    }
  }
  return acc.finish(m.counters());
}

LinkRun run_link_systemc(const LinkSpec& spec, const LinkRunOptions& opt) {
  check_run(spec, opt);
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  RunAccumulator acc(spec, opt);
  LinkBench bench("link_bench", spec, opt, acc);
  // Runs until nothing is left to happen: the consumer has its N vectors, or it proved the
  // steady state and the producer, if blocked for a credit, is never woken.
  sc_core::sc_start();
  return acc.finish(bench.model().counters());
}

}  // namespace qaccel::rdu
