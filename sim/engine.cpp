#include "sim/engine.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <queue>

#include <tlm_utils/simple_initiator_socket.h>

#include "sim/base/error.hpp"

namespace qaccel {

namespace {

using i64 = std::int64_t;

class Scheduler;

// A DRAM transfer of a unit's DMA: issued at `issued`, complete at `done` (-1 while unknown).
struct Xfer {
  bool write = false, opens = false;
  i64 bytes = 0;
  std::uint64_t address = 0;
  i64 issued = 0, done = -1;
  i64 hold = 0;  // a PIM kernel: the memory is the unit's for this many cycles
};

// Weights of a later op fetched while the current op runs, one transfer per fold.
struct Prefetched {
  i64 op = -1;
  i64 bytes = 0;
  std::vector<Xfer> folds;
};

// The ops the engine holds: a run of whole blocks, in global op order.
struct Slot {
  OpRecord rec;
  OpPlan plan;
  int unit = 0;
  i64 block = 0;  // global block number
  std::uint64_t read_address = 0, write_address = 0;
  std::vector<i64> preds, succs;
  int missing = 0;  // preds not finished
  bool started = false, finished = false;
};

struct Window {
  std::deque<Slot> slots;
  i64 first = 0;  // the global index of slots.front()
  struct Block {
    i64 first = 0, size = 0, finished = 0;
  };
  std::deque<Block> blocks;
  i64 first_block = 0;      // the global number of blocks.front()
  i64 loaded_blocks = 0;    // blocks ever loaded
  i64 newest_started = -1;  // the newest block with an op started
  bool source_done = false;

  Slot& at(i64 id) { return slots[std::size_t(id - first)]; }
  const Slot& at(i64 id) const { return slots[std::size_t(id - first)]; }
  i64 end() const { return first + i64(slots.size()); }
  // Blocks are loaded while at most this many are ahead of the newest one running.
  static constexpr i64 kLookahead = 2;
  bool wants_block() const {
    return !source_done && loaded_blocks < newest_started + 1 + kLookahead;
  }
};

class UnitModule : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<UnitModule> mem;
  std::deque<i64> queue;    // ops handed over by the scheduler
  std::deque<i64> program;  // the window's ops mapped here, in program order
  sc_core::sc_event work;

  SC_HAS_PROCESS(UnitModule);
  UnitModule(const sc_core::sc_module_name& n, int index, Unit& unit, Scheduler& sched, Window& win,
             bool answers_at_once, bool prefetch, StatsRegistry& stats)
      : sc_core::sc_module(n),
        mem("mem"),
        index_(index),
        sched_(sched),
        win_(win),
        at_once_(answers_at_once),
        prefetch_(prefetch),
        stall_(stats.at(unit.name() + ".stall_cycles")),
        idle_(stats.at(unit.name() + ".idle_cycles")),
        ops_(stats.at(unit.name() + ".ops")),
        loads_(stats.at(unit.name() + ".dma.load_bytes")),
        stores_(stats.at(unit.name() + ".dma.store_bytes")),
        prefetch_bytes_(stats.at(unit.name() + ".dma.prefetch_bytes")) {
    SC_THREAD(main);
    if (!at_once_) SC_THREAD(dma);
    trans_.set_data_ptr(&dummy_);
    trans_.set_streaming_width(0);
    trans_.set_byte_enable_ptr(nullptr);
    trans_.set_dmi_allowed(false);
    trans_.set_extension(&ext_);
  }
  ~UnitModule() override { trans_.clear_extension(&ext_); }
  double& idle_stat() { return idle_; }

 private:
  void main();
  void run_op(i64 i);
  void run_folds(i64 i, const OpPlan& p, OpRecord& r);
  void run_stream(i64 i, const OpPlan& p);
  void maybe_prefetch(i64 i);

