#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "arch/rdu/fabric.hpp"

#include <algorithm>
#include <memory>
#include <queue>
#include <sstream>

#include "sim/base/error.hpp"

namespace qaccel::rdu {

namespace {

// floor(a * b / c) and ceil(a * b / c) for non-negative a, b and positive c.
i64 share(i64 a, i64 b, i64 c) {
  i64 p;
  if (!__builtin_mul_overflow(a, b, &p)) return p / c;  // the common case, no 128-bit divide
  return i64((__int128)a * b / c);
}
i64 share_up(i64 a, i64 b, i64 c) {
  i64 p;
  if (!__builtin_mul_overflow(a, b, &p) && p <= INT64_MAX - c) return (p + c - 1) / c;
  return i64(((__int128)a * b + c - 1) / c);
}

// The live in- and out-edges of every node (edges carrying vectors), in index order.
struct Streams {
  std::vector<std::vector<int>> in, out;
  explicit Streams(const Dfg& g) : in(g.nodes.size()), out(g.nodes.size()) {
    for (std::size_t e = 0; e < g.edges.size(); ++e) {
      if (g.edges[e].vectors <= 0) continue;
      in[std::size_t(g.edges[e].dst)].push_back(int(e));
      out[std::size_t(g.edges[e].src)].push_back(int(e));
    }
  }
};

bool is_pcu_program(const Node& n) {
  return n.tile == TileKind::pcu;
}

// Joining PCU in-edges whose producer is a PCU, carrying more than a link holds: they get a
// whole-stream stage buffer.
std::vector<char> stage_buffered(const Section& sec, const RduSpec& s) {
  const Dfg& g = sec.graph;
  const Streams st(g);
  std::vector<char> deep(g.edges.size(), 0);
  for (std::size_t v = 0; v < g.nodes.size(); ++v) {
    if (!is_pcu_program(g.nodes[v]) || st.in[v].size() < 2) continue;
    for (int e : st.in[v])
      if (const Node& src = g.nodes[std::size_t(g.edges[std::size_t(e)].src)];
          is_pcu_program(src) &&
          g.edges[std::size_t(e)].vectors > s.link_capacity_vectors + src.latency_cycles)
        deep[std::size_t(e)] = 1;
  }
  return deep;
}

// One move a context asks for: dequeue from or send on `edge`, not before `not_before`, and
// (a buffer's reader) not before `need` vectors are written into buffer node `buffer`.
struct Action {
  enum Kind { recv, send, finish } kind = finish;
  int edge = -1;
  i64 not_before = 0;
  int buffer = -1;
  i64 need = 0;
};

// A sequential program of link moves; both engines drive the same programs, so they agree on
// what is asked and the links decide when.
class Context {
 public:
  virtual ~Context() = default;
  virtual Action next() = 0;
  // The move asked by next() happened in `cycle`.
  virtual void done(i64 cycle) = 0;
  virtual i64 end() const = 0;
  int node = 0;
  int writes_buffer = -1;  // a buffer writer: the buffer node its dequeues fill
};

// A PCU: steps with proportional inputs and (streaming) outputs, or a blocking tail.
class PcuContext final : public Context {
 public:
  PcuContext(const Node& n, std::vector<int> in, std::vector<int> out, const Dfg& g)
      : in_(std::move(in)), out_(std::move(out)), block_(blocking(n.kind)), busy_(n.busy_cycles) {
    i64 si = 0, so = 0, rounds = 0;
    for (int e : in_)
      vin_.push_back(g.edges[std::size_t(e)].vectors), si += vin_.back();
    for (int e : out_)
      vout_.push_back(g.edges[std::size_t(e)].vectors), so += vout_.back(),
          rounds = std::max(rounds, vout_.back());
    // A PCU with work but no live stream still takes its busy cycles, as one step.
    steps_ = in_.empty() ? std::max<i64>(so, busy_ > 0 ? 1 : 0) : si;
    rounds_ = rounds;
    got_.assign(in_.size(), 0);
    sent_.assign(out_.size(), 0);
  }

