// The `simple` memory model: channels x bytes/cycle of bandwidth shared by every requester, a
// fixed access latency for a request that opens a stream, and one of two arbitrations:
//  - fcfs: requests are served whole, in the order they arrive (ties: the order SystemC runs
//    the requesters, which is deterministic). A request is reserved when it arrives, so
//    b_transport answers at once with its completion time (loosely timed).
//  - round_robin: requests are cut into `burst_bytes` bursts and the requesters with pending
//    bursts take turns, one burst each; b_transport blocks until the last burst is out. An
//    arbiter thread serves the bursts; within one busy stretch burst b ends at
//    start + ceil(bytes served so far / bandwidth), so a lone request takes as long as under
//    fcfs.
#include <algorithm>
#include <cmath>

#include "arch/common/memory.hpp"
#include "sim/base/error.hpp"

namespace qaccel {

namespace {

using i64 = std::int64_t;

class SimpleMemory final : public MemoryTarget {
 public:
  SimpleMemory(const DramSpec& spec, StatsRegistry& stats) : MemoryTarget("memory", spec, stats) {
    if (spec.arbitration == Arbitration::round_robin) {
      SC_HAS_PROCESS(SimpleMemory);
      SC_THREAD(arbiter);
    }
  }
  bool answers_at_once() const override { return spec_.arbitration == Arbitration::fcfs; }

 protected:
  i64 reserve(int id, bool write, std::uint64_t, i64 bytes, i64 at, bool opens) override {
    const i64 start = std::max(at, free_at_);
    free_at_ = start + busy_cycles(bytes);
    served(id, write, bytes, start, free_at_);
    return free_at_ + (opens ? spec_.latency_cycles : 0);
  }

  // fcfs, closed form: after the first request the memory is free whenever the next one
  // arrives (it arrived no earlier than the previous one's completion), so the requests follow
  // each other every max(consumer, busy) cycles, each taking `busy`.
  TrainAnswer reserve_train(int id, bool write, std::uint64_t, i64 bytes, i64 at, i64 count,
                            i64 consumer) override {
    const i64 d = busy_cycles(bytes), start0 = std::max(at, free_at_), done0 = start0 + d;
    const i64 stride = std::max(consumer, d);
    const i64 issue1 = std::max(at + consumer, done0);
    const i64 issue_last = count > 1 ? issue1 + (count - 2) * stride : at;
    TrainAnswer a;
    a.done_cycle = count > 1 ? issue_last + d : done0;
    a.next_issue_cycle = count > 1 ? issue_last + stride : issue1;
    a.memory_cycles = (done0 - at) + (count - 1) * d;
    free_at_ = a.done_cycle;
    served(id, write, bytes * count, start0, a.done_cycle, count * d);
    return a;
  }

  // A PIM kernel: the channels are the kernel's from when they are free.
  i64 hold(int, i64 at, i64 cycles) override {
    free_at_ = std::max(at, free_at_) + cycles;
    return free_at_;
  }

  void transport(int id, tlm::tlm_generic_payload& t, sc_core::sc_time& delay) override {
    const i64 bytes = i64(t.get_data_length());
    MemRequestExt* ext = nullptr;
    t.get_extension(ext);
    const bool opens = ext && ext->opens_stream;
    if (delay != sc_core::SC_ZERO_TIME) sc_core::wait(delay);
    delay = sc_core::SC_ZERO_TIME;
    if (std::size_t(id) >= pending_.size()) pending_.resize(std::size_t(id) + 1, nullptr);
    QACCEL_ASSERT(!pending_[std::size_t(id)], "two outstanding requests from one initiator");
    Pending p{bytes, t.is_write(), opens, {}};
    pending_[std::size_t(id)] = &p;
    ++waiting_;
    arrived_.notify();
    sc_core::wait(p.done);
  }

 private:
  struct Pending {
    i64 remaining;
    bool write, opens;
    sc_core::sc_event done;
  };

  void arbiter() {
    for (;;) {
      if (!waiting_) sc_core::wait(arrived_);
      // One busy stretch: bursts back to back while anyone waits.
      const i64 start = now_cycle();
      i64 served_bytes = 0;
      while (waiting_) {
        const std::size_t n = pending_.size();
        std::size_t id = (last_ + 1) % n;
        while (!pending_[id])
          id = (id + 1) % n;
        last_ = id;
        Pending& r = *pending_[id];
        const i64 burst = std::min(r.remaining, spec_.burst_bytes);
        const i64 begin = now_cycle();
        served_bytes += burst;
        const i64 end = start + i64(std::ceil(double(served_bytes) / peak_bytes_per_cycle()));
        if (end > begin) sc_core::wait(cycles_time(end - begin));
        served(int(id), r.write, burst, begin, end);
        r.remaining -= burst;
        if (r.remaining == 0) {
          pending_[id] = nullptr;
          --waiting_;
          r.done.notify(cycles_time(r.opens ? spec_.latency_cycles : 0));
        }
      }
    }
  }

  i64 free_at_ = 0;                // fcfs: when the channels are free
  std::vector<Pending*> pending_;  // round robin: the request of each initiator, if any
  int waiting_ = 0;
  std::size_t last_ = std::size_t(-1);
  sc_core::sc_event arrived_;
};

const RegisterMemory reg({"simple",
                          "channels x bytes/cycle with a fixed latency; fcfs or round-robin "
                          "arbitration of bursts",
                          [](const DramSpec& s,
                             StatsRegistry& st) -> std::unique_ptr<MemoryTarget> {
                            return std::make_unique<SimpleMemory>(s, st);
                          }});

}  // namespace

}  // namespace qaccel
