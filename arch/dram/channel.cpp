#include "arch/dram/channel.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/base/error.hpp"

namespace qaccel::dram {

namespace {
// cond ? a : b without a branch (compiled branches mispredict in the loops over banks).
i64 either(bool cond, i64 a, i64 b) {
  const i64 m = -i64(cond);
  return (a & m) | (b & ~m);
}

// At most this many banks with waiting requests: next_event's minimum is taken bank by bank.
constexpr int kDirectBanks = 6;

// The bank-level commands a read or a write can wait for, in WaitMin order.
constexpr Cmd kWaitCmds[6] = {Cmd::ACT, Cmd::PRE, Cmd::RD, Cmd::ACT, Cmd::PRE, Cmd::WR};
}  // namespace

Channel::Channel(const DramConfig& cfg, const RuleSet& rules, bool record)
    : cfg_(cfg),
      rules_(rules),
      bgs_(cfg.org.bank_groups),
      banks_per_bg_(cfg.org.banks_per_group),
      banks_per_rank_(cfg.org.banks_per_rank()),
      record_(record) {
  for (int c = 0; c < kCmds; ++c)
    for (int k = 0; k < RuleSet::kReaches; ++k)
      for (const RuleSet::Raise& r : rules.raises[c][k])
        raises_[c][k].push_back({std::size_t(r.to), r.latency});
  Node fresh;
  fresh.ready.fill(0);
  const int ranks = cfg.org.ranks_per_channel();
  BankState bank;
  bank.t = fresh;
  banks_.assign(std::size_t(ranks * banks_per_rank_), bank);
  for (std::size_t b = 0; b < banks_.size(); ++b)
    banks_[b].group = int(b) / banks_per_bg_;
  groups_.assign(std::size_t(ranks * bgs_), fresh);
  QACCEL_ASSERT(bgs_ <= 32, "more than 32 bank groups");
  QACCEL_ASSERT(banks_per_bg_ <= 32, "more than 32 banks in a bank group");
  WaitMin none;  // nothing waits yet
  none.fill(kNever);
  want_.assign(banks_.size(), none);
  dirty_banks_.assign(std::size_t(ranks * bgs_), 0);
  direct_ok_ = banks_.size() <= 64;
  // n > x is n > floor(x) and n < x is n < ceil(x) for a whole n.
  const double wq = double(cfg.ctrl.write_queue);
  write_high_ = i64(std::floor(cfg.ctrl.write_high_watermark * wq));
  write_low_ = i64(std::ceil(cfg.ctrl.write_low_watermark * wq));
  group_min_.assign(std::size_t(ranks * bgs_), none);
  rank_min_.assign(std::size_t(ranks), RankMin{none, 0});
  ranks_.assign(std::size_t(ranks), RankState{fresh, {}, 0, 0, 0});
  reads_ = RequestQueue(std::size_t(cfg.ctrl.read_queue));
  writes_ = RequestQueue(std::size_t(cfg.ctrl.write_queue));
  active_ = RequestQueue(std::size_t(ranks * banks_per_rank_));
  switch (cfg.ctrl.refresh) {
    case Refresh::all_bank:
      refresh_interval_ = cfg.timing.nREFI;
      break;
    case Refresh::per_bank:
      refresh_interval_ =
          cfg.timing.nREFIpb ? cfg.timing.nREFIpb : cfg.timing.nREFI / banks_per_rank_;
      break;
    case Refresh::none:
      break;
  }
  // The first refresh falls due one interval in (cycle nREFI), as in Ramulator 2.
  if (refresh_interval_ > 0) next_refresh_ = refresh_interval_;
}

bool Channel::has_room(bool write) const {
  // Selects, not branches: the front end alternates reads and writes unpredictably.
  const std::size_t n = write ? writes_.size() : reads_.size();
  return n < std::size_t(write ? cfg_.ctrl.write_queue : cfg_.ctrl.read_queue);
}

void Channel::enqueue(const Request& in, i64 at) {
  QACCEL_ASSERT(has_room(in.write), "enqueue into a full DRAM queue");
  QACCEL_ASSERT(at >= now_, "a DRAM request arrives in the past");
  now_ = at;  // the caller ran every event up to `at`
  Request r = in;
  r.arrive = at;
  // A write to the same address wants the same bank and row: look only if one does.
  BankState& b = banks_[std::size_t(r.bank)];
  BankState::RowWant* same_row = b.find(r.row);
  if (!r.write && same_row && same_row->n[1] > 0) {
    for (const Request& w : writes_)
      if (w.addr == r.addr) {
        // Forwarded from the write queue: data one cycle later, no DRAM access.
        ++stats_.reads;
        ++stats_.forwarded_reads;
        stats_.read_latency_cycles += 1;
        done_.push_back({r.id, false, at, at + 1});
        return;
      }
  }
  (r.write ? writes_ : reads_).push_back(r);
  // A pick made ahead that found a command stays right: the new request is the youngest, so
  // only the write mode (from the queue sizes) and, closing rows, RDA or RD could change.
  const bool keep = ahead_.found && cfg_.ctrl.row_policy == RowPolicy::open &&
                    (!ahead_.sets_mode || next_write_mode() == ahead_.write_mode);
  if (!keep) ahead_cycle_ = -1;
  hold_ = kHoldNone;
  ++b.waiting[r.write];
  waiting_banks_ |= std::uint64_t(direct_ok_) << (r.bank & 63);
  if (b.open_row == r.row) ++b.hits[r.write];
  if (same_row)
    ++same_row->n[r.write];
  else
    b.rows.push_back({r.row, {!r.write, r.write}});
  // One more request only brings minima forward: fold its readiness into the caches that
  // hold (a rank's minima are fresh only while its groups' are).
  const int i = 3 * r.write + (b.open_row == r.row ? 2 : b.open_row < 0 ? 0 : 1);
  const int g = r.rank * bgs_ + r.bank_group;
  const Cmd cmd = kWaitCmds[i];
  want_[std::size_t(r.bank)][std::size_t(i)] =
      b.t.ready[int(cmd)];  // (recomputed anyway when the bank is dirty)
  RankMin& rm = rank_min_[std::size_t(r.rank)];
  if (!(rm.stale_groups >> r.bank_group & 1)) {
    WaitMin& gm = group_min_[std::size_t(g)];
    gm[i] = std::min(gm[i], std::max(b.t.ready[int(cmd)], groups_[std::size_t(g)].ready[int(cmd)]));
    if (!rm.stale_groups) rm.at[i] = std::min(rm.at[i], gm[i]);
  }
  if (cfg_.ctrl.scheduler == Scheduler::fcfs) {
    next_event_stale_ = true;
  } else if (!next_event_stale_) {
    const i64 e = earliest(cmd, r.rank, r.bank_group, r.bank);
    waiting_[r.write] = std::min(waiting_[r.write], e);
    if (event_mode_ == kBothModes) {
      next_event_ = std::min(next_event_, e);
    } else {
      // The queue sizes changed: the mode next_event_ assumed may no longer be the one kept.
      if (event_mode_ == int(r.write)) next_event_ = std::min(next_event_, e);
      if (next_write_mode() != write_mode_) next_event_stale_ = true;
    }
  }
}

Cmd Channel::column_cmd(const Request& r) const {
  if (cfg_.ctrl.row_policy == RowPolicy::closed) {
    // Close the row with the access unless another queued request wants the same row.
    auto wants = [&](const RequestQueue& q) {
      for (const Request& o : q)
        if (o.bank == r.bank && o.row == r.row && o.id != r.id) return true;
      return false;
    };
    if (!wants(reads_) && !wants(writes_) && !wants(active_)) return r.write ? Cmd::WRA : Cmd::RDA;
  }
  return r.write ? Cmd::WR : Cmd::RD;
}

Cmd Channel::next_cmd(const Request& r) const {
  const i64 open = banks_[std::size_t(r.bank)].open_row;
  if (open == r.row) return column_cmd(r);
  return open < 0 ? Cmd::ACT : Cmd::PRE;
}

Cmd Channel::ready_cmd(const Request& r) const {
  const i64 open = banks_[std::size_t(r.bank)].open_row;
  if (open == r.row) return r.write ? Cmd::WR : Cmd::RD;
  return open < 0 ? Cmd::ACT : Cmd::PRE;
}

Cmd Channel::refresh_cmd(const RefreshReq& f) const {
  if (f.bank < 0) return ranks_[std::size_t(f.rank)].open_banks ? Cmd::PREA : Cmd::REFab;
  return banks_[std::size_t(f.bank)].open_row >= 0 ? Cmd::PRE : Cmd::REFpb;
}

i64 Channel::earliest(Cmd c, int rank, int bg, int bank) const {
  const RankState& rk = ranks_[std::size_t(rank)];
  i64 e = rk.t.ready[int(c)];
  if (is_rank_cmd(c)) {
    // PREA waits for every open bank's precharge rules, REFab for every bank's refresh rules.
    const Cmd per_bank = c == Cmd::PREA ? Cmd::PRE : Cmd::REFab;
    const std::size_t b0 = std::size_t(rank * banks_per_rank_);
    for (std::size_t b = b0; b < b0 + std::size_t(banks_per_rank_); ++b)
      if (c == Cmd::REFab || banks_[b].open_row >= 0)
        e = std::max(e, banks_[b].t.ready[int(per_bank)]);
    return e;
  }
  e = std::max(e, groups_[std::size_t(rank * bgs_ + bg)].ready[int(c)]);
  return std::max(e, banks_[std::size_t(bank)].t.ready[int(c)]);
}

bool Channel::blocks_activated(Cmd cmd, int rank, int bank) const {
  // Without branches (on the command, which varies from cycle to cycle); bank -1 is PREA's.
  const bool bank_busy = banks_[std::size_t(std::max(bank, 0))].activated > 0;
  const bool rank_busy = ranks_[std::size_t(rank)].activated > 0;
  return ((cmd == Cmd::PRE) & bank_busy) | ((cmd == Cmd::PREA) & rank_busy);
}

bool Channel::next_write_mode() const {
  const i64 n = i64(writes_.size());
  if (!write_mode_) return n > write_high_ || reads_.empty();
  return !(n < write_low_ && !reads_.empty());
}

Channel::Pick Channel::pick(i64 c, bool ahead) const {
  Pick p;
  Choice& out = p.ch;
  // (1) Activated requests: the oldest whose column command is legal.
  const std::size_t na = active_floor_ <= c ? active_.size() : 0;
  for (std::size_t i = 0; i < na; ++i) {
    const Request& r = active_[i];
    if (legal(r, c)) {
      out = {next_cmd(r), 0, i};
      p.found = true;
      return p;
    }
  }
  // (2) A due refresh, oldest first; until it can issue the queues wait.
  if (!refresh_.empty()) {
    const RefreshReq& f = refresh_.front();
    const Cmd cmd = refresh_cmd(f);
    const int bg = f.bank < 0 ? 0 : (f.bank % banks_per_rank_) / banks_per_bg_;
    if (earliest(cmd, f.rank, bg, std::max(f.bank, 0)) > c) return p;
    out = {cmd, 1, 0};
    p.found = true;
  }
  // (3) The read queue, or the write queue while draining writes.
  if (!p.found) {
    p.sets_mode = true;
    p.write_mode = next_write_mode();
    const bool w = p.write_mode;
    const RequestQueue& q = w ? writes_ : reads_;
    const bool fcfs = cfg_.ctrl.scheduler == Scheduler::fcfs;
    // No activated request is legal here, so a queued one is only if some waiting request of
    // the kind is: when the cached minima say none is, skip the scan (the cycles a legal
    // request of the other queue holds the engine at).
    const bool none = !fcfs && !next_event_stale_ && waiting_[w] > c;
    const std::size_t n = fcfs ? std::min<std::size_t>(1, q.size()) : none ? 0 : q.size();
    i64 next = kNever;
    std::size_t i = 0;
    if (ahead) {
      for (; i < n; ++i) {
        const i64 t = legal_from(q[i]);
        if (t <= c) break;
        next = std::min(next, t);
      }
      p.scanned = i == n && !fcfs && !none;
      p.queue_next = next;
    } else {
      while (i < n && !legal(q[i], c))
        ++i;
    }
    if (i < n) {
      out = {next_cmd(q[i]), w ? 3 : 2, i};
      p.found = true;
    }
  }
  if (!p.found) return p;
  // A precharge must not close a row an activated request is about to use.
  if (out.where != 0) {
    int rank = 0, bank = 0;
    if (out.where == 1) {
      rank = refresh_.front().rank;
      bank = refresh_.front().bank;
    } else {
      const Request& r = (out.where == 2 ? reads_ : writes_)[out.index];
      rank = r.rank;
      bank = r.bank;
    }
    if (blocks_activated(out.cmd, rank, bank)) {
      p.found = false;
      p.blocked = true;
    }
  }
  return p;
}

void Channel::apply_timing(Cmd cmd, int rank, int bg, int bank, i64 c) {
  const auto& reach = raises_[int(cmd)];
  auto raise = [&](Node& n, RuleSet::Reach to) {
    for (const Raise& r : reach[to]) {
      i64& x = n.ready[r.to];
      x = std::max(x, c + r.latency);
    }
  };
  if (bank >= 0) {
    raise(banks_[std::size_t(bank)].t, RuleSet::bank);
    mark_bank(rank, bank);
  }
  if (bg >= 0) {
    raise(groups_[std::size_t(rank * bgs_ + bg)], RuleSet::bank_group);
    mark_stale(rank, rank * bgs_ + bg);
  }
  raise(ranks_[std::size_t(rank)].t, RuleSet::own_rank);
  if (!reach[RuleSet::other_ranks].empty())
    for (int k = 0; k < int(ranks_.size()); ++k)
      if (k != rank) raise(ranks_[std::size_t(k)].t, RuleSet::other_ranks);
  if (cmd == Cmd::ACT && rules_.faw > 0) {
    RankState& rk = ranks_[std::size_t(rank)];
    rk.acts[std::size_t(rk.nacts % 4)] = c;
    ++rk.nacts;
    // The fifth ACT waits nFAW after the first of the four before it.
    if (rk.nacts >= 4) {
      i64& x = rk.t.ready[int(Cmd::ACT)];
      x = std::max(x, rk.acts[std::size_t(rk.nacts % 4)] + rules_.faw);
    }
  }
}

void Channel::open_bank(int rank, int bank, i64 row, i64 c) {
  RankState& rk = ranks_[std::size_t(rank)];
  if (rk.open_banks++ == 0) rk.open_since = c;
  BankState& b = banks_[std::size_t(bank)];
  b.open_row = row;
  const BankState::RowWant* x = b.find(row);
  b.hits = x ? x->n : std::array<int, 2>{0, 0};
  mark_bank(rank, bank);
}

void Channel::close_bank(int rank, int bank, i64 c) {
  BankState& b = banks_[std::size_t(bank)];
  if (b.open_row < 0) return;
  QACCEL_ASSERT(b.activated == 0, "a row closes under an activated request");
  b.open_row = -1;
  b.hits = {0, 0};
  mark_bank(rank, bank);
  RankState& rk = ranks_[std::size_t(rank)];
  if (--rk.open_banks == 0) stats_.active_rank_cycles += c - rk.open_since;
}

void Channel::issue(const Choice& ch, i64 c) {
  const Cmd cmd = ch.cmd;
  ++stats_.commands[std::size_t(cmd)];
  if (ch.where == 1) {
    const RefreshReq f = refresh_.front();
    const int bg = f.bank < 0 ? -1 : (f.bank % banks_per_rank_) / banks_per_bg_;
    apply_timing(cmd, f.rank, bg, f.bank, c);
    if (record_) log_.push_back({c, cmd, f.rank, bg, f.bank, -1});
    if (cmd == Cmd::PREA) {
      const int b0 = f.rank * banks_per_rank_;
      for (int b = b0; b < b0 + banks_per_rank_; ++b)
        close_bank(f.rank, b, c);
    } else if (cmd == Cmd::PRE) {
      close_bank(f.rank, f.bank, c);
    } else {
      refresh_.erase(refresh_.begin());  // REFab / REFpb: done
    }
    return;
  }
  RequestQueue& q = ch.where == 0 ? active_ : ch.where == 2 ? reads_ : writes_;
  Request& r = q[ch.index];
  apply_timing(cmd, r.rank, r.bank_group, r.bank, c);
  if (record_) log_.push_back({c, cmd, r.rank, r.bank_group, r.bank, cmd == Cmd::PRE ? -1 : r.row});
  if (!r.counted) {
    r.counted = true;
    stats_.queue_latency_cycles += c - r.arrive;
    if (is_column(cmd))
      ++stats_.row_hits;
    else if (cmd == Cmd::ACT)
      ++stats_.row_misses;
    else
      ++stats_.row_conflicts;
  }
  switch (cmd) {
    case Cmd::ACT:
      if (r.all_bank_act && rules_.faw > 0) {
        // AiM's ACTAB opens every bank: hold off the next ACT for its four-activate windows.
        i64& next = ranks_[std::size_t(r.rank)].t.ready[int(Cmd::ACT)];
        next = std::max(next, c + i64(banks_per_rank_ / 4) * rules_.faw);
        invalidate_all();
      }
      active_.push_back(r);
      ++banks_[std::size_t(r.bank)].activated;
      ++ranks_[std::size_t(r.rank)].activated;
      ++activated_[r.write];
      q.erase(ch.index);
      open_bank(active_.back().rank, active_.back().bank, active_.back().row, c);
      active_floor_ = std::min(active_floor_, column_ready(active_.back()));
      return;
    case Cmd::PRE:
      close_bank(r.rank, r.bank, c);
      return;
    default:
      break;
  }
  QACCEL_ASSERT(is_column(cmd), "unexpected request command");
  const Request served = r;  // leaves its queue now
  q.erase(ch.index);
  if (ch.where == 0) {
    --banks_[std::size_t(served.bank)].activated;
    --ranks_[std::size_t(served.rank)].activated;
    --activated_[served.write];
    active_floor_ = kNever;
    for (const Request& a : active_)
      active_floor_ = std::min(active_floor_, column_ready(a));
  }
  BankState& b = banks_[std::size_t(served.bank)];
  --b.waiting[served.write];
  if (b.waiting[0] + b.waiting[1] == 0) waiting_banks_ &= ~(std::uint64_t(1) << (served.bank & 63));
  --b.hits[served.write];
  BankState::RowWant* x = b.find(served.row);
  if (--x->n[served.write] == 0 && x->n[!served.write] == 0) {
    *x = b.rows.back();
    b.rows.pop_back();
  }
  mark_bank(served.rank, served.bank);
  if (cmd == Cmd::RDA || cmd == Cmd::WRA) close_bank(served.rank, served.bank, c);
  if (served.write) {
    ++stats_.writes;
    done_.push_back({served.id, true, c, c + cfg_.timing.nCWL + cfg_.timing.nBL});
  } else {
    ++stats_.reads;
    const i64 done = c + rules_.read_latency;
    stats_.read_latency_cycles += done - served.arrive;
    done_.push_back({served.id, false, c, done});
  }
}

void Channel::step_to(i64 c) {
  QACCEL_ASSERT(c > now_, "DRAM time runs backwards");
  now_ = c;
  if (c >= next_refresh_) {
    const int ranks = int(ranks_.size());
    for (int k = 0; k < ranks; ++k)
      refresh_.push_back(
          {k, cfg_.ctrl.refresh == Refresh::per_bank ? k * banks_per_rank_ + refresh_bank_ : -1});
    refresh_bank_ = (refresh_bank_ + 1) % banks_per_rank_;
    next_refresh_ += refresh_interval_;
    next_event_stale_ = true;
    ahead_cycle_ = -1;
  }
  const Pick p = ahead_cycle_ == c ? ahead_ : pick(c);
  ahead_cycle_ = -1;
  hold_ = kHoldNone;
  hold_at_ = -1;
  write_mode_ = p.sets_mode ? p.write_mode : write_mode_;
  if (p.found) {
    issue(p.ch, c);
    next_event_stale_ = true;
    return;
  }
  // next_event_ may rest on the write mode (see update_next_event).
  if (event_mode_ != kBothModes && event_mode_ != int(write_mode_)) next_event_stale_ = true;
  if (!p.blocked) {
    // The write mode was just set from this state: a step before it changes sets it again
    // (the watermarks' low < high; checked here all the same).
    if (!p.sets_mode)
      hold_ = kHoldRefresh;
    else if (next_write_mode() == write_mode_)
      hold_ = write_mode_;
  }
}

i64 Channel::hold_event() const {
  i64 e = next_refresh_;
  auto consider = [&](const Request& r) {
    e = std::min(e, earliest(ready_cmd(r), r.rank, r.bank_group, r.bank));
  };
  for (const Request& r : active_)
    consider(r);
  if (hold_ == kHoldRefresh) {
    const RefreshReq& f = refresh_.front();
    const int bg = f.bank < 0 ? 0 : (f.bank % banks_per_rank_) / banks_per_bg_;
    e = std::min(e, earliest(refresh_cmd(f), f.rank, bg, std::max(f.bank, 0)));
  } else if (cfg_.ctrl.scheduler == Scheduler::fcfs) {
    const RequestQueue& q = hold_ ? writes_ : reads_;
    if (!q.empty()) consider(q.front());
  } else {
    if (next_event_stale_) update_next_event();
    e = std::min(e, waiting_[hold_]);  // activated requests of the kind included
  }
  return e;
}

void Channel::update_group_min(int group) const {
  const std::size_t first = std::size_t(group * banks_per_bg_);
  const BankState* b0 = &banks_[first];
  WaitMin* want = &want_[first];
  std::uint32_t& dirty = dirty_banks_[std::size_t(group)];
  for (std::uint32_t d = dirty; d; d &= d - 1) {
    const BankState& bk = b0[std::countr_zero(d)];
    WaitMin& bw = want[std::countr_zero(d)];
    const bool open = bk.open_row >= 0;  // misses wait for PRE, else for ACT
    const i64 miss_act = either(open, kNever, bk.t.ready[int(Cmd::ACT)]);
    const i64 miss_pre = either(open, bk.t.ready[int(Cmd::PRE)], kNever);
    for (int w = 0; w < 2; ++w) {
      const bool miss = bk.waiting[w] > bk.hits[w];
      bw[3 * w] = either(miss, miss_act, kNever);
      bw[3 * w + 1] = either(miss, miss_pre, kNever);
      bw[3 * w + 2] = either(bk.hits[w] > 0, bk.t.ready[int(w ? Cmd::WR : Cmd::RD)], kNever);
    }
  }
  dirty = 0;
  WaitMin m = want[0];
  for (int j = 1; j < banks_per_bg_; ++j)
    for (int i = 0; i < 6; ++i)
      m[i] = std::min(m[i], want[j][i]);
  const Node& g = groups_[std::size_t(group)];
  for (int i = 0; i < 6; ++i)
    m[i] = std::max(m[i], g.ready[int(kWaitCmds[i])]);
  group_min_[std::size_t(group)] = m;
}

void Channel::update_rank_min(int rank) const {
  RankMin& rm = rank_min_[std::size_t(rank)];
  for (std::uint32_t s = rm.stale_groups; s; s &= s - 1)
    update_group_min(rank * bgs_ + std::countr_zero(s));
  rm.stale_groups = 0;
  WaitMin at;
  at.fill(kNever);
  for (int g = rank * bgs_; g < (rank + 1) * bgs_; ++g)
    for (int i = 0; i < 6; ++i)
      at[i] = std::min(at[i], group_min_[std::size_t(g)][i]);
  rm.at = at;
}

void Channel::update_next_event() const {
  i64 e = next_refresh_;
  if (cfg_.ctrl.scheduler == Scheduler::fcfs) {
    auto consider = [&](const Request& r) {
      e = std::min(e, earliest(ready_cmd(r), r.rank, r.bank_group, r.bank));
    };
    for (const Request& r : active_)
      consider(r);
    if (!reads_.empty()) consider(reads_.front());
    if (!writes_.empty()) consider(writes_.front());
  } else {
    // FR-FCFS considers every waiting request: the minimum over them of max(rank, group, bank
    // readiness) is max(rank, min over groups of max(group, min over banks of bank readiness)).
    waiting_ = {kNever, kNever};
    std::uint64_t more = waiting_banks_;  // the banks past the first kDirectBanks
    for (int i = 0; i < kDirectBanks; ++i)
      more &= more - 1;
    if (direct_ok_ && more == 0) {
      // The same minimum, bank by bank (max distributes over min).
      for (std::uint64_t m = waiting_banks_; m; m &= m - 1) {
        const BankState& b = banks_[std::size_t(std::countr_zero(m))];
        const Node& g = groups_[std::size_t(b.group)];
        const Node& rk = ranks_[std::size_t(std::countr_zero(m) / banks_per_rank_)].t;
        auto at = [&](Cmd c) {
          return std::max({b.t.ready[int(c)], g.ready[int(c)], rk.ready[int(c)]});
        };
        // Branches: with few banks waiting they predict well and skip the unused commands.
        const Cmd miss = b.open_row >= 0 ? Cmd::PRE : Cmd::ACT;
        for (int w = 0; w < 2; ++w) {
          if (b.waiting[w] > b.hits[w]) waiting_[w] = std::min(waiting_[w], at(miss));
          if (b.hits[w] > 0) waiting_[w] = std::min(waiting_[w], at(w ? Cmd::WR : Cmd::RD));
        }
      }
    } else {
      for (int k = 0; k < int(ranks_.size()); ++k) {
        if (rank_min_[std::size_t(k)].stale_groups) update_rank_min(k);
        const std::array<i64, 6>& at = rank_min_[std::size_t(k)].at;
        const Node& rk = ranks_[std::size_t(k)].t;
        for (int i = 0; i < 6; ++i)
          waiting_[i / 3] = std::min(waiting_[i / 3], std::max(at[i], rk.ready[int(kWaitCmds[i])]));
      }
    }
    const int w = write_mode_;
    event_mode_ = kBothModes;
    if (waiting_[!w] < std::min(e, waiting_[w]) && refresh_.empty() &&
        next_write_mode() == write_mode_) {
      // The other queue would bring the event forward, but a step now keeps the write mode and
      // looks at its queue only: until one of that queue or an activated request can take its
      // command (or a refresh falls due), steps would change nothing.
      event_mode_ = w;
      e = std::min(e, waiting_[w]);  // activated requests of the kind included
      if (activated_[!w])
        for (const Request& r : active_)
          if (r.write != write_mode_)
            e = std::min(e, earliest(ready_cmd(r), r.rank, r.bank_group, r.bank));
    } else {
      e = std::min({e, waiting_[0], waiting_[1]});
    }
  }
  if (!refresh_.empty()) {
    const RefreshReq& f = refresh_.front();
    const int bg = f.bank < 0 ? 0 : (f.bank % banks_per_rank_) / banks_per_bg_;
    e = std::min(e, earliest(refresh_cmd(f), f.rank, bg, std::max(f.bank, 0)));
  }
  next_event_ = e;
  next_event_stale_ = false;
}

i64 Channel::next_event_after_scan() const {
  // A step at now + 1 keeps the write mode: the next event is the first cycle one of the
  // queue the look-ahead scanned or an activated request can act, or a refresh falls due (as
  // in update_next_event, without the minimum over every waiting request). The other
  // queue's minimum is not known: 0 stands for it (it is not read while the mode stays).
  const int w = write_mode_;
  waiting_ = {0, 0};
  waiting_[w] = ahead_.queue_next;
  i64 e = next_refresh_;
  for (const Request& r : active_) {
    const i64 t = earliest(ready_cmd(r), r.rank, r.bank_group, r.bank);
    e = std::min(e, t);
    if (r.write == write_mode_) waiting_[w] = std::min(waiting_[w], t);
  }
  next_event_ = std::min(e, waiting_[w]);
  event_mode_ = w;
  next_event_stale_ = false;
  return next_event_ >= kNever ? kNever : std::max(next_event_, now_ + 1);
}

i64 Channel::next_event() const {
  if (hold_ != kHoldNone) {
    if (hold_at_ < 0) hold_at_ = hold_event();
    if (hold_at_ < kNever) return std::max(hold_at_, now_ + 1);
  }
  // A busy channel issues on most cycles: while it does, the pick for the next cycle, made
  // here and used by that step, settles the question without the minimum over every waiting
  // request. Otherwise (a pick that finds nothing costs more than the minimum, though its scan
  // then gives the next event, see next_event_after_scan) the minimum comes first. Either way
  // gives the same answer. (The score weighs a next cycle without a command as two with one:
  // fewest instructions on HBM2/HBM3 random traffic, about even on DDR4.)
  auto score = [&](bool next_cycle) {
    busy_score_ = next_cycle ? std::min(busy_score_ + 1, 16) : std::max(busy_score_ - 2, 0);
  };
  if (next_event_stale_ && ahead_cycle_ != now_ + 1 && busy_score_ >= 6) {
    ahead_ = pick(now_ + 1, true);
    ahead_cycle_ = now_ + 1;
    score(ahead_.found);
    if (ahead_.scanned && !ahead_.blocked && ahead_.write_mode == write_mode_)
      return next_event_after_scan();
  }
  if (ahead_cycle_ == now_ + 1 && ahead_.found) return now_ + 1;
  if (next_event_stale_) {
    update_next_event();
    if (ahead_cycle_ != now_ + 1) score(next_event_ <= now_ + 1);
  }
  const i64 e = next_event_;
  if (e >= kNever) return kNever;
  // Something legal now but held back (a precharge behind an activated request, the other
  // queue's mode) is retried on the next cycle.
  return std::max(e, now_ + 1);
}

i64 Channel::skip_idle_refreshes(i64 c) {
  if (busy() || !refresh_.empty() || refresh_interval_ <= 0 || next_refresh_ > c) return 0;
  for (const RankState& r : ranks_)
    if (r.open_banks) return 0;
  const i64 k = (c - next_refresh_) / refresh_interval_;  // refreshes due before the last one
  if (k <= 0) return 0;
  const Cmd ref = cfg_.ctrl.refresh == Refresh::per_bank ? Cmd::REFpb : Cmd::REFab;
  stats_.commands[std::size_t(ref)] += k * i64(ranks_.size());
  refresh_bank_ = int((refresh_bank_ + k) % banks_per_rank_);
  next_refresh_ += k * refresh_interval_;
  now_ = std::max(now_, next_refresh_ - 1);
  invalidate_all();
  return k;
}

i64 Channel::hold_end(i64 start, i64 cycles) const {
  i64 end = start + cycles;
  if (refresh_interval_ <= 0) return end;
  // Each refresh due meanwhile: a precharge (all-bank before REFab) and the refresh itself.
  const Timing& t = cfg_.timing;
  const i64 stall = cfg_.ctrl.refresh == Refresh::per_bank ? t.nRFCpb + t.nRP : t.nRFC + t.rp_all();
  end += i64(refresh_.size() / std::max<std::size_t>(1, ranks_.size())) * stall;  // due already
  for (i64 due = next_refresh_; due <= end; due += refresh_interval_)
    end += stall;
  return end;
}

void Channel::hold_until(i64 c) {
  QACCEL_ASSERT(!busy() && c >= now_, "a PIM hold over queued requests");
  for (std::size_t b = 0; b < banks_.size(); ++b)
    close_bank(int(b) / banks_per_rank_, int(b), now_);
  auto floor_at = [c](Node& n) {
    for (i64& x : n.ready)
      x = std::max(x, c);
  };
  for (BankState& b : banks_)
    floor_at(b.t);
  for (Node& g : groups_)
    floor_at(g);
  for (RankState& r : ranks_)
    floor_at(r.t);
  const Cmd ref = cfg_.ctrl.refresh == Refresh::per_bank ? Cmd::REFpb : Cmd::REFab;
  stats_.commands[std::size_t(ref)] += i64(refresh_.size());
  refresh_.clear();
  if (refresh_interval_ > 0)
    for (; next_refresh_ <= c; next_refresh_ += refresh_interval_)
      stats_.commands[std::size_t(ref)] += i64(ranks_.size());
  now_ = c;
  invalidate_all();
}

void Channel::finish() {
  for (RankState& rk : ranks_)
    if (rk.open_banks) {
      stats_.active_rank_cycles += now_ - rk.open_since;
      rk.open_since = now_;
    }
}

}  // namespace qaccel::dram
