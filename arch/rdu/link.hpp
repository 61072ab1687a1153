#pragma once
// A link of the RDU fabric (issue 15): a stream of vectors from one tile to another through a
// bounded FIFO with credit-based flow control.
//
// THE LINK RULE. Timestamped vectors through a bounded FIFO whose credits come back after a
// latency, the rule streaming-dataflow simulators use (Stanford's DAM: a channel has a capacity,
// a send latency and a response latency). Time is integer cycles of the fabric clock.
//  - The sender starts with C = capacity_vectors credits, one per buffer slot.
//  - SEND at cycle t: in cycle t the sender holds a credit, spends it and hands the vector
//    over. At most one vector per cycle enters a link (its width is one vector).
//  - The vector is VISIBLE to the receiver from cycle t + L (L = latency_cycles >= 1): it can
//    be dequeued in cycle t + L at the earliest.
//  - DEQUEUE at cycle t': in cycle t' the receiver takes the oldest visible vector (FIFO order,
//    at most one per cycle) and frees its slot. The credit reaches the sender at t' + R
//    (R = credit_latency_cycles >= 0) and can pay for a send in that very cycle; R = 0 is a
//    combinational "not full" signal, R >= 1 a registered credit. (DAM wants both latencies
//    >= 1; L >= 1 is kept so a vector is never sent and dequeued in one cycle and the two
//    sides' calls within a cycle never depend on their order; R = 0 is allowed because the
//    hardware exists and the arithmetic needs no change.)
//  - OCCUPANCY in cycle u: vectors sent in or before u and dequeued after u (a vector counts
//    from its send cycle to the cycle before its dequeue, d - s cycles). Never above C.
//
// The rate this gives. A producer that offers one vector per cycle (vector j from the cycle
// after it sent j - 1) into a link (C, L, R), and a consumer that takes at most one vector every
// K cycles (ready at cycle 0, then K cycles after each dequeue), follow
//     s_j = max(s_{j-1} + 1, d_{j-C} + R)      d_j = max(s_j + L, d_{j-1} + K)
// (terms with a negative index drop out). Three loops bound it: the producer (1 cycle per
// vector), the consumer (K cycles per vector) and the credit loop (vector j + C waits for the
// credit of vector j, which comes back no earlier than s_j + L + R: C vectors per L + R cycles).
// In the steady state every C consecutive vectors take exactly max(C, C*K, L + R) cycles, so
// the sustained rate is exactly
//     min(1, 1/K, C / (L + R))   vectors per cycle,
// C / (L + R) and not C / (L + R + 1), because a credit pays for a send in the cycle it arrives
// and a vector is dequeued in the cycle it becomes visible (as in DAM, where an element sent at
// tick t carries time t + latency and a response sent at tick t' is usable once the sender's
// tick reaches t' + response latency). Full rate needs C >= L + R: with L = R = 1 a one-entry
// buffer sustains 1/2 and a two-entry one 1. tests/test_rdu_link.cpp checks these rates, exact
// totals of short runs worked by hand, and back-pressure from a slow consumer.
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

