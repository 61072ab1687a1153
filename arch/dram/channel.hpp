#pragma once
// One DRAM channel's controller and its banks, in plain C++ (no SystemC inside): read and
// write queues, FR-FCFS or FCFS, open- or closed-row policy, write drain by watermarks,
// all-bank or per-bank refresh, one command per cycle on the command bus.
//
// Time: the controller processes cycle by cycle with step_to(). Event mode asks next_event()
// for the next cycle at which anything can happen (a command becomes legal, a refresh falls
// due) and jumps there; tick mode steps every cycle. Skipped cycles are ones where a step
// would issue nothing and change nothing, so both modes issue identical command streams
// (tests/test_dram.cpp compares them). For speed, next_event() and the scheduler work from
// per-bank counts of waiting requests and cached minima of their readiness per bank, bank
// group and rank (or bank by bank while few banks have requests waiting), pick the next
// cycle ahead while the channel issues on most cycles, and skip the steps that could only
// repeat an idle one; none of this changes what issues when.
//
// Scheduling, per cycle, in this order (the structure of Ramulator 2's generic controller, so
// figures compare): (1) a request whose row this controller opened for it (the "activated"
// set) issues its column command when legal; else (2) a pending refresh issues its next
// command (PREA, then REFab) when legal; else (3) the read queue, or the write queue in write
// mode, gives its best request: FR-FCFS takes the oldest whose next command is legal now,
// FCFS only the oldest. While a refresh waits for its command, the queues wait too. Under the
// closed-row policy a column command auto-precharges (RDA/WRA) unless another queued request
// wants the same row. A precharge that would close a row an activated request waits for is
// held back. A request leaves its queue when its ACT issues (it then waits in the activated
// set) or when its column command issues. A read to an address with a write in the queue is
// answered from the write queue one cycle later.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "arch/dram/rules.hpp"
#include "arch/dram/spec.hpp"

namespace qaccel::dram {

constexpr i64 kNever = std::numeric_limits<i64>::max() / 4;

struct Request {
  std::uint64_t addr = 0;
  std::uint64_t id = 0;
  bool write = false;
  int rank = 0, bank_group = 0, bank = 0;  // bank: index within the channel
  i64 row = 0;
  i64 arrive = 0;
  bool counted = false;  // row hit/miss/conflict already classified
  // PIM (AiM style): the ACT this request needs opens the row in every bank of the rank, so
  // the next ACT waits (banks / 4) x nFAW (as many four-activate windows as banks).
  bool all_bank_act = false;
};

struct IssuedCmd {
  i64 cycle;
  Cmd cmd;
  int rank, bank_group, bank;  // bank within the channel (-1 for rank-wide commands)
  i64 row;
};

struct Completion {
  std::uint64_t id;
  bool write;
  i64 issue_cycle;  // the column command (or the arrival, for a forwarded read)
  i64 done_cycle;   // last data on the bus (reads), or written (writes)
};

struct ChannelStats {
  std::array<i64, kCmds> commands{};
  i64 row_hits = 0, row_misses = 0, row_conflicts = 0;
  i64 reads = 0, writes = 0, forwarded_reads = 0;
  i64 read_latency_cycles = 0;   // sum over reads of done - arrive
  i64 queue_latency_cycles = 0;  // sum over requests of first command - arrive
  i64 active_rank_cycles = 0;    // sum over ranks of cycles with a row open
};

class Channel {
 public:
  Channel(const DramConfig& cfg, const RuleSet& rules, bool record_commands = false);

  i64 now() const { return now_; }
  bool has_room(bool write) const;
  // Queues a request arriving at cycle `at` (>= now(); the caller has run every event up to
  // it); it can issue from cycle at + 1 on. A read that hits a queued write completes one
  // cycle later without a DRAM access (see completions()). Requires has_room().
  void enqueue(const Request& r, i64 at);
  // Processes cycle `c` (> now()): a due refresh is queued, at most one command issues.
  // Event mode passes next_event(); tick mode now() + 1.
  void step_to(i64 c);
  // An idle channel (no request, no refresh pending, every bank closed) whose next refreshes
  // all fall due by cycle c: all but the last are counted without stepping (each would issue
  // its REF at its due cycle and change nothing the last one does not), so idle time costs
  // nothing. Returns how many were skipped.
  i64 skip_idle_refreshes(i64 c);
  // The next cycle after now() at which step_to could act, kNever when nothing is pending.
  i64 next_event() const;
  bool busy() const { return !reads_.empty() || !writes_.empty() || !active_.empty(); }
  i64 pending() const { return i64(reads_.size() + writes_.size() + active_.size()); }