  // The unit's time. An op that runs alone (every other unit idle, so no request can come
  // from elsewhere until it ends) runs temporally decoupled, as TLM's loosely-timed style
  // allows: its transactions carry their issue time as the annotated delay and the thread
  // waits once at the end. The memory sees the same requests at the same times, so the cycles
  // are those of waiting at every fold; only blocking (round-robin) memories never decouple.
  i64 now() const { return decoupled_ ? vt_ : now_cycle(); }

  void issue(Xfer& x, bool write, i64 bytes, std::uint64_t address, bool opens) {
    x = Xfer{write, opens, bytes, address, now(), -1};
    if (bytes <= 0) {
      x.done = x.issued;
      return;
    }
    (write ? stores_ : loads_) += double(bytes);
    if (!at_once_) {
      fifo_.push_back(&x);
      dma_kick_.notify();
      return;
    }
    sc_core::sc_time delay = cycles_time(x.issued - now_cycle());
    transport(x, delay);
    x.done = now_cycle() + to_cycles(delay);
  }
  // Blocks until the transfer is complete.
  void wait_done(Xfer& x) {
    if (at_once_) {
      wait_until(x.done);
    } else {
      while (x.done < 0)
        sc_core::wait(dma_done_);
    }
    mem_cycles_ += x.done - x.issued;
  }
  void wait_until(i64 cycle) {
    if (decoupled_)
      vt_ = std::max(vt_, cycle);
    else if (cycle > now_cycle())
      sc_core::wait(cycles_time(cycle - now_cycle()));
  }
  // One transfer as transactions of at most 1 GiB (a TLM data length is 32 bits), back to
  // back; only the first opens the stream. `delay` answers the last one's completion.
  void transport(const Xfer& x, sc_core::sc_time& delay) {
    constexpr i64 kMax = i64(1) << 30;
    trans_.set_command(x.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    const sc_core::sc_time issue = delay;
    for (i64 off = 0; off < x.bytes; off += kMax) {
      trans_.set_address(x.address + std::uint64_t(off));
      trans_.set_data_length(unsigned(std::min(kMax, x.bytes - off)));
      trans_.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      ext_.opens_stream = x.opens && off == 0;
      ext_.hold_cycles = x.hold;
      delay = issue;
      mem->b_transport(trans_, delay);
      QACCEL_ASSERT(trans_.is_response_ok(), "memory target refused a transaction");
    }
  }
  // Decoupled only: n fetches of `bytes` as one train, the first issued now, each next one when
  // the fold before may begin. Returns the cycle the last fetched fold may begin.
  i64 train(i64 n, i64 bytes, std::uint64_t address, i64 fold_cycles) {
    QACCEL_ASSERT(decoupled_, "a train outside decoupled time");
    loads_ += double(n * bytes);
    ext_.count = n, ext_.consumer_cycles = fold_cycles;
    Xfer x{false, false, bytes, address, vt_, -1};
    sc_core::sc_time delay = cycles_time(vt_ - now_cycle());
    transport(x, delay);
    ext_.count = 1, ext_.consumer_cycles = 0;
    mem_cycles_ += ext_.memory_cycles;
    return ext_.next_issue_cycle;
  }
  // Blocking memories: the DMA engine serves the unit's transfers one at a time, so the unit
  // computes while its next fold is fetched.
  void dma() {
    for (;;) {
      while (fifo_.empty())
        sc_core::wait(dma_kick_);
      Xfer* x = fifo_.front();
      fifo_.pop_front();
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      transport(*x, delay);
      if (delay != sc_core::SC_ZERO_TIME) sc_core::wait(delay);
      x->done = now_cycle();
      dma_done_.notify();
    }
  }

  int index_;
  Scheduler& sched_;
  Window& win_;
  const bool at_once_, prefetch_;
  double &stall_, &idle_, &ops_, &loads_, &stores_, &prefetch_bytes_;
  tlm::tlm_generic_payload trans_;
  MemRequestExt ext_;
  unsigned char dummy_ = 0;  // timing-only transactions: the target never reads the data
  std::deque<Xfer*> fifo_;
  sc_core::sc_event dma_kick_, dma_done_;
  Xfer load_, next_, store_;
  Prefetched pf_;
  i64 mem_cycles_ = 0;
  bool decoupled_ = false;
  i64 vt_ = 0;
};

class Scheduler : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Scheduler);
  Scheduler(const sc_core::sc_module_name& n, Window& win, Schedule schedule)
      : sc_core::sc_module(n), win_(win), schedule_(schedule) {
    SC_THREAD(feed);
  }
  std::vector<UnitModule*> units;
  i64 done = 0;
  bool load_wanted = false;  // paused for the next block