  Action next() override {
    for (;;) {
      switch (phase_) {
        case Phase::inputs:
          if (step_ >= steps_) {
            phase_ = Phase::tail, cursor_ = 0;
            continue;
          }
          for (; cursor_ < in_.size(); ++cursor_)
            if (got_[cursor_] < share_up(step_ + 1, vin_[cursor_], steps_))
              return {Action::recv, in_[cursor_], free_};
          {  // the step runs
            const i64 start = std::max(free_, cur_);
            const i64 dur = share(step_ + 1, busy_, steps_) - share(step_, busy_, steps_);
            busy_done_ += dur, start_ = start, free_ = start + dur;
            end_ = std::max(end_, free_);
          }
          cursor_ = 0;
          if (block_)
            ++step_;
          else
            phase_ = Phase::outputs;
          continue;
        case Phase::outputs:
          for (; cursor_ < out_.size(); ++cursor_)
            if (sent_[cursor_] < share(step_ + 1, vout_[cursor_], steps_))
              return {Action::send, out_[cursor_], start_};
          cursor_ = 0, ++step_, phase_ = Phase::inputs;
          continue;
        case Phase::tail:
          if (!block_ || round_ >= rounds_) return {};
          for (; cursor_ < out_.size(); ++cursor_)
            if (sent_[cursor_] < share(round_ + 1, vout_[cursor_], rounds_))
              return {Action::send, out_[cursor_], free_};
          cursor_ = 0, ++round_;
          continue;
      }
    }
  }

  void done(i64 cycle) override {
    cur_ = std::max(cur_, cycle);
    end_ = std::max(end_, cycle + 1);
    if (phase_ == Phase::inputs)
      ++got_[cursor_];
    else
      ++sent_[cursor_];
  }
  i64 end() const override { return end_; }
  i64 busy() const { return busy_done_; }

 private:
  enum class Phase { inputs, outputs, tail };
  std::vector<int> in_, out_;
  std::vector<i64> vin_, vout_, got_, sent_;
  bool block_;
  i64 busy_, steps_ = 0, rounds_ = 0;
  Phase phase_ = Phase::inputs;
  std::size_t cursor_ = 0;
  i64 step_ = 0, round_ = 0;
  i64 free_ = 0, cur_ = 0, start_ = 0, end_ = 0, busy_done_ = 0;
};

// One stream of a PMU or an AGCU: `count` moves on `edge`, move j taking
// d_j = floor((j+1) num / den) - floor(j num / den) cycles of its port (a rate, so a stalled
// stream does not burst to catch up later): move j from the cycle of move j - 1 plus d_{j-1}
// on and, for a buffer's reader, after ceil((j+1) fill / count) writes.
class StreamContext final : public Context {
 public:
  StreamContext(Action::Kind kind, int edge, i64 count, i64 num, i64 den, int buffer, i64 fill)
      : kind_(kind),
        edge_(edge),
        count_(count),
        num_(num),
        den_(den),
        buffer_(buffer),
        fill_(fill) {}
  Action next() override {
    if (j_ >= count_) return {};
    Action a{kind_, edge_, next_};
    if (buffer_ >= 0 && fill_ > 0) a.buffer = buffer_, a.need = share_up(j_ + 1, fill_, count_);
    return a;
  }
  void done(i64 cycle) override {
    next_ = cycle + share(j_ + 1, num_, den_) - share(j_, num_, den_);
    end_ = std::max(cycle + 1, next_);
    ++j_;
  }
  i64 end() const override { return end_; }

