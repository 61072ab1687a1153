#pragma once
// DRAM commands and the timing rules between them, as data: "after `from` at some scope,
// `to` may not issue for `latency` cycles". The controller applies them incrementally (each
// issued command raises the earliest cycle of the commands it constrains); the checker
// (checker.hpp) encodes the same JEDEC relations independently, pair by pair.
#include <cstdint>
#include <vector>

#include "arch/dram/spec.hpp"

namespace qaccel::dram {

enum class Cmd : std::uint8_t { ACT, PRE, PREA, RD, WR, RDA, WRA, REFab, REFpb };
constexpr int kCmds = 9;
const char* cmd_name(Cmd c);
inline bool is_read(Cmd c) {
  return c == Cmd::RD || c == Cmd::RDA;
}
inline bool is_write(Cmd c) {
  return c == Cmd::WR || c == Cmd::WRA;
}
inline bool is_column(Cmd c) {
  return is_read(c) || is_write(c);
}
// Rank-wide commands (no bank in their address).
inline bool is_rank_cmd(Cmd c) {
  return c == Cmd::PREA || c == Cmd::REFab;
}

// Where a rule reaches, seen from the command that set it.
enum class Scope : std::uint8_t {
  bank,         // the same bank
  bank_group,   // every bank of the same bank group (and rank)
  rank,         // every bank of the same rank
  other_ranks,  // every other rank sharing the data bus (ranks; not HBM pseudo-channels)
  bus,          // every rank on the same data bus, this one included
  channel,      // every rank and pseudo-channel of the channel (its command bus)
};

struct Rule {
  Scope scope;
  Cmd from, to;
  int latency;
};

struct RuleSet {
  // Every rule that constrains RD constrains RDA alike, and WR and WRA (make_rules checks).
  std::vector<Rule> rules;
  int faw = 0;  // at most four ACTs per rank within nFAW
  // For the controller, per `from` command and the nodes it reaches (its bank, its bank group,
  // its rank, the other ranks: Reach), each `to` with its longest latency; RDA and WRA are
  // left out (RD's and WR's readiness stands for theirs).
  enum Reach { bank, bank_group, own_rank, other_ranks, kReaches };
  struct Raise {
    Cmd to;
    int latency;
  };
  std::vector<Raise> raises[kCmds][kReaches];
  int read_latency = 0;  // RD issue to last data: nCL + nBL
  int max_latency = 0;   // the longest rule (the checker's look-back)
};

// The rules of a configuration (its standard's relations with its timing values).
RuleSet make_rules(const DramConfig& c);

}  // namespace qaccel::dram