  // Finished requests since the last take (their done_cycle may lie ahead of now()).
  std::vector<Completion>& completions() { return done_; }
  const ChannelStats& stats() const { return stats_; }
  // When a PIM kernel of `cycles` starting at `start` ends on this channel: each refresh that
  // falls due meanwhile stalls it nRFC + nRP (its banks close, refresh, reopen).
  i64 hold_end(i64 start, i64 cycles) const;
  // A PIM kernel ran on this channel's banks until cycle `c` (>= now(), queues empty): its
  // commands are accounted elsewhere, the refreshes due meanwhile are counted here; afterwards
  // every bank is closed and no command may issue before c.
  void hold_until(i64 c);
  // Closes open-row accounting at now() (call once at the end of a run).
  void finish();
  const std::vector<IssuedCmd>& commands() const { return log_; }

 private:
  // Requests in arrival order. Taking one out moves the shorter side (queues lose mostly their
  // oldest requests), so the storage slides forward and is compacted when it reaches its end.
  class RequestQueue {
   public:
    explicit RequestQueue(std::size_t n = 0) { buf_.reserve(2 * n + 8); }
    std::size_t size() const { return buf_.size() - head_; }
    bool empty() const { return buf_.size() == head_; }
    const Request* begin() const { return buf_.data() + head_; }
    const Request* end() const { return buf_.data() + buf_.size(); }
    Request& operator[](std::size_t i) { return buf_[head_ + i]; }
    const Request& operator[](std::size_t i) const { return buf_[head_ + i]; }
    const Request& front() const { return buf_[head_]; }
    const Request& back() const { return buf_.back(); }
    void push_back(const Request& r) {
      if (head_ > 0 && buf_.size() == buf_.capacity()) {
        buf_.erase(buf_.begin(), buf_.begin() + std::ptrdiff_t(head_));
        head_ = 0;
      }
      buf_.push_back(r);
    }
    void erase(std::size_t i) {
      Request* at = buf_.data() + head_ + i;
      if (i < size() / 2) {
        std::move_backward(buf_.data() + head_, at, at + 1);
        ++head_;
      } else {
        std::move(at + 1, buf_.data() + buf_.size(), at);
        buf_.pop_back();
      }
    }

   private:
    std::vector<Request> buf_;
    std::size_t head_ = 0;
  };

  struct Node {
    // The earliest legal cycle per command (RDA's and WRA's are not kept: RD's and WR's stand
    // for them, see RuleSet::raises).
    std::array<i64, kCmds> ready;
  };
  struct BankState {
    Node t;
    i64 open_row = -1;
    // Reads [0] and writes [1] for this bank not yet served (queued or activated) and how many
    // of them hit the open row: next_event and pick work per bank from these.
    std::array<int, 2> waiting{}, hits{};
    // The rows those requests want, each with its reads and writes (so an ACT knows its hits).
    struct RowWant {
      i64 row;
      std::array<int, 2> n;
    };
    std::vector<RowWant> rows;
    RowWant* find(i64 row) {
      for (RowWant& x : rows)
        if (x.row == row) return &x;
      return nullptr;
    }
    const RowWant* find(i64 row) const {
      for (const RowWant& x : rows)
        if (x.row == row) return &x;
      return nullptr;
    }
    int activated = 0;  // activated requests (they keep the open row)
    int group = 0;      // index into groups_
  };
  // For a bank group or a rank: the earliest cycle, at bank-group and bank level, of ACT, PRE
  // and RD for reads and of ACT, PRE and WR for writes (kWaitCmds), over its banks with a
  // request waiting for that command (kNever when none waits). Rank readiness is the same for
  // every bank of a rank and is applied on top. A group's are recomputed when stale (after a
  // command, a request or a row change there), and then its rank's.
  using WaitMin = std::array<i64, 6>;
  struct RankMin {
    WaitMin at;
    std::uint32_t stale_groups = 0;  // bit g: the rank's group g is stale
  };
  struct RankState {
    Node t;
    std::array<i64, 4> acts{};  // the last four ACT cycles (ring)
    int nacts = 0, open_banks = 0;
    i64 open_since = 0;
    int activated = 0;  // activated requests in the rank
  };
  struct RefreshReq {
    int rank, bank;  // bank -1: all-bank
  };
  struct Choice {
    Cmd cmd;
    int where = 0;  // 0 activated set, 1 refresh, 2 read queue, 3 write queue
    std::size_t index = 0;
  };
  // What a step at some cycle does: maybe issue a command, and, when it looks at the queues,
  // set the write mode.
  struct Pick {
    bool found = false;
    bool blocked = false;  // found a precharge held back by an activated request
    bool sets_mode = false, write_mode = false;
    // Nothing found after a look at every request of the queue: the earliest cycle one of
    // them can take its command.
    bool scanned = false;
    i64 queue_next = kNever;
    Choice ch{};
  };

