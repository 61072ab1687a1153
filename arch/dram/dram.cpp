#include "arch/dram/dram.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "sim/base/error.hpp"
#include "workloads/rng.hpp"

namespace qaccel::dram {

namespace {

bool parse_u64(const std::string& s, std::uint64_t& v) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    b += 2;
    base = 16;
  }
  auto [p, ec] = std::from_chars(b, e, v, base);
  return ec == std::errc() && p == e;
}

std::string shown(const std::string& line) {
  std::string s;
  for (char ch : line.substr(0, 80))
    s += (ch >= 32 && ch < 127) ? ch : '?';
  return s + (line.size() > 80 ? "..." : "");
}

}  // namespace

std::uint64_t splitmix64(std::uint64_t x) {
  return SplitMix64(x).next();
}

std::vector<TraceEntry> read_trace(std::istream& in, const std::string& name,
                                   std::uint64_t capacity) {
  std::vector<TraceEntry> out;
  std::string line;
  i64 lineno = 0, last_cycle = -1;
  constexpr std::size_t kMaxLine = 4096;
  auto fail = [&](const std::string& why) {
    throw ConfigError(name + ":" + std::to_string(lineno) + ": " + why + ": '" + shown(line) +
                      "' (expected `LD <addr>`, `ST <addr>` or `<cycle> R|W <addr>`)");
  };
  // getline into a fixed buffer: a file without line breaks (or an endless stream) is refused
  // after one overlong line instead of being read whole into memory first.
  std::vector<char> buf(kMaxLine + 2);
  for (;;) {
    in.getline(buf.data(), std::streamsize(buf.size()));
    const std::size_t n = std::size_t(in.gcount());
    if (in.bad() || (in.fail() && in.eof() && n == 0)) break;
    ++lineno;
    const bool delimited = !in.fail() && !in.eof();  // the '\n' was extracted too
    line.assign(buf.data(), delimited ? n - 1 : n);
    if (in.fail()) {  // the buffer filled up before the line ended
      line.resize(kMaxLine);
      fail("line longer than 4096 characters");
    }
    if (line.size() > kMaxLine) fail("line longer than 4096 characters");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t hash = line.find('#');
    std::istringstream ls(hash == std::string::npos ? line : line.substr(0, hash));
    std::vector<std::string> tok;
    std::string t;
    while (ls >> t && tok.size() < 4)
      tok.push_back(t);
    if (tok.empty()) continue;
    TraceEntry e;
    std::string addr;
    if (tok.size() == 2 && (tok[0] == "LD" || tok[0] == "ST")) {
      e.write = tok[0] == "ST";
      addr = tok[1];
    } else if (tok.size() == 3 && (tok[1] == "R" || tok[1] == "W")) {
      std::uint64_t cyc = 0;
      if (!parse_u64(tok[0], cyc) || cyc > (std::uint64_t(1) << 60)) fail("bad cycle");
      e.cycle = i64(cyc);
      if (e.cycle < last_cycle)
        fail("cycle goes backwards (previous request at " + std::to_string(last_cycle) + ")");
      last_cycle = e.cycle;
      e.write = tok[1] == "W";
      addr = tok[2];
    } else {
      fail("not a trace line");
    }
    if (!parse_u64(addr, e.addr)) fail("bad address");
    if (e.addr >= capacity)
      fail("address " + addr + " is beyond the capacity of " + std::to_string(capacity) + " bytes");
    out.push_back(e);
  }
  if (in.bad()) throw ConfigError(name + ": read error");
  if (out.empty()) throw ConfigError(name + ": no requests in the trace");
  return out;
}

std::vector<TraceEntry> synthetic_trace(const std::string& kind, i64 n, i64 tx,
                                        std::uint64_t capacity, std::uint64_t seed) {
  if (kind != "stream" && kind != "random" && kind != "mixed")
    throw ConfigError("unknown synthetic trace '" + kind + "' (known: stream, random, mixed)");
  const std::uint64_t slots = capacity / std::uint64_t(tx);
  std::vector<TraceEntry> out(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) {
    TraceEntry& e = out[std::size_t(i)];
    if (kind == "stream") {
      e.addr = (std::uint64_t(i) % slots) * std::uint64_t(tx);
    } else {
      e.addr = (splitmix64((seed << 32) + std::uint64_t(i)) % slots) * std::uint64_t(tx);
      e.write = kind == "mixed" && i % 3 == 2;
    }
  }
  return out;
}