  // True when every unit but `u` is idle with nothing queued.
  bool alone(int u) const {
    for (std::size_t v = 0; v < busy_.size(); ++v)
      if (int(v) != u && busy_[v]) return false;
    return true;
  }

  // Called outside the simulation when a block has been loaded: its ops with every input
  // already there become ready, and the serial schedule's order goes on into it.
  void loaded(i64 first, i64 size, const std::vector<i64>& serial_order) {
    if (schedule_ == Schedule::overlap)
      for (i64 i = first; i < first + size; ++i)
        if (!win_.at(i).missing) pending_.push_back(i);
    if (schedule_ == Schedule::serial) {
      if (serial_order.empty())
        for (i64 i = first; i < first + size; ++i)
          order_.push_back(i);
      else
        order_.insert(order_.end(), serial_order.begin(), serial_order.end());
    }
    // Before the simulation starts, feed() finds them when it first runs.
    if (fed_ && (schedule_ == Schedule::serial || !pending_.empty()))
      kick_.notify(sc_core::SC_ZERO_TIME);
  }

  // Called by a unit's thread when op i is complete.
  void op_done(i64 i) {
    ++done;
    Slot& d = win_.at(i);
    d.finished = true;
    ++win_.blocks[std::size_t(d.block - win_.first_block)].finished;
    const int u = d.unit;
    busy_[std::size_t(u)] = false;
    const i64 t = now_cycle();
    for (i64 s : d.succs) {
      Slot& x = win_.at(s);
      x.rec.ready_cycle = std::max(x.rec.ready_cycle, t);
      if (--x.missing == 0 && schedule_ == Schedule::overlap) make_ready(s);
    }
    if (schedule_ == Schedule::serial) serial_next();
    dispatch(u);
  }

 private:
  // Makes ready what a load left pending; runs at start-up and after every load.
  void feed() {
    fed_ = true;
    busy_.assign(units.size(), false);
    ready_.resize(units.size());
    for (;;) {
      if (schedule_ == Schedule::serial) {
        if (!serial_busy_) serial_next();
      } else {
        std::vector<i64> now;
        now.swap(pending_);
        for (i64 i : now)
          make_ready(i);
      }
      sc_core::wait(kick_);
    }
  }
  // Serial: the next op in order once the previous one has finished.
  void serial_next() {
    serial_busy_ = !order_.empty();
    if (!serial_busy_) return;
    const i64 i = order_.front();
    order_.pop_front();
    make_ready(i);
  }
  void make_ready(i64 i) {
    const int u = win_.at(i).unit;
    ready_[std::size_t(u)].push(i);
    dispatch(u);
  }
  void dispatch(int u) {
    auto& q = ready_[std::size_t(u)];
    if (busy_[std::size_t(u)] || q.empty()) return;
    const i64 i = q.top();
    q.pop();
    busy_[std::size_t(u)] = true;
    Slot& x = win_.at(i);
    x.started = true;
    OpRecord& r = x.rec;
    r.start_cycle = now_cycle();
    if (r.start_cycle > r.ready_cycle)
      r.waited_for = schedule_ == Schedule::serial ? "order" : "unit";
    else if (r.ready_cycle > 0)
      r.waited_for = "input";
    if (x.block > win_.newest_started) {
      win_.newest_started = x.block;
      // Pause at the end of this delta cycle so the caller loads the next block.
      if (win_.wants_block() && !load_wanted) load_wanted = true, sc_core::sc_pause();
    }
    units[std::size_t(u)]->queue.push_back(i);
    units[std::size_t(u)]->work.notify();
  }

