#include "arch/dram/rules.hpp"

#include <algorithm>

#include "sim/base/error.hpp"

namespace qaccel::dram {

const char* cmd_name(Cmd c) {
  static const char* n[kCmds] = {"ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb"};
  return n[int(c)];
}

RuleSet make_rules(const DramConfig& cfg) {
  const Timing& t = cfg.timing;
  RuleSet s;
  auto add = [&](Scope sc, std::initializer_list<Cmd> from, std::initializer_list<Cmd> to,
                 int lat) {
    if (lat <= 0) return;
    for (Cmd f : from)
      for (Cmd g : to)
        s.rules.push_back({sc, f, g, lat});
  };
  using enum Cmd;
  using enum Scope;
  const auto RDs = {RD, RDA}, WRs = {WR, WRA};
  const auto COL = {RD, RDA, WR, WRA};
  // Read-to-write bus turnaround: the read's data must clear the bus (+2 cycles of preamble
  // and turnaround, as DDR4/HBM controllers count it) before the write's data starts.
  const int rtw = t.nCL + t.nBL + 2 - t.nCWL;
  const int wtr_s = t.nCWL + t.nBL + t.nWTRS, wtr_l = t.nCWL + t.nBL + t.nWTRL;
  const int wr_to_pre = t.nCWL + t.nBL + t.nWR;

  // The data bus carries one burst at a time.
  add(bus, RDs, RDs, t.nBL);
  add(bus, WRs, WRs, t.nBL);
  // Column commands within a rank: CAS-to-CAS by bank group, turnarounds.
  add(rank, RDs, RDs, t.nCCDS);
  add(bank_group, RDs, RDs, t.nCCDL);
  add(rank, WRs, WRs, t.nCCDS);
  add(bank_group, WRs, WRs, t.nCCDL);
  add(rank, RDs, WRs, rtw);
  add(rank, WRs, RDs, wtr_s);
  add(bank_group, WRs, RDs, wtr_l);
  // Ranks sharing one data bus: a burst and the rank switch time between them.
  if (cfg.org.ranks > 1) {
    add(other_ranks, RDs, RDs, t.nBL + t.nRTRS);
    add(other_ranks, WRs, WRs, t.nBL + t.nRTRS);
    add(other_ranks, RDs, WRs, rtw + t.nRTRS);
    add(other_ranks, WRs, RDs, t.nCWL + t.nBL + t.nRTRS - t.nCL);
  }
  // Activates: row-to-row by bank group, nRC in the bank (nFAW is a window, below).
  add(rank, {ACT}, {ACT}, t.nRRDS);
  add(bank_group, {ACT}, {ACT}, t.nRRDL);
  add(bank, {ACT}, {ACT}, t.nRC);
  add(bank, {ACT}, {RD, RDA}, t.nRCD);
  add(bank, {ACT}, {WR, WRA}, t.nRCDWR);
  add(bank, {ACT}, {PRE}, t.nRAS);
  add(bank, {ACT}, {REFab}, t.nRC);
  add(bank, RDs, {PRE}, t.nRTP);
  add(bank, WRs, {PRE}, wr_to_pre);
  // Precharge (explicit or automatic) to the next activate or refresh.
  add(bank, {PRE}, {ACT, REFab, REFpb}, t.nRP);
  add(rank, {PREA}, {ACT, REFab, REFpb}, t.rp_all());
  add(rank, {PRE, PREA}, {PRE, PREA}, t.nPPD);
  add(bank, {RDA}, {ACT, REFab, REFpb}, t.nRTP + t.nRP);
  add(bank, {WRA}, {ACT, REFab, REFpb}, wr_to_pre + t.nRP);
  // HBM: an ACT holds the channel's row command bus for two cycles (both pseudo-channels).
  if (cfg.standard == Standard::HBM2 || cfg.standard == Standard::HBM3)
    add(channel, {ACT}, {ACT, PRE, PREA, REFab, REFpb}, 2);
  // Refresh.
  add(rank, {REFab}, {ACT, PREA, REFab, REFpb}, t.nRFC);
  add(bank, {REFpb}, {ACT, REFpb}, t.nRFCpb);
  add(rank, {REFpb}, {REFpb}, t.nRREFD);
  add(rank, {REFpb}, {ACT}, t.nRREFD);
  add(rank, {ACT}, {REFpb}, t.nRRDS);
  (void)COL;
  // The controller relies on RDA being exactly as ready as RD (and WRA as WR): it decides
  // whether to auto-precharge only once a column command is legal.
  auto partner = [](Cmd c) {
    return c == RD ? RDA : c == RDA ? RD : c == WR ? WRA : c == WRA ? WR : c;
  };
  for (const Rule& r : s.rules) {
    const bool paired = std::any_of(s.rules.begin(), s.rules.end(), [&](const Rule& o) {
      return o.scope == r.scope && o.from == r.from && o.to == partner(r.to) &&
             o.latency == r.latency;
    });
    QACCEL_ASSERT(paired, "a DRAM timing rule constrains RD and RDA (or WR and WRA) differently");
  }
  s.faw = t.nFAW;
  auto raise = [&](const Rule& r, RuleSet::Reach reach) {
    std::vector<RuleSet::Raise>& to = s.raises[int(r.from)][reach];
    auto it =
        std::find_if(to.begin(), to.end(), [&](const RuleSet::Raise& x) { return x.to == r.to; });
    if (it == to.end())
      to.push_back({r.to, r.latency});
    else
      it->latency = std::max(it->latency, r.latency);
  };
  for (const Rule& r : s.rules) {
    s.max_latency = std::max(s.max_latency, r.latency);
    if (r.to == RDA || r.to == WRA) continue;
    switch (r.scope) {
      case bank:
        raise(r, RuleSet::bank);
        break;
      case bank_group:
        raise(r, RuleSet::bank_group);
        break;
      case rank:
        raise(r, RuleSet::own_rank);
        break;
      case other_ranks:
        raise(r, RuleSet::other_ranks);
        break;
      case bus:  // ranks share the data bus; pseudo-channels (one rank each) do not
        raise(r, RuleSet::own_rank);
        if (cfg.org.ranks > 1) raise(r, RuleSet::other_ranks);
        break;
      case channel:  // the command bus: every rank and pseudo-channel
        raise(r, RuleSet::own_rank);
        raise(r, RuleSet::other_ranks);
        break;
    }
  }
  s.max_latency = std::max(s.max_latency, s.faw);
  s.read_latency = t.nCL + t.nBL;
  return s;
}

}  // namespace qaccel::dram