Dram::Dram(const DramConfig& cfg, bool record)
    : cfg_(cfg), rules_(make_rules(cfg_)), map_(cfg_.mapping, cfg_.org) {
  channels_.reserve(std::size_t(cfg_.org.channels));
  for (int k = 0; k < cfg_.org.channels; ++k)
    channels_.emplace_back(cfg_, rules_, record);
}

Request Dram::request(std::uint64_t addr, bool write, std::uint64_t id) const {
  return request(map_.decode(addr), addr, write, id);
}

Request Dram::request(const DramAddr& a, std::uint64_t addr, bool write, std::uint64_t id) const {
  Request r;
  r.addr = addr;
  r.id = id;
  r.write = write;
  r.rank = a.rank;
  r.bank_group = a.bank_group;
  r.bank = (a.rank * cfg_.org.bank_groups + a.bank_group) * cfg_.org.banks_per_group + a.bank;
  r.row = a.row;
  return r;
}

i64 Dram::advance(int k, i64 c) {
  Channel& ch = channels_[std::size_t(k)];
  i64 e = ch.next_event();
  for (; e <= c; e = ch.next_event()) {
    if (ch.skip_idle_refreshes(c) > 0) continue;
    ch.step_to(e);
  }
  return e;
}

Dram::TraceResult Dram::run_trace(const std::vector<TraceEntry>& trace, bool tick,
                                  const std::function<void(i64)>& progress) {
  TraceResult res;
  i64 end = 0;
  auto collect = [&](Channel& ch) {
    for (const Completion& d : ch.completions()) {
      end = std::max(end, d.write ? d.issue_cycle : d.done_cycle);
      ++(d.write ? res.writes : res.reads);
    }
    ch.completions().clear();
  };
  const std::size_t n = trace.size();
  std::size_t i = 0;
  // Request i and its channel, decoded once however often a full queue turns it back.
  Request req;
  int k = 0;
  std::size_t decoded = n;
  i64 c = 0;  // the front end's cycle: request i is offered at c, after the channels' step c
  auto step_all_to = [&](i64 x) {  // tick mode: every channel steps every cycle up to x
    while (c < x) {
      ++c;
      for (Channel& ch : channels_)
        ch.step_to(c);
    }
  };
  while (i < n) {
    const TraceEntry& t = trace[i];
    if (t.cycle > c) {
      if (tick)
        step_all_to(t.cycle);
      else
        c = t.cycle;
    }
    if (decoded != i) {
      const DramAddr a = map_.decode(t.addr);
      k = a.channel;
      req = request(a, t.addr, t.write, i);
      decoded = i;
    }
    Channel& ch = channels_[std::size_t(k)];
    const i64 after = tick ? 0 : advance(k, c);  // the channel's next event after c
    i64 next = c + 1;
    if (ch.has_room(t.write)) {
      ch.enqueue(req, c);
      collect(ch);
      ++i;
      if (progress && (i & 0xFFFF) == 0) progress(i64(i));
    } else {
      // Nothing frees a slot before the channel's next event.
      if (!tick) next = std::max(next, after);
      res.front_end_stall_cycles += next - c;
    }
    if (tick)
      step_all_to(next);
    else
      c = next;
  }
  // Drain: every channel runs until its queues are empty.
  for (int k = 0; k < channels(); ++k) {
    Channel& ch = channels_[std::size_t(k)];
    while (ch.busy()) {
      const i64 e = tick ? ch.now() + 1 : ch.next_event();
      QACCEL_ASSERT(e < kNever, "a DRAM channel holds requests but has no next event");
      ch.step_to(e);
    }
    collect(ch);
  }
  // Channels that stepped past the end (tick mode) or stopped early agree on `end`.
  res.cycles = end;
  return res;
}