  Window& win_;
  Schedule schedule_;
  std::deque<i64> order_;
  std::vector<i64> pending_;
  bool serial_busy_ = false, fed_ = false;
  sc_core::sc_event kick_;
  std::vector<char> busy_;
  std::vector<std::priority_queue<i64, std::vector<i64>, std::greater<i64>>> ready_;
};

void UnitModule::main() {
  for (;;) {
    while (queue.empty())
      sc_core::wait(work);
    const i64 i = queue.front();
    queue.pop_front();
    run_op(i);
    sched_.op_done(i);
  }
}

void UnitModule::run_op(i64 i) {
  const OpPlan& p = win_.at(i).plan;
  OpRecord& r = win_.at(i).rec;
  mem_cycles_ = 0;
  r.cost = p.cost;
  QACCEL_ASSERT(r.start_cycle == now_cycle(), "op started late on its unit");
  decoupled_ = at_once_ && sched_.alone(index_), vt_ = now_cycle();
  if (p.timing == OpPlan::Timing::folds)
    run_folds(i, p, r);
  else
    run_stream(i, p);
  if (decoupled_) {
    decoupled_ = false;
    wait_until(vt_);
  }
  r.end_cycle = now_cycle();
  r.cost.cycles = r.end_cycle - r.start_cycle;
  r.cost.stall_cycles = r.cost.cycles - r.cost.compute_cycles;
  QACCEL_ASSERT(r.cost.stall_cycles >= 0, "op " + r.op.name + " shorter than its compute");
  if (r.cost.stall_cycles > 0) r.waited_for += r.waited_for.empty() ? "memory" : ",memory";
  r.memory_cycles = mem_cycles_;
  r.hidden_memory_cycles = std::max<i64>(0, mem_cycles_ - r.cost.stall_cycles);
  stall_ += double(r.cost.stall_cycles);
  ops_ += 1;
}

// Fold pipeline: fold f's share of the reads must be in before fold f starts; fold f+1's is
// fetched during fold f; folds prefetched during the previous op need no fetch. Once the op's
// last fetch is issued, the DMA may prefetch for the next op.
void UnitModule::run_folds(i64 i, const OpPlan& p, OpRecord& r) {
  const i64 F = p.folds, total = p.read_bytes(), per = F ? (total + F - 1) / F : 0;
  const std::uint64_t addr = win_.at(i).read_address;
  auto bytes_of = [&](i64 f) { return std::clamp<i64>(total - per * f, 0, per); };
  std::vector<Xfer> mine;  // folds prefetched for this op (the buffer keeps its addresses)
  if (pf_.op == i) {
    mine.swap(pf_.folds), r.prefetched_bytes = pf_.bytes;
    pf_.op = -1;
  }
  const i64 npf = i64(mine.size());
  // Two transfer slots used in turn; swapped as pointers (a blocking DMA's queue holds them).
  Xfer* cur = &load_;
  Xfer* nxt = &next_;
  if (npf == 0) issue(*cur, false, bytes_of(0), addr, true);
  if (F - 1 < std::max<i64>(npf, 1)) maybe_prefetch(i);
  i64 t = now();
  for (i64 f = 0; f < F; ++f) {
    // Once every other unit has gone idle, nobody else can issue a request before this op
    // ends: go on decoupled from here.
    if (!decoupled_ && at_once_ && sched_.alone(index_)) decoupled_ = true, vt_ = now_cycle();
    wait_until(t);
    wait_done(f < npf ? mine[std::size_t(f)] : *cur);
    // Decoupled, the full-size fetches of folds f+1 .. f+n (never the last fold) go as one
    // train: the memory runs the same fold-by-fold recurrence and says when fold f+n begins.
    const i64 n = std::min(F - 1, per ? total / per : 0) - (f + 1);
    if (decoupled_ && f >= 1 && f + 1 >= npf && n >= 2) {
      vt_ = train(n, per, addr + std::uint64_t(per * (f + 1)), p.fold_cycles);
      f += n;
    }
    if (f + 1 < F && f + 1 >= npf) {
      issue(*nxt, false, bytes_of(f + 1), addr + std::uint64_t(per * (f + 1)), false);
      std::swap(cur, nxt);
      if (f + 2 == F) maybe_prefetch(i);
    }
    t = now() + (f + 1 == F ? p.last_fold_cycles : p.fold_cycles) +
        (f == 0 ? p.first_fold_extra_cycles : 0);
  }
  wait_until(t);
  if (p.write_bytes() > 0) {
    issue(store_, true, p.write_bytes(), win_.at(i).write_address, true);
    wait_done(store_);
  }
}

