#include "arch/dram/checker.hpp"

#include <algorithm>
#include <deque>

namespace qaccel::dram {

namespace {

// The smallest legal distance from `p` to the later command `x` (0: unconstrained).
int gap(const DramConfig& cfg, const IssuedCmd& p, const IssuedCmd& x) {
  const Timing& t = cfg.timing;
  const bool same_rank = p.rank == x.rank;
  const bool bank_cmd_p = p.bank >= 0, bank_cmd_x = x.bank >= 0;
  const bool same_bank = same_rank && bank_cmd_p && bank_cmd_x && p.bank == x.bank;
  const bool same_bg = same_rank && bank_cmd_p && bank_cmd_x && p.bank_group == x.bank_group;
  const Cmd a = p.cmd, b = x.cmd;
  const int wr_recovery = t.nCWL + t.nBL + t.nWR;
  int g = 0;
  auto need = [&](int v) { g = std::max(g, v); };

  if (is_column(a) && is_column(b)) {
    if (same_rank) {
      if (is_read(a) == is_read(b)) need(same_bg ? t.nCCDL : t.nCCDS);
      if (is_read(a) && is_write(b)) need(t.nCL + t.nBL + 2 - t.nCWL);
      if (is_write(a) && is_read(b)) need(t.nCWL + t.nBL + (same_bg ? t.nWTRL : t.nWTRS));
      if (is_read(a) == is_read(b)) need(t.nBL);  // the burst occupies the bus
    } else if (cfg.org.ranks > 1) {               // one data bus shared by the ranks
      if (is_read(a) == is_read(b)) need(t.nBL + t.nRTRS);
      if (is_read(a) && is_write(b)) need(t.nCL + t.nBL + 2 - t.nCWL + t.nRTRS);
      if (is_write(a) && is_read(b)) need(t.nCWL + t.nBL + t.nRTRS - t.nCL);
    }
  }
  // HBM row commands take two cycles of the channel's row bus.
  const bool hbm = cfg.standard == Standard::HBM2 || cfg.standard == Standard::HBM3;
  if (hbm && a == Cmd::ACT &&
      (b == Cmd::ACT || b == Cmd::PRE || b == Cmd::PREA || b == Cmd::REFab || b == Cmd::REFpb))
    need(2);
  if (!same_rank) return g;
  switch (a) {
    case Cmd::ACT:
      if (b == Cmd::ACT) need(same_bank ? t.nRC : same_bg ? t.nRRDL : t.nRRDS);
      if (same_bank && is_read(b)) need(t.nRCD);
      if (same_bank && is_write(b)) need(t.nRCDWR);
      if (same_bank && b == Cmd::PRE) need(t.nRAS);
      if (b == Cmd::REFpb) need(t.nRRDS);
      if (b == Cmd::REFab) need(t.nRC);
      break;
    case Cmd::RD:
      if (same_bank && b == Cmd::PRE) need(t.nRTP);
      break;
    case Cmd::WR:
      if (same_bank && b == Cmd::PRE) need(wr_recovery);
      break;
    case Cmd::RDA:
    case Cmd::WRA: {
      const int closed = (a == Cmd::RDA ? t.nRTP : wr_recovery) + t.nRP;
      if ((same_bank && (b == Cmd::ACT || b == Cmd::REFpb)) || b == Cmd::REFab) need(closed);
      break;
    }
    case Cmd::PRE:
      if ((same_bank && (b == Cmd::ACT || b == Cmd::REFpb)) || b == Cmd::REFab) need(t.nRP);
      if (b == Cmd::PRE || b == Cmd::PREA) need(t.nPPD);
      break;
    case Cmd::PREA:
      if (b == Cmd::ACT || b == Cmd::REFab || b == Cmd::REFpb) need(t.nRPab ? t.nRPab : t.nRP);
      if (b == Cmd::PRE || b == Cmd::PREA) need(t.nPPD);
      break;
    case Cmd::REFab:
      if (b == Cmd::ACT || b == Cmd::PREA || b == Cmd::REFab || b == Cmd::REFpb) need(t.nRFC);
      break;
    case Cmd::REFpb:
      if (b == Cmd::ACT || b == Cmd::REFpb) need(same_bank ? t.nRFCpb : t.nRREFD);
      break;
  }
  return g;
}

struct BankTrack {
  i64 row = -1;
  i64 act = 0, last_rd = -1, last_wr = -1;  // since the row opened
};

}  // namespace

std::vector<std::string> check_commands(const DramConfig& cfg, const std::vector<IssuedCmd>& cmds,
                                        std::size_t max_errors) {
  const Timing& t = cfg.timing;
  const int banks_per_rank = cfg.org.banks_per_rank();
  std::vector<BankTrack> banks(std::size_t(cfg.org.banks_per_channel()));
  std::vector<std::deque<i64>> acts(std::size_t(cfg.org.ranks_per_channel()));
  const int window =
      std::max({t.nRFC, t.nRC, t.nRFCpb, t.nFAW, t.nRPab, t.nPPD, t.nCWL + t.nBL + t.nWR + t.nRP,
                t.nRTP + t.nRP, t.nCWL + t.nBL + t.nWTRL, t.nCL + t.nBL + 2 + t.nRTRS}) +
      1;
  std::deque<IssuedCmd> recent;
  std::vector<std::string> errors;
  auto report = [&](const IssuedCmd& x, const std::string& msg) {
    if (errors.size() < max_errors)
      errors.push_back("cycle " + std::to_string(x.cycle) + ": " + cmd_name(x.cmd) + " rank " +
                       std::to_string(x.rank) + " bank " + std::to_string(x.bank) + ": " + msg);
  };
  i64 last_cycle = -1;
  for (const IssuedCmd& x : cmds) {
    if (x.cycle <= last_cycle) report(x, "not after the previous command (one per cycle)");
    last_cycle = x.cycle;
    while (!recent.empty() && recent.front().cycle + window < x.cycle)
      recent.pop_front();
    for (const IssuedCmd& p : recent) {
      const int g = gap(cfg, p, x);
      if (x.cycle - p.cycle < g)
        report(x, std::string("only ") + std::to_string(x.cycle - p.cycle) + " cycles after " +
                      cmd_name(p.cmd) + " (rank " + std::to_string(p.rank) + " bank " +
                      std::to_string(p.bank) + ") at " + std::to_string(p.cycle) + ", needs " +
                      std::to_string(g));
    }
    // Bank state.
    const std::size_t b0 = std::size_t(x.rank * banks_per_rank);
    auto each_bank = [&](auto f) {
      for (std::size_t b = b0; b < b0 + std::size_t(banks_per_rank); ++b)
        f(banks[b]);
    };
    BankTrack* bk = x.bank >= 0 ? &banks[std::size_t(x.bank)] : nullptr;
    switch (x.cmd) {
      case Cmd::ACT: {
        if (bk->row >= 0) report(x, "activate to an open bank");
        std::deque<i64>& a = acts[std::size_t(x.rank)];
        while (!a.empty() && a.front() + t.nFAW <= x.cycle)
          a.pop_front();
        if (t.nFAW > 0 && a.size() >= 4) report(x, "a fifth activate within nFAW");
        a.push_back(x.cycle);
        *bk = {x.row, x.cycle, -1, -1};
        break;
      }
      case Cmd::PRE:
        if (bk->row < 0) report(x, "precharge of a closed bank");
        bk->row = -1;
        break;
      case Cmd::PREA:
        each_bank([&](BankTrack& b) {
          if (b.row < 0) return;
          if (x.cycle - b.act < t.nRAS) report(x, "closes a row younger than nRAS");
          if (b.last_rd >= 0 && x.cycle - b.last_rd < t.nRTP) report(x, "within nRTP of a read");
          if (b.last_wr >= 0 && x.cycle - b.last_wr < t.nCWL + t.nBL + t.nWR)
            report(x, "within write recovery of a write");
          b.row = -1;
        });
        break;
      case Cmd::RD:
      case Cmd::RDA:
      case Cmd::WR:
      case Cmd::WRA:
        if (bk->row < 0 || bk->row != x.row) report(x, "column access to a row that is not open");
        (is_read(x.cmd) ? bk->last_rd : bk->last_wr) = x.cycle;
        if (x.cmd == Cmd::RDA || x.cmd == Cmd::WRA) bk->row = -1;
        break;
      case Cmd::REFab:
        each_bank([&](BankTrack& b) {
          if (b.row >= 0) report(x, "refresh with a bank open");
        });
        break;
      case Cmd::REFpb:
        if (bk->row >= 0) report(x, "per-bank refresh of an open bank");
        break;
    }
    recent.push_back(x);
  }
  return errors;
}

}  // namespace qaccel::dram