 private:
  Action::Kind kind_;
  int edge_;
  i64 count_, num_, den_;
  int buffer_;
  i64 fill_;
  i64 j_ = 0, next_ = 0, end_ = 0;
};

struct Programs {
  std::vector<std::unique_ptr<Context>> ctx;
  std::vector<i64> node_busy;  // per node, for PMUs and AGCUs (PCUs report their steps)
};

Programs programs(const Section& sec, const RduSpec& s) {
  const Dfg& g = sec.graph;
  const Streams st(g);
  Programs p;
  p.node_busy.assign(g.nodes.size(), 0);
  for (std::size_t v = 0; v < g.nodes.size(); ++v) {
    const Node& n = g.nodes[v];
    const int node = int(v);
    auto add = [&](std::unique_ptr<Context> c) {
      c->node = node;
      p.ctx.push_back(std::move(c));
    };
    p.node_busy[v] = n.busy_cycles;
    switch (n.kind) {
      case NodeKind::mem_read:
        QACCEL_ASSERT(st.in[v].empty(), "fabric: a mem_read with inputs: " + n.name);
        for (int e : st.out[v]) {
          const i64 w = g.edges[std::size_t(e)].vectors;
          add(std::make_unique<StreamContext>(Action::send, e, w, n.busy_cycles, w, -1, 0));
        }
        break;
      case NodeKind::mem_write:
        QACCEL_ASSERT(st.out[v].empty(), "fabric: a mem_write with outputs: " + n.name);
        for (int e : st.in[v]) {
          const i64 w = g.edges[std::size_t(e)].vectors;
          add(std::make_unique<StreamContext>(Action::recv, e, w, n.busy_cycles, w, -1, 0));
        }
        break;
      case NodeKind::buffer: {
        // W writers share the one write port: a vector every W cycles each.
        i64 fill = 0;
        const i64 writers = std::max<i64>(1, i64(st.in[v].size()));
        for (int e : st.in[v]) {
          const i64 w = g.edges[std::size_t(e)].vectors;
          fill += w;
          add(std::make_unique<StreamContext>(Action::recv, e, w, writers, 1, -1, 0));
          p.ctx.back()->writes_buffer = node;
        }
        const i64 readers = i64(st.out[v].size()), apc = s.addresses_per_cycle;
        for (int e : st.out[v])
          add(std::make_unique<StreamContext>(Action::send, e, g.edges[std::size_t(e)].vectors,
                                              std::max(readers, apc), apc, node, fill));
        break;
      }
      default:
        QACCEL_ASSERT(n.tile == TileKind::pcu, "fabric: no program for " + n.name);
        add(std::make_unique<PcuContext>(n, st.in[v], st.out[v], g));
        break;
    }
  }
  return p;
}

// The writes into each buffer node: how many so far and the cycle of each.
struct BufferFill {
  std::vector<std::vector<i64>> cycles;  // per node (empty for non-buffers)
  explicit BufferFill(std::size_t nodes) : cycles(nodes) {}
  bool has(int b, i64 need) const { return i64(cycles[std::size_t(b)].size()) >= need; }
  // The first cycle the need-th write can be read.
  i64 readable(int b, i64 need) const { return cycles[std::size_t(b)][std::size_t(need - 1)] + 1; }
};

FabricResult finish(const Section& sec, const std::vector<LinkSpec>& specs,
                    const std::vector<char>& deep, const std::vector<LinkCounters>& links,
                    const Programs& prog) {
  FabricResult r;
  const Dfg& g = sec.graph;
  r.link_specs = specs;
  r.links = links;
  r.nodes.resize(g.nodes.size());
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    r.nodes[i].busy_cycles = prog.node_busy[i];
  for (const auto& c : prog.ctx) {
    FabricNodeStats& n = r.nodes[std::size_t(c->node)];
    n.end_cycle = std::max(n.end_cycle, c->end());
    if (const auto* pcu = dynamic_cast<const PcuContext*>(c.get())) n.busy_cycles = pcu->busy();
    r.cycles = std::max(r.cycles, c->end());
  }
  for (std::size_t e = 0; e < links.size(); ++e) {
    const Edge& ed = g.edges[e];
    r.vectors_moved += links[e].received;
    r.vector_hops += links[e].received * (i64(sec.route[e].size()) - 1);
    r.nodes[std::size_t(ed.src)].stall_cycles += links[e].producer_stall_cycles;
    r.nodes[std::size_t(ed.dst)].stall_cycles += links[e].consumer_wait_cycles;
    if (deep[e]) r.stage_buffers += 1, r.stage_buffer_bytes += ed.bytes(specs[e].lanes);
  }
  return r;
}

[[noreturn]] void deadlock(const Section& sec, const Programs& prog, const std::vector<char>& live,
                           const char* engine) {
  std::ostringstream os;
  os << "fabric deadlock (" << engine << "); stuck nodes:";
  int last = -1;
  for (std::size_t c = 0; c < prog.ctx.size(); ++c)
    if (live[c] && prog.ctx[c]->node != last)
      last = prog.ctx[c]->node, os << ' ' << sec.graph.nodes[std::size_t(last)].name;
  throw InternalError(os.str());
}

// The contexts due at each cycle: a ring of per-cycle lists for the next kWindow cycles and a
// heap beyond (moves far ahead: a matmul tile's long steps). Within a cycle the order does not
// matter: nothing a move does in cycle t is visible to another context before t + 1 (L >= 1,
// buffer writes readable the cycle after), except a credit with R = 0, whose sender is woken
// into the current cycle and taken by the next call of next() before time moves on.
class Calendar {
 public:
  void push(i64 t, std::size_t c) {
    QACCEL_ASSERT(t >= now_, "fabric: an event in the past");
    if (t < now_ + kWindow) {
      ring_[std::size_t(t) & (kWindow - 1)].push_back(c), ++near_;
    } else {
      far_.push({t, c});
    }
  }
  bool empty() const { return near_ == 0 && far_.empty(); }
  // The next cycle with moves due, its list moved out (empty() must be false).
  i64 next(std::vector<std::size_t>& due) {
    if (near_ == 0) now_ = far_.top().first;  // skip the empty stretch
    for (;; ++now_) {
      while (!far_.empty() && far_.top().first < now_ + kWindow) {
        ring_[std::size_t(far_.top().first) & (kWindow - 1)].push_back(far_.top().second);
        far_.pop(), ++near_;
      }
      auto& b = ring_[std::size_t(now_) & (kWindow - 1)];
      if (b.empty()) continue;
      due.clear();
      due.swap(b);
      near_ -= due.size();
      return now_;
    }
  }
  i64 now() const { return now_; }