namespace qaccel::rdu {

using i64 = std::int64_t;

// A time that depends on a move of the other side that has not happened yet.
constexpr i64 kUnknown = -1;

// Bounds that keep every cycle count of a run (and SystemC's 64-bit picosecond time, one cycle
// = 1 ns) far from overflow, and a link's bookkeeping (two timestamps per slot) small.
constexpr i64 kMaxCapacityVectors = 1'000'000;
constexpr i64 kMaxLatencyCycles = 100'000;  // both latencies
constexpr int kMaxLanes = 65536;
constexpr int kMaxElemBits = 1024;

struct LinkSpec {
  int lanes = 16;      // elements per vector (Plasticine's PCU: 16 lanes of 32 bits)
  int elem_bits = 32;  // bits per element
  i64 capacity_vectors = 2;
  i64 latency_cycles = 1;         // send to visible at the receiver, >= 1
  i64 credit_latency_cycles = 1;  // dequeue to credit usable by the sender, >= 0
  // ConfigError naming `where` + "." + key for the first value out of range.
  void validate(const std::string& where) const;
  i64 bits_per_vector() const { return i64(lanes) * elem_bits; }
  double bytes_per_vector() const { return double(bits_per_vector()) / 8.0; }
};

struct LinkCounters {
  i64 sent = 0, received = 0;
  i64 producer_stall_cycles = 0;    // sum over sends of (send cycle - cycle the sender asked)
  i64 consumer_wait_cycles = 0;     // sum over dequeues of (dequeue cycle - cycle it asked)
  i64 max_occupancy = 0;            // vectors, over every cycle up to the last event
  i64 occupancy_vector_cycles = 0;  // sum over dequeued vectors of (dequeue - send cycle)
};

// What a dequeue tells: when the vector was sent and when its credit is back at the sender.
struct Dequeued {
  i64 sent_cycle = 0;
  i64 credit_cycle = 0;
};

// The timing core of one link, plain C++. Both sides call it in simulated-time order (the
// cycles passed never decrease from one call to the next, whichever side calls); the answers
// are timestamps from the rule above, so a caller can jump straight to the cycle it may act.
class LinkModel {
 public:
  explicit LinkModel(const LinkSpec& spec);
  const LinkSpec& spec() const { return spec_; }

  // The earliest cycle >= t at which the sender may send (it holds a credit and the link took
  // no vector in that cycle yet), or kUnknown when every credit is out with a vector that has
  // not been dequeued (the answer depends on a dequeue to come).
  i64 send_ready(i64 t) const;
  // Sends a vector in cycle t (requires send_ready(t) == t). `asked` is the cycle from which
  // the sender wanted to send: t - asked counts as producer stall. Returns the cycle the
  // vector becomes visible to the receiver (t + L).
  i64 send(i64 asked, i64 t);

  // The earliest cycle >= t at which the receiver may dequeue (the oldest vector is visible
  // and no dequeue happened in that cycle yet), or kUnknown when the link is empty.
  i64 recv_ready(i64 t) const;
  // Dequeues the oldest vector in cycle t (requires recv_ready(t) == t); t - asked counts as
  // consumer wait.
  Dequeued recv(i64 asked, i64 t);

  i64 occupancy() const { return i64(visible_.size()); }
  // Counters up to the latest call (max_occupancy includes the occupancy after it).
  LinkCounters counters() const;

 private:
  void advance_to(i64 t);

  LinkSpec spec_;
  i64 initial_credits_;      // credits never spent yet
  std::deque<i64> credits_;  // cycles returned credits become usable, oldest first
  std::deque<i64> visible_;  // cycles the vectors in the link become visible, oldest first
  i64 last_event_ = 0;       // cycle of the latest call (calls come in time order)
  i64 last_send_ = -1, last_recv_ = -1;
  LinkCounters c_;
};

// The timing of a link in SystemC, for SC_THREADs: send() and recv() block in simulated time.
// Each blocking point asks the LinkModel for the cycle it may go on and waits once for it
// (loosely timed: no clock, no wake-up per cycle); only when that cycle depends on the other
// side's next move (no credit out of a dequeue, nothing sent) does it wait for the other side's
// event, which is notified for the very cycle the credit or vector arrives. Not an
// sc_prim_channel (every decision comes from the model's timestamps, no update phase is
// needed), so a link can also be made after elaboration. One cycle is 1 ns of SystemC time.
class LinkTiming {
 public:
  explicit LinkTiming(const LinkSpec& spec);
  // Blocks until a vector is sent, in the first cycle >= max(now, not_before_cycle) with a
  // credit; returns that cycle (the caller is then at that simulated time).
  i64 send(i64 not_before_cycle = 0);
  // Blocks until the oldest vector is dequeued, in the first cycle >= max(now,
  // not_before_cycle) at which one is visible; returns the dequeue cycle and when it was sent.
  std::pair<i64, i64> recv(i64 not_before_cycle = 0);
  const LinkModel& model() const { return model_; }