  Cmd next_cmd(const Request& r) const;
  Cmd column_cmd(const Request& r) const;
  // The command whose readiness decides when r can move on: next_cmd() without the closed-row
  // policy's search for RDA/WRA (they share RD's/WR's readiness, see RuleSet).
  Cmd ready_cmd(const Request& r) const;
  Cmd refresh_cmd(const RefreshReq& f) const;
  i64 earliest(Cmd c, int rank, int bg, int bank) const;
  // The bank readiness of r's column command.
  i64 column_ready(const Request& r) const {
    return banks_[std::size_t(r.bank)].t.ready[std::size_t(r.write ? Cmd::WR : Cmd::RD)];
  }
  // earliest(ready_cmd(r), ...) (<= c), without branches (the scans mispredict them).
  bool legal(const Request& r, i64 c) const { return legal_from(r) <= c; }
  i64 legal_from(const Request& r) const {
    const BankState& b = banks_[std::size_t(r.bank)];
    static_assert(int(Cmd::ACT) == 0 && int(Cmd::PRE) == 1 && int(Cmd::WR) == int(Cmd::RD) + 1);
    const int hit = int(Cmd::RD) + r.write, miss = b.open_row >= 0;
    const int k = b.open_row == r.row ? hit : miss;
    const i64 g = groups_[std::size_t(b.group)].ready[std::size_t(k)];
    const i64 t = std::max(b.t.ready[std::size_t(k)], g);
    return std::max(t, ranks_[std::size_t(r.rank)].t.ready[std::size_t(k)]);
  }
  // `ahead`: made by next_event() (see Pick::scanned).
  Pick pick(i64 c, bool ahead = false) const;
  void issue(const Choice& ch, i64 c);
  void apply_timing(Cmd cmd, int rank, int bg, int bank, i64 c);
  void open_bank(int rank, int bank, i64 row, i64 c);
  void close_bank(int rank, int bank, i64 c);
  bool next_write_mode() const;  // the write mode a look at the queues now sets
  bool blocks_activated(Cmd cmd, int rank, int bank) const;
  // Every cached minimum, look-ahead pick and hold: after a change outside the usual paths
  // (a PIM hold, skipped idle refreshes, an all-bank activate).
  void invalidate_all() {
    for (RankMin& r : rank_min_)
      r.stale_groups = bgs_ >= 32 ? ~0u : (1u << bgs_) - 1;  // every group of every rank
    for (std::uint32_t& d : dirty_banks_)
      d = banks_per_bg_ >= 32 ? ~0u : (1u << banks_per_bg_) - 1;
    next_event_stale_ = true;
    ahead_cycle_ = -1;
    hold_ = kHoldNone;
    hold_at_ = -1;
  }
  void mark_stale(int rank, int group) {
    rank_min_[std::size_t(rank)].stale_groups |= 1u << (group - rank * bgs_);
  }
  // The bank's own state changed (readiness, open row, waiting requests).
  void mark_bank(int rank, int bank) {
    const int g = banks_[std::size_t(bank)].group;
    dirty_banks_[std::size_t(g)] |= 1u << (bank - g * banks_per_bg_);
    mark_stale(rank, g);
  }
  void update_group_min(int group) const;
  void update_rank_min(int rank) const;
  void update_next_event() const;
  i64 hold_event() const;
  [[gnu::noinline]] i64 next_event_after_scan() const;