 private:
  static constexpr i64 kWindow = 1024;  // a power of two
  std::vector<std::vector<std::size_t>> ring_{std::size_t(kWindow)};
  std::priority_queue<std::pair<i64, std::size_t>, std::vector<std::pair<i64, std::size_t>>,
                      std::greater<>>
      far_;
  i64 now_ = 0;
  std::size_t near_ = 0;
};

// Discrete events: every context with a known next move sits in a calendar by that move's
// cycle; one waiting on the other side of a link, or on a buffer's writes,
// is parked there and looked at again when that side moves. Link calls come in time order,
// and a move's cycle, once known, never changes: the other side only adds vectors or credits
// later than those already counted (link.hpp), and a buffer only adds writes.
FabricResult run_plain(const Section& sec, const std::vector<LinkSpec>& specs,
                       const std::vector<char>& deep, const RduSpec& s) {
  std::vector<LinkModel> links;
  links.reserve(specs.size());
  for (const auto& l : specs)
    links.emplace_back(l);
  Programs prog = programs(sec, s);
  const std::size_t n = prog.ctx.size();
  std::vector<Action> act(n);
  std::vector<i64> cur(n, 0), ask(n, 0);
  std::vector<char> live(n, 1);
  // Per link: the context waiting on its sender / receiver side, or -1.
  std::vector<int> wait_send(specs.size(), -1), wait_recv(specs.size(), -1);
  // Per buffer node: readers waiting for a number of writes, least first.
  using Need = std::pair<i64, int>;
  std::vector<std::priority_queue<Need, std::vector<Need>, std::greater<>>> wait_fill(
      sec.graph.nodes.size());
  BufferFill fill(sec.graph.nodes.size());
  Calendar queue;

  // The cycle of c's next move, or kUnknown after parking it where it waits.
  auto ready = [&](std::size_t c) -> i64 {
    const Action& a = act[c];
    if (a.kind == Action::finish) {
      live[c] = 0;
      return kUnknown;
    }
    i64 t = std::max(cur[c], a.not_before);
    if (a.buffer >= 0) {
      if (!fill.has(a.buffer, a.need)) {
        wait_fill[std::size_t(a.buffer)].push({a.need, int(c)});
        return kUnknown;
      }
      t = std::max(t, fill.readable(a.buffer, a.need));
    }
    ask[c] = t;
    const LinkModel& l = links[std::size_t(a.edge)];
    const i64 r = a.kind == Action::recv ? l.recv_ready(t) : l.send_ready(t);
    if (r == kUnknown)
      (a.kind == Action::recv ? wait_recv : wait_send)[std::size_t(a.edge)] = int(c);
    return r;
  };
  auto look = [&](std::size_t c) {
    if (const i64 r = ready(c); r != kUnknown) queue.push(r, c);
  };
  auto wake = [&](int& waiting) {
    if (waiting < 0) return;
    const auto c = std::size_t(waiting);
    waiting = -1;
    look(c);
  };

  for (std::size_t c = 0; c < n; ++c) {
    act[c] = prog.ctx[c]->next();
    look(c);
  }
  std::vector<std::size_t> due;
  while (!queue.empty()) {
    const i64 now = queue.next(due);
    // Contexts due now may make more moves this cycle (a PCU sending on each out-edge): they
    // go on at once; the rest wait in the calendar.
    for (std::size_t c : due) {
      i64 t = now;
      for (;;) {
        const Action& a = act[c];
        const auto e = std::size_t(a.edge);
        if (a.kind == Action::recv) {
          links[e].recv(ask[c], t);
          wake(wait_send[e]);
          if (const int b = prog.ctx[c]->writes_buffer; b >= 0) {
            fill.cycles[std::size_t(b)].push_back(t);
            auto& w = wait_fill[std::size_t(b)];
            const i64 have = i64(fill.cycles[std::size_t(b)].size());
            while (!w.empty() && w.top().first <= have) {
              const auto r = std::size_t(w.top().second);
              w.pop();
              look(r);
            }
          }
        } else {
          links[e].send(ask[c], t);
          wake(wait_recv[e]);
        }
        cur[c] = t;
        prog.ctx[c]->done(t);
        act[c] = prog.ctx[c]->next();
        const i64 r = ready(c);
        if (r == kUnknown) break;
        if (r != now) {
          queue.push(r, c);
          break;
        }
      }
    }
  }
  for (std::size_t c = 0; c < n; ++c)
    if (live[c]) deadlock(sec, prog, live, "plain");
  std::vector<LinkCounters> counters;
  for (const auto& l : links)
    counters.push_back(l.counters());
  return finish(sec, specs, deep, counters, prog);
}

FabricResult run_systemc(const Section& sec, const std::vector<LinkSpec>& specs,
                         const std::vector<char>& deep, const RduSpec& s) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  std::vector<std::unique_ptr<LinkTiming>> links;
  for (const auto& l : specs)
    links.push_back(std::make_unique<LinkTiming>(l));
  Programs prog = programs(sec, s);
  BufferFill fill(sec.graph.nodes.size());
  std::vector<std::unique_ptr<sc_core::sc_event>> written;  // per node: a buffer write
  for (std::size_t v = 0; v < sec.graph.nodes.size(); ++v)
    written.push_back(std::make_unique<sc_core::sc_event>());
  std::vector<char> live(prog.ctx.size(), 1);
  for (std::size_t i = 0; i < prog.ctx.size(); ++i) {
    sc_core::sc_spawn(
        [&, i] {
          Context& p = *prog.ctx[i];
          for (Action a = p.next(); a.kind != Action::finish; a = p.next()) {
            i64 not_before = a.not_before;
            if (a.buffer >= 0) {
              while (!fill.has(a.buffer, a.need))
                sc_core::wait(*written[std::size_t(a.buffer)]);
              not_before = std::max(not_before, fill.readable(a.buffer, a.need));
            }
            LinkTiming& l = *links[std::size_t(a.edge)];
            const i64 t = a.kind == Action::recv ? l.recv(not_before).first : l.send(not_before);
            if (p.writes_buffer >= 0) {
              fill.cycles[std::size_t(p.writes_buffer)].push_back(t);
              written[std::size_t(p.writes_buffer)]->notify();
            }
            p.done(t);
          }
          live[i] = 0;
        },
        ("ctx_" + std::to_string(i)).c_str());
  }
  sc_core::sc_start();
  for (std::size_t i = 0; i < prog.ctx.size(); ++i)
    if (live[i]) deadlock(sec, prog, live, "systemc");
  std::vector<LinkCounters> counters;
  for (const auto& l : links)
    counters.push_back(l->model().counters());
  return finish(sec, specs, deep, counters, prog);
}

}  // namespace