 private:
  LinkModel model_;
  sc_core::sc_event credit_back_;  // notified for the cycle a credit reaches the sender
  sc_core::sc_event data_in_;      // notified for the cycle a vector becomes visible
  bool sender_waits_ = false, receiver_waits_ = false;  // blocked on the event above
};

// A link carrying values of type T (a tile's vector; the timing does not look at it).
template <class T>
class LinkChannel {
 public:
  struct Delivery {
    T value;
    i64 sent_cycle;
    i64 cycle;  // the dequeue cycle
  };
  explicit LinkChannel(const LinkSpec& spec) : timing_(spec) {}
  // Returns the send cycle. The value is in the FIFO before the receiver can see it (L >= 1).
  i64 send(T value, i64 not_before_cycle = 0) {
    const i64 t = timing_.send(not_before_cycle);
    values_.push_back(std::move(value));
    return t;
  }
  Delivery recv(i64 not_before_cycle = 0) {
    const auto [cycle, sent] = timing_.recv(not_before_cycle);
    Delivery d{std::move(values_.front()), sent, cycle};
    values_.pop_front();
    return d;
  }
  const LinkModel& model() const { return timing_.model(); }

 private:
  LinkTiming timing_;
  std::deque<T> values_;
};

// ---- the link calculator (`qaccel rdu link`) ---------------------------------------------------

struct LinkRunOptions {
  i64 vectors = 10000;
  i64 consumer_interval_cycles = 1;  // K: the consumer takes at most one vector every K cycles
  // Stop simulating once the steady state is proven (the link's state repeats C vectors later,
  // shifted in time) and compute the rest from it: identical totals (tests/test_rdu_link.cpp
  // compares with stepping every vector). The proof came within 3C + 8 vectors in every case
  // tried; a run that never repeats is simply stepped to its end.
  bool fast_forward = true;
  bool record = false;  // keep every simulated vector's send and dequeue cycles
};

struct LinkRun {
  i64 vectors = 0;            // N
  i64 simulated_vectors = 0;  // fewer than N when the steady state was fast-forwarded
  i64 total_cycles = 0;       // cycles 0 to the last dequeue, inclusive
  i64 producer_stall_cycles = 0;
  i64 consumer_wait_cycles = 0;
  i64 max_occupancy = 0;
  i64 occupancy_vector_cycles = 0;
  // Steady state: from vector steady_from on, every period_vectors vectors take
  // period_cycles; steady_from = -1 when the run ended before one was proven.
  i64 steady_from = -1, period_vectors = 0, period_cycles = 0;
  // The link model's own counters over what was simulated (with fast-forward, the producer may
  // have sent a few vectors beyond the last one dequeued).
  LinkCounters model;
  std::vector<i64> send_cycles, dequeue_cycles;  // with LinkRunOptions::record

  bool steady() const { return steady_from >= 0; }
  // The sustained rate when a steady state was found, else the run's average.
  double vectors_per_cycle() const;
  double run_vectors_per_cycle() const {
    return total_cycles ? double(vectors) / double(total_cycles) : 0.0;
  }
  double mean_occupancy() const {
    return total_cycles ? double(occupancy_vector_cycles) / double(total_cycles) : 0.0;
  }
};

// A producer offering one vector per cycle through one link to a consumer taking one every K
// cycles, on the plain LinkModel with an event loop (no SystemC).
LinkRun run_link_plain(const LinkSpec& spec, const LinkRunOptions& opt);
// The same on the SystemC channel: a producer and a consumer SC_THREAD. Elaborates and runs
// the SystemC kernel, so at most once per process.
LinkRun run_link_systemc(const LinkSpec& spec, const LinkRunOptions& opt);

}  // namespace qaccel::rdu