i64 Dram::serve(std::uint64_t address, i64 bytes, bool write, i64 arrive) {
  const std::uint64_t tx = std::uint64_t(cfg_.org.tx_bytes);
  cursor_.assign(channels_.size(), -1);
  i64 done = arrive;
  auto collect = [&](Channel& ch) {
    for (const Completion& d : ch.completions())
      done = std::max(done, d.done_cycle);
    ch.completions().clear();
  };
  const std::uint64_t end = address + std::uint64_t(bytes);
  for (std::uint64_t a = address - address % tx; a < end; a += tx) {
    const DramAddr where = map_.decode(a);
    Channel& ch = channels_[std::size_t(where.channel)];
    i64& c = cursor_[std::size_t(where.channel)];
    if (c < 0) c = std::max(arrive, ch.now());
    advance(where.channel, c);
    while (!ch.has_room(write)) {
      c = std::max(c + 1, ch.next_event());
      advance(where.channel, c);
    }
    ch.enqueue(request(where, a, write, next_id_++), c);
    ++c;
    collect(ch);
  }
  for (std::size_t k = 0; k < channels_.size(); ++k) {
    if (cursor_[k] < 0) continue;
    Channel& ch = channels_[k];
    while (ch.busy())
      ch.step_to(ch.next_event());
    collect(ch);
  }
  return done;
}

i64 Dram::hold_all(i64 arrive, i64 cycles) {
  i64 start = arrive;
  for (int k = 0; k < channels(); ++k) {
    Channel& ch = channels_[std::size_t(k)];
    advance(k, arrive);  // what fell due before the kernel arrives happens first
    while (ch.busy())
      ch.step_to(ch.next_event());
    ch.completions().clear();
    start = std::max(start, ch.now());
  }
  i64 end = start + cycles;
  for (const Channel& ch : channels_)
    end = std::max(end, ch.hold_end(start, cycles));
  for (Channel& ch : channels_)
    ch.hold_until(end);
  return end;
}

DramTotals Dram::totals(i64 end) {
  DramTotals t;
  t.cycles = end;
  const CommandEnergy e = cfg_.command_energy();
  const int banks = cfg_.org.banks_per_rank();
  for (Channel& ch : channels_) {
    ch.finish();
    const ChannelStats& s = ch.stats();
    for (int c = 0; c < kCmds; ++c)
      t.sum.commands[std::size_t(c)] += s.commands[std::size_t(c)];
    t.sum.row_hits += s.row_hits;
    t.sum.row_misses += s.row_misses;
    t.sum.row_conflicts += s.row_conflicts;
    t.sum.reads += s.reads;
    t.sum.writes += s.writes;
    t.sum.forwarded_reads += s.forwarded_reads;
    t.sum.read_latency_cycles += s.read_latency_cycles;
    t.sum.queue_latency_cycles += s.queue_latency_cycles;
    t.sum.active_rank_cycles += s.active_rank_cycles;
  }
  auto n = [&](Cmd c) { return double(t.sum.commands[std::size_t(c)]); };
  t.bytes = (t.sum.reads - t.sum.forwarded_reads + t.sum.writes) * cfg_.org.tx_bytes;
  t.act_pj = n(Cmd::ACT) * e.act_pre_pj;
  t.rd_pj = (n(Cmd::RD) + n(Cmd::RDA)) * e.rd_pj;
  t.wr_pj = (n(Cmd::WR) + n(Cmd::WRA)) * e.wr_pj;
  t.ref_pj = n(Cmd::REFab) * e.ref_pj + n(Cmd::REFpb) * e.ref_pj / banks;
  const double rank_cycles = double(end) * cfg_.org.channels * cfg_.org.ranks_per_channel();
  const double active = std::min(double(t.sum.active_rank_cycles), rank_cycles);
  t.background_pj = active * e.background_act_pj + (rank_cycles - active) * e.background_pre_pj;
  return t;
}

}  // namespace qaccel::dram