std::vector<LinkSpec> section_links(const Section& sec, const RduSpec& s, const FabricParams& p) {
  const std::vector<char> deep = stage_buffered(sec, s);
  std::vector<LinkSpec> out;
  for (std::size_t e = 0; e < sec.graph.edges.size(); ++e) {
    const Edge& ed = sec.graph.edges[e];
    const i64 hops = i64(sec.route[e].size()) - 1;
    const i64 fill = sec.graph.nodes[std::size_t(ed.src)].latency_cycles;
    LinkSpec l;
    l.lanes = s.lanes;
    l.elem_bits = 32;
    l.latency_cycles = std::max<i64>(1, hops * p.hop_latency_cycles) + fill;
    l.capacity_vectors = s.link_capacity_vectors + fill;
    if (deep[e]) l.capacity_vectors = std::max(l.capacity_vectors, ed.vectors + fill);
    l.credit_latency_cycles = p.credit_latency_cycles;
    out.push_back(l);
  }
  return out;
}

FabricResult simulate_section(const Section& sec, const RduSpec& s, FabricEngine engine,
                              const FabricParams& p) {
  QACCEL_ASSERT(sec.route.size() == sec.graph.edges.size(), "fabric: a route per edge");
  for (const auto& r : sec.route)
    QACCEL_ASSERT(!r.empty(), "fabric: an empty route");
  QACCEL_ASSERT(p.hop_latency_cycles >= 1 && p.credit_latency_cycles >= 0,
                "fabric: hop latency >= 1 and credit latency >= 0");
  const auto specs = section_links(sec, s, p);
  const auto deep = stage_buffered(sec, s);
  return engine == FabricEngine::plain ? run_plain(sec, specs, deep, s)
                                       : run_systemc(sec, specs, deep, s);
}

}  // namespace qaccel::rdu