// Compute overlapped with one read stream; the writes follow the reads. A PIM op instead holds
// the memory for its kernel (one request through the socket, served in arrival order like any
// other), so other units' requests wait while the banks compute and vice versa.
void UnitModule::run_stream(i64 i, const OpPlan& p) {
  const i64 start = now();
  if (p.memory_hold_cycles > 0) {
    load_ = Xfer{false, true, 1, win_.at(i).read_address, now(), -1, p.memory_hold_cycles};
    if (at_once_) {
      sc_core::sc_time delay = cycles_time(load_.issued - now_cycle());
      transport(load_, delay);
      load_.done = now_cycle() + to_cycles(delay);
    } else {
      fifo_.push_back(&load_);
      dma_kick_.notify();
    }
    wait_done(load_);
    load_.hold = 0;
  }
  issue(load_, false, p.read_bytes(), win_.at(i).read_address, true);
  maybe_prefetch(i);
  wait_done(load_);
  if (p.write_bytes() > 0) {
    issue(store_, true, p.write_bytes(), win_.at(i).write_address, false);
    wait_done(store_);
  }
  wait_until(start + p.fold_cycles);
}

// prefetch: next_op. The first op after i on this unit that has not started, of i's pass or
// the next, if its reads are weights only: as many whole folds of them as fit the space op i
// leaves free, one transfer per fold (the first opens a stream).
void UnitModule::maybe_prefetch(i64 i) {
  const OpPlan& cur = win_.at(i).plan;
  if (!prefetch_ || pf_.op >= 0 || cur.prefetch_capacity_bytes <= 0) return;
  auto it = std::upper_bound(program.begin(), program.end(), i);
  while (it != program.end() && win_.at(*it).started)
    ++it;
  if (it == program.end()) return;
  const i64 j = *it;
  if (win_.at(j).rec.step > win_.at(i).rec.step + 1) return;
  const OpPlan& p = win_.at(j).plan;
  if (!p.prefetchable || p.read_bytes() <= 0 || p.timing != OpPlan::Timing::folds) return;
  const i64 per = (p.read_bytes() + p.folds - 1) / p.folds;
  const i64 n = std::min(p.folds, cur.prefetch_capacity_bytes / per);
  if (n <= 0) return;
  const std::uint64_t addr = win_.at(j).read_address;
  pf_.op = j, pf_.bytes = 0;
  pf_.folds.assign(std::size_t(n), Xfer{});  // sized once: the DMA queue holds pointers
  for (i64 f = 0; f < n; ++f) {
    const i64 b = std::clamp<i64>(p.read_bytes() - per * f, 0, per);
    pf_.bytes += b;
    issue(pf_.folds[std::size_t(f)], false, b, addr + std::uint64_t(per * f), f == 0);
  }
  prefetch_bytes_ += double(pf_.bytes);
}

}  // namespace