  const DramConfig& cfg_;
  const RuleSet& rules_;
  // rules_.raises with index and latency widened once (fewer instructions per raise).
  struct Raise {
    std::size_t to;
    i64 latency;
  };
  std::vector<Raise> raises_[kCmds][RuleSet::kReaches];
  const int bgs_, banks_per_bg_, banks_per_rank_;
  i64 now_ = 0;
  RequestQueue reads_, writes_, active_;
  std::vector<RefreshReq> refresh_;
  std::vector<BankState> banks_;
  std::vector<Node> groups_;
  mutable std::vector<WaitMin> group_min_;
  mutable std::vector<std::uint32_t> dirty_banks_;  // per group, bit j: its bank j's want
  // Per bank, its part of its group's WaitMin (bank readiness only), valid unless the bank's
  // bit in dirty_banks_ is set. Kept apart so that a BankState fills 128 bytes (the scans
  // index banks_ by request).
  mutable std::vector<WaitMin> want_;
  // Bit b: bank b has a request waiting (channels of at most 64 banks; else unused). With
  // few such banks, update_next_event takes the minimum over them directly, which is cheaper
  // than refreshing the cached minima (a stream waits on one or two banks).
  std::uint64_t waiting_banks_ = 0;
  bool direct_ok_ = false;
  mutable std::vector<RankMin> rank_min_;
  // next_event() before the clamp to now() + 1 and, under FR-FCFS, the earliest cycle at which
  // a waiting read [0] or write [1] (queued or activated) could take its next command; valid
  // until the state changes. (After next_event_after_scan, the kind not served is 0: unknown,
  // and not read while the write mode stays.)
  mutable i64 next_event_ = 0;
  mutable std::array<i64, 2> waiting_{};
  mutable bool next_event_stale_ = true;
  // The write mode next_event_ assumes a step keeps (kBothModes: none; see update_next_event).
  static constexpr int kBothModes = -1;
  mutable int event_mode_ = kBothModes;
  // The pick for cycle ahead_cycle_ (-1: none), made ahead by next_event() and used by that
  // cycle's step unless the state changes first.
  mutable Pick ahead_;
  mutable i64 ahead_cycle_ = -1;
  // No activated request's column command is legal at bank level before this cycle (bank
  // readiness only rises and their rows stay open, so it holds until one leaves the set).
  i64 active_floor_ = kNever;
  // After a step that issued nothing because no candidate was legal yet (none held back),
  // while nothing changes, later steps can only act once a candidate of the same kind is
  // legal: an activated request, the waiting refresh (hold_ kHoldRefresh) or a request of the
  // queue in service (0 reads, 1 writes), or when a refresh falls due. next_event() skips to
  // that cycle (hold_at_, -1 until computed).
  static constexpr int kHoldNone = -2, kHoldRefresh = -1;
  int hold_ = kHoldNone;
  mutable i64 hold_at_ = -1;
  // How often lately the cycle after a step issued a command (next_event() picks ahead while
  // it is high).
  mutable int busy_score_ = 0;
  std::vector<RankState> ranks_;
  std::array<int, 2> activated_{};  // activated reads [0] and writes [1]
  bool write_mode_ = false;
  i64 write_high_ = 0, write_low_ = 0;  // the watermarks in whole queued writes
  i64 next_refresh_ = kNever;
  int refresh_rank_ = 0, refresh_bank_ = 0;
  i64 refresh_interval_ = 0;
  std::vector<Completion> done_;
  ChannelStats stats_;
  bool record_;
  std::vector<IssuedCmd> log_;
};

}  // namespace qaccel::dram