void declare_engine_stats(StatsRegistry& stats, const std::vector<Unit*>& units) {
  declare_memory_stats(stats);
  for (const Unit* u : units) {
    const std::string& n = u->name();
    stats.add(n + ".stall_cycles", "cycles",
              "cycles the unit holds an op while waiting for off-chip memory");
    stats.add(n + ".idle_cycles", "cycles", "cycles the unit has no op");
    stats.add(n + ".ops", "ops", "ops the unit ran");
    stats.add(n + ".dma.load_bytes", "bytes",
              "bytes the unit's DMA moved from DRAM into its buffers");
    stats.add(n + ".dma.store_bytes", "bytes",
              "bytes the unit's DMA moved from its buffers to DRAM");
    stats.add(n + ".dma.prefetch_bytes", "bytes",
              "bytes fetched for the next op while the current op ran");
  }
}

EngineResult run_engine(const DramSpec& dram, StatsRegistry& stats, const std::vector<Unit*>& units,
                        OpSource& source, const EngineOptions& options) {
  // Nothing above the first block's load touches the SystemC kernel, so a config error can
  // still unwind cleanly: its coroutine stacks are not annotated for AddressSanitizer, which
  // then reports false stack overflows for exceptions thrown inside them. Blocks are loaded
  // between sc_start calls, on this stack; a deadlock is returned as data, not thrown.
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  QACCEL_ASSERT(sc_core::sc_get_time_resolution() == sc_core::sc_time(1, sc_core::SC_PS),
                "SystemC time resolution must be 1 ps (1 cycle = 1000 units)");
  auto info = memory_registry().find(dram.model);
  QACCEL_ASSERT(info != memory_registry().end(), "unknown memory model " + dram.model);

  Window win;
  std::vector<UnitUsage> usage(units.size());
  EngineResult res;
  // The next block from the source, numbered from `first`; false when none is left.
  auto fetch = [&](OpBlock& b, i64 first) {
    b.first = first;
    if (!source.next(b)) {
      win.source_done = true;
      return false;
    }
    QACCEL_ASSERT(b.first == first && b.plans.size() == b.size() && b.unit_of.size() == b.size() &&
                      b.preds.size() == b.size() && b.read_address.size() == b.size() &&
                      b.write_address.size() == b.size(),
                  "engine block of inconsistent sizes");
    return true;
  };
  // The first blocks are planned before the kernel exists (their errors unwind as they always
  // did); later ones between sc_start calls.
  std::vector<OpBlock> initial;
  for (i64 first = 0; win.loaded_blocks + i64(initial.size()) < Window::kLookahead;) {
    OpBlock b;
    if (!fetch(b, first)) break;
    first += i64(b.size());
    initial.push_back(std::move(b));
  }

  std::unique_ptr<MemoryTarget> memory = info->second.make(dram, stats);
  memory->record_timeline(options.record_memory);
  Scheduler sched("scheduler", win, options.schedule);
  std::vector<std::unique_ptr<UnitModule>> mods;
  for (std::size_t u = 0; u < units.size(); ++u) {
    mods.push_back(std::make_unique<UnitModule>(units[u]->name().c_str(), int(u), *units[u], sched,
                                                win, memory->answers_at_once(),
                                                options.prefetch == Prefetch::next_op, stats));
    mods.back()->mem.bind(memory->socket);
    sched.units.push_back(mods.back().get());
  }
  // Takes a fetched block into the window.
  auto install = [&](OpBlock& b) {
    const i64 block = win.loaded_blocks++;
    win.blocks.push_back({b.first, i64(b.size()), 0});
    for (std::size_t k = 0; k < b.size(); ++k) {
      Slot& x = win.slots.emplace_back();
      x.rec = std::move(b.records[k]);
      x.plan = b.plans[k];
      x.unit = b.unit_of[k];
      x.block = block;
      x.read_address = b.read_address[k], x.write_address = b.write_address[k];
      x.preds = std::move(b.preds[k]);
      mods[std::size_t(x.unit)]->program.push_back(b.first + i64(k));
    }
    // A layer list's edges may point forward within its block.
    for (i64 id = b.first; id < win.end(); ++id) {
      Slot& x = win.at(id);
      for (i64 p : x.preds) {
        QACCEL_ASSERT(p >= win.first && p < win.end(), "an op depends on one the engine lacks");
        Slot& y = win.at(p);
        if (y.finished) {
          x.rec.ready_cycle = std::max(x.rec.ready_cycle, y.rec.end_cycle);
        } else {
          ++x.missing;
          y.succs.push_back(id);
        }
      }
    }
    sched.loaded(b.first, i64(b.size()), b.serial_order);
  };
  auto load = [&] {
    OpBlock b;
    if (!fetch(b, win.end())) return false;
    install(b);
    return true;
  };
  // Hands the finished blocks at the front back to the source, in order.
  auto retire = [&] {
    while (!win.blocks.empty() && win.blocks.front().finished == win.blocks.front().size) {
      const i64 n = win.blocks.front().size;
      std::vector<OpRecord> recs;
      recs.reserve(std::size_t(n));
      for (i64 k = 0; k < n; ++k) {
        Slot& x = win.slots.front();
        UnitUsage& uu = usage[std::size_t(x.unit)];
        ++uu.ops, uu.busy_cycles += x.rec.cost.compute_cycles;
        uu.stalled_cycles += x.rec.cost.stall_cycles;
        res.makespan_cycles = std::max(res.makespan_cycles, x.rec.end_cycle);
        recs.push_back(std::move(x.rec));
        win.slots.pop_front();
      }
      win.first += n;
      win.blocks.pop_front(), ++win.first_block;
      for (auto& m : mods)
        while (!m->program.empty() && m->program.front() < win.first)
          m->program.pop_front();
      res.ops += n;
      source.retire(recs);
    }
  };
  for (OpBlock& b : initial)
    install(b);
  std::vector<OpBlock>().swap(initial);

  sc_core::sc_start();
  for (;;) {
    retire();
    if (sched.load_wanted) {
      sched.load_wanted = false;
      while (win.wants_block() && load()) {
      }
    } else if (win.slots.empty() && !win.source_done) {
      // Everything held has finished and nothing asked for more: go on with the next block.
      if (!load()) break;
    } else {
      break;
    }
    sc_core::sc_start();
  }

  if (!win.slots.empty() || !win.source_done) {
    const i64 left = i64(win.slots.size()) - (sched.done - res.ops);
    std::string msg = "simulation deadlock: " + std::to_string(left) + " of " +
                      std::to_string(res.ops + i64(win.slots.size())) +
                      " ops never finished and nothing can run" +
                      (win.source_done ? "" : " (later passes were never loaded)");
    int shown = 0;
    for (i64 i = win.first; i < win.end() && shown < 10; ++i) {
      const Slot& x = win.at(i);
      if (x.finished) continue;
      msg += "\n  " + x.rec.op.name + " (step " + std::to_string(x.rec.step) + ", unit " +
             x.rec.unit + ")";
      if (x.started) {
        msg += " started and never finished";
      } else {
        msg += " waits for";
        for (i64 p : x.preds)
          if (!win.at(p).finished)
            msg +=
                " " + win.at(p).rec.op.name + " (step " + std::to_string(win.at(p).rec.step) + ")";
      }
      ++shown;
    }
    res.deadlock = msg;
  }

  for (std::size_t u = 0; u < units.size(); ++u) {
    UnitUsage& uu = usage[u];
    uu.name = units[u]->name();
    uu.idle_cycles = res.makespan_cycles - uu.busy_cycles - uu.stalled_cycles;
    uu.utilization =
        res.makespan_cycles ? double(uu.busy_cycles) / double(res.makespan_cycles) : 0.0;
    mods[u]->idle_stat() = double(uu.idle_cycles);
  }
  res.units = std::move(usage);
  res.memory = memory->timeline();
  return res;
}

}  // namespace qaccel
