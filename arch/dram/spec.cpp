#include "arch/dram/spec.hpp"

#include <bit>
#include <cmath>
#include <sstream>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel::dram {

// Generated at configure time from configs/dram/<NAME>.yaml (see arch/CMakeLists.txt).
const std::vector<std::pair<std::string, std::string>>& embedded_presets();

namespace {

using config::Diagnostics;
using config::MapReader;

const std::vector<std::string> kStandards = {"HBM2", "HBM3", "DDR4", "LPDDR5", "GDDR6"};

struct OrgField {
  const char* name;
  int Org::*member;  // rows is separate (64-bit)
  long long lo, hi;
};
const std::vector<OrgField>& org_fields() {
  static const std::vector<OrgField> f = {
      {"channels", &Org::channels, 1, 4096},
      {"pseudo_channels", &Org::pseudo_channels, 1, 16},
      {"ranks", &Org::ranks, 1, 16},
      {"bank_groups", &Org::bank_groups, 1, 32},
      {"banks_per_group", &Org::banks_per_group, 1, 32},  // the controller tracks 32 a group
      {"columns", &Org::columns, 1, 1 << 20},
      {"bus_bits", &Org::bus_bits, 8, 4096},
      {"device_bits", &Org::device_bits, 1, 4096},
      {"burst_length", &Org::burst_length, 1, 256},
      {"tx_bytes", &Org::tx_bytes, 1, 1 << 20},
  };
  return f;
}

bool pow2(long long v) {
  return v > 0 && std::has_single_bit(static_cast<unsigned long long>(v));
}

void read_into(MapReader& r, DramConfig& c, bool have_base) {
  // A value is required unless a preset supplies it.
  auto need = [&](MapReader& m, const char* key) { return !have_base || m.has(key); };
  if (have_base && r.has("standard"))
    r.error("standard", "a file that names a preset takes its standard from the preset");
  if (!have_base) {
    const std::string s = r.choice("standard", kStandards);
    for (std::size_t i = 0; i < kStandards.size(); ++i)
      if (s == kStandards[i]) c.standard = Standard(i);
  }
  if (need(r, "rate_mtps")) c.rate_mtps = int(r.integer("rate_mtps", 1, 1 << 20));
  if (r.has("mapping")) c.mapping = r.string("mapping");
  if (r.has("channels")) c.org.channels = int(r.integer("channels", 1, 4096));

  if (!r.has("org") && !have_base) r.error("", "missing required key 'org'");
  if (r.has("org")) {
    MapReader org = r.map("org");
    for (const OrgField& f : org_fields()) {
      if (std::string(f.name) == "channels" && r.has("channels")) {
        if (org.has("channels")) org.error("channels", "given twice (also as dram.channels)");
        continue;
      }
      const bool optional =
          std::string(f.name) == "channels" || std::string(f.name) == "pseudo_channels" ||
          std::string(f.name) == "ranks" || std::string(f.name) == "device_bits" ||
          std::string(f.name) == "tx_bytes";
      if (need(org, f.name) && !(optional && !org.has(f.name)))
        c.org.*f.member = int(org.integer(f.name, f.lo, f.hi));
    }
    if (need(org, "rows")) c.org.rows = org.integer("rows", 1, i64(1) << 32);
    // Defaults that follow from other values when a full description leaves them out.
    if (!have_base && !org.has("device_bits")) c.org.device_bits = c.org.bus_bits;
    if (!have_base && !org.has("tx_bytes"))
      c.org.tx_bytes = int(std::max<i64>(1, c.org.burst_bytes()));
    org.finish();
  }

  if (!r.has("timing") && !have_base) r.error("", "missing required key 'timing'");
  if (r.has("timing")) {
    MapReader tim = r.map("timing");
    if (need(tim, "tCK_ps")) c.timing.tCK_ps = tim.integer("tCK_ps", 1, 1000000);
    for (const TimingField& f : timing_fields()) {
      const std::string n = f.name;
      // Per-bank refresh values and nRCDWR have fallbacks; everything else is required.
      const bool optional = n == "nRCDWR" || n == "nREFIpb" || n == "nRFCpb" || n == "nRREFD" ||
                            n == "nRTRS" || n == "nRPab" || n == "nPPD";
      if (need(tim, f.name) && !(optional && !tim.has(f.name)))
        c.timing.*f.member = int(tim.integer(f.name, 0, 1 << 24));
    }
    if (!have_base && !tim.has("nRCDWR")) c.timing.nRCDWR = c.timing.nRCD;
    tim.finish();
  }

  if (r.has("controller")) {
    MapReader ct = r.map("controller");
    if (ct.valid()) {
      ControllerSpec& k = c.ctrl;
      k.read_queue = int(ct.integer("read_queue", 1, 1 << 16, k.read_queue));
      k.write_queue = int(ct.integer("write_queue", 1, 1 << 16, k.write_queue));
      k.scheduler = ct.choice("scheduler", {"frfcfs", "fcfs"},
                              k.scheduler == Scheduler::frfcfs ? "frfcfs" : "fcfs") == "frfcfs"
                        ? Scheduler::frfcfs
                        : Scheduler::fcfs;
      k.row_policy = ct.choice("row_policy", {"open", "closed"},
                               k.row_policy == RowPolicy::open ? "open" : "closed") == "open"
                         ? RowPolicy::open
                         : RowPolicy::closed;
      const char* ref[] = {"all_bank", "per_bank", "none"};
      const std::string rf =
          ct.choice("refresh", {"all_bank", "per_bank", "none"}, ref[int(k.refresh)]);
      for (int i = 0; i < 3; ++i)
        if (rf == ref[i]) k.refresh = Refresh(i);
      k.write_high_watermark = ct.number("write_high_watermark", 0.0, 1.0, k.write_high_watermark);
      k.write_low_watermark = ct.number("write_low_watermark", 0.0, 1.0, k.write_low_watermark);
      ct.finish();
    }
  }

  if (!r.has("energy") && !have_base) r.error("", "missing required key 'energy'");
  if (r.has("energy")) {
    MapReader en = r.map("energy");
    Energy& e = c.energy;
    if (need(en, "devices_per_rank"))
      e.devices_per_rank = int(en.integer("devices_per_rank", 1, 1024));
    struct {
      const char* name;
      double Energy::*m;
      double hi;
    } cur[] = {{"vdd", &Energy::vdd, 10},      {"idd0", &Energy::idd0, 1e5},
               {"idd2n", &Energy::idd2n, 1e5}, {"idd3n", &Energy::idd3n, 1e5},
               {"idd4r", &Energy::idd4r, 1e5}, {"idd4w", &Energy::idd4w, 1e5},
               {"idd5b", &Energy::idd5b, 1e5}};
    for (const auto& f : cur)
      if (need(en, f.name)) e.*f.m = en.number(f.name, 0.0, f.hi);
    en.finish();
  }
}

DramConfig read_node(const YAML::Node& root, const std::filesystem::path& file,
                     const std::string& path, Diagnostics& d) {
  DramConfig c;
  c.file = file;
  MapReader r(root, path, d);
  if (!r.valid()) return c;
  bool have_base = false;
  if (r.has("preset")) {
    const std::string name = r.choice("preset", preset_names());
    try {
      const std::filesystem::path keep = c.file;
      c = preset(name);
      c.file = keep;
      c.preset = name;
      have_base = true;
    } catch (const ConfigError&) {
      return c;  // reported by choice()
    }
  }
  read_into(r, c, have_base);
  r.finish();
  if (!d.ok()) return c;
  for (const std::string& e : check(c))
    d.error(root.Mark(), path, e);
  return c;
}

}  // namespace

const char* standard_name(Standard s) {
  return kStandards[std::size_t(s)].c_str();
}

const std::vector<TimingField>& timing_fields() {
  static const std::vector<TimingField> f = {
      {"nBL", &Timing::nBL, "data burst on the bus"},
      {"nCL", &Timing::nCL, "read command to first data"},
      {"nCWL", &Timing::nCWL, "write command to first data"},
      {"nRCD", &Timing::nRCD, "activate to read"},
      {"nRCDWR", &Timing::nRCDWR, "activate to write (defaults to nRCD)"},
      {"nRP", &Timing::nRP, "precharge to activate"},
      {"nRAS", &Timing::nRAS, "activate to precharge"},
      {"nRC", &Timing::nRC, "activate to activate, same bank"},
      {"nWR", &Timing::nWR, "end of write data to precharge (write recovery)"},
      {"nRTP", &Timing::nRTP, "read to precharge"},
      {"nCCDS", &Timing::nCCDS, "column to column, different bank group"},
      {"nCCDL", &Timing::nCCDL, "column to column, same bank group"},
      {"nRRDS", &Timing::nRRDS, "activate to activate, different bank group"},
      {"nRRDL", &Timing::nRRDL, "activate to activate, same bank group"},
      {"nFAW", &Timing::nFAW, "window holding at most four activates per rank"},
      {"nWTRS", &Timing::nWTRS, "end of write data to read, different bank group"},
      {"nWTRL", &Timing::nWTRL, "end of write data to read, same bank group"},
      {"nRTRS", &Timing::nRTRS, "rank to rank data-bus switch (0 if none)"},
      {"nREFI", &Timing::nREFI, "all-bank refresh interval"},
      {"nRFC", &Timing::nRFC, "all-bank refresh cycle"},
      {"nREFIpb", &Timing::nREFIpb, "per-bank refresh interval (0: nREFI / banks)"},
      {"nRFCpb", &Timing::nRFCpb, "per-bank refresh cycle"},
      {"nRREFD", &Timing::nRREFD, "per-bank refresh to per-bank refresh or activate, other bank"},
      {"nRPab", &Timing::nRPab, "all-bank precharge to activate or refresh (0: nRP; LPDDR5)"},
      {"nPPD", &Timing::nPPD, "precharge to precharge, any bank of the rank (0: none)"},
  };
  return f;
}

double DramConfig::peak_gbps() const {
  // bus_bits x data rate per pin, per pseudo-channel.
  return double(org.channels) * org.pseudo_channels * org.bus_bits / 8.0 * rate_mtps / 1000.0;
}

CommandEnergy DramConfig::command_energy() const {
  // mA x V = mW, mW x ns = pJ; per device, times the devices that share a rank's commands.
  const Energy& e = energy;
  const Timing& t = timing;
  const double k = e.vdd * tck_ns() * e.devices_per_rank;
  CommandEnergy c;
  c.act_pre_pj = k * (e.idd0 * t.nRC - (e.idd3n * t.nRAS + e.idd2n * (t.nRC - t.nRAS)));
  c.rd_pj = k * (e.idd4r - e.idd3n) * t.nBL;
  c.wr_pj = k * (e.idd4w - e.idd3n) * t.nBL;
  c.ref_pj = k * (e.idd5b - e.idd3n) * t.nRFC;
  c.background_act_pj = k * e.idd3n;
  c.background_pre_pj = k * e.idd2n;
  // Currents that undercut the background give no negative energies.
  for (double* v : {&c.act_pre_pj, &c.rd_pj, &c.wr_pj, &c.ref_pj})
    *v = std::max(0.0, *v);
  return c;
}

std::vector<std::string> check(const DramConfig& c) {
  std::vector<std::string> p;
  const Org& o = c.org;
  const Timing& t = c.timing;
  auto rel = [&](bool ok, const std::string& msg) {
    if (!ok) p.push_back(msg);
  };
  auto v = [](int x) { return std::to_string(x); };
  for (auto [name, val] : {std::pair<const char*, long long>{"channels", o.channels},
                           {"pseudo_channels", o.pseudo_channels},
                           {"ranks", o.ranks},
                           {"bank_groups", o.bank_groups},
                           {"banks_per_group", o.banks_per_group},
                           {"rows", o.rows}})
    rel(pow2(val), std::string("org.") + name + ": " + std::to_string(val) +
                       " is not a power of two (the address mapping slices bits)");
  rel(o.pseudo_channels == 1 || o.ranks == 1,
      "org: pseudo-channels and ranks together are not modelled (give one of them as 1)");
  rel(o.bus_bits % 8 == 0, "org.bus_bits: " + v(o.bus_bits) + " is not a whole number of bytes");
  rel(o.burst_bytes() > 0 && o.tx_bytes % o.burst_bytes() == 0,
      "org.tx_bytes: " + v(o.tx_bytes) + " is not a multiple of one burst (burst_length x " +
          "bus_bits / 8 = " + std::to_string(o.burst_bytes()) + " bytes)");
  rel(o.tx_bytes > 0 && o.row_bytes() % o.tx_bytes == 0 && pow2(o.row_bytes() / o.tx_bytes),
      "org.columns: a row of " + std::to_string(o.row_bytes()) +
          " bytes must hold a power-of-two number of " + v(o.tx_bytes) + "-byte transactions");
  rel(pow2(o.tx_bytes), "org.tx_bytes: " + v(o.tx_bytes) + " is not a power of two");
  rel(o.device_bits <= o.bus_bits && o.bus_bits % o.device_bits == 0,
      "org.device_bits: " + v(o.device_bits) + " does not divide bus_bits " + v(o.bus_bits));
  rel(t.nBL >= 1 && t.nCL >= 1 && t.nCWL >= 1 && t.nRCD >= 1 && t.nRCDWR >= 1 && t.nRP >= 1 &&
          t.nRAS >= 1 && t.nCCDS >= 1 && t.nRRDS >= 1,
      "timing: nBL, nCL, nCWL, nRCD, nRCDWR, nRP, nRAS, nCCDS and nRRDS must be at least 1");
  rel(t.nRC >= t.nRAS + t.nRP, "timing.nRC: " + v(t.nRC) + " < nRAS + nRP = " + v(t.nRAS + t.nRP) +
                                   " (JEDEC: tRC >= tRAS + tRP)");
  rel(t.nRAS >= t.nRCD, "timing.nRAS: " + v(t.nRAS) + " < nRCD = " + v(t.nRCD) +
                            " (a row must stay open until it can be read)");
  rel(t.nRPab == 0 || t.nRPab >= t.nRP, "timing.nRPab: " + v(t.nRPab) + " < nRP = " + v(t.nRP) +
                                            " (an all-bank precharge " +
                                            "takes at least as long as one bank's)");
  rel(t.nCCDL >= t.nCCDS, "timing.nCCDL: " + v(t.nCCDL) + " < nCCDS = " + v(t.nCCDS));
  rel(t.nRRDL >= t.nRRDS, "timing.nRRDL: " + v(t.nRRDL) + " < nRRDS = " + v(t.nRRDS));
  rel(t.nWTRL >= t.nWTRS, "timing.nWTRL: " + v(t.nWTRL) + " < nWTRS = " + v(t.nWTRS));
  if (c.ctrl.refresh == Refresh::all_bank)
    rel(t.nREFI > t.nRFC && t.nRFC >= 1,
        "timing.nREFI: " + v(t.nREFI) + " must exceed nRFC = " + v(t.nRFC) +
            " (refresh would never end); set controller.refresh: none to model no refresh");
  if (c.ctrl.refresh == Refresh::per_bank) {
    const int refi = t.nREFIpb ? t.nREFIpb : t.nREFI / std::max(1, o.banks_per_rank());
    rel(t.nRFCpb >= 1, "timing.nRFCpb: per-bank refresh needs nRFCpb >= 1");
    rel(refi > t.nRFCpb / std::max(1, o.banks_per_rank()) && refi >= 1,
        "timing.nREFIpb: per-bank refresh interval " + v(refi) + " is too short for nRFCpb " +
            v(t.nRFCpb));
  }
  rel(c.ctrl.write_low_watermark < c.ctrl.write_high_watermark,
      "controller.write_low_watermark must be below write_high_watermark");
  rel(o.capacity_bytes() > 0 && o.capacity_bytes() <= (i64(1) << 56),
      "org: capacity beyond 2^56 bytes");
  return p;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> n;
  for (const auto& [name, text] : embedded_presets())
    n.push_back(name);
  return n;
}

DramConfig preset(const std::string& name) {
  for (const auto& [n, text] : embedded_presets()) {
    if (n != name) continue;
    const std::filesystem::path where = "configs/dram/" + n + ".yaml (built in)";
    YAML::Node root = config::load_yaml_text(text, where);
    Diagnostics d(where);
    MapReader top(root, "", d);
    DramConfig c = read_node(top.child("dram"), where, "dram", d);
    d.throw_if_errors();
    c.file.clear();
    c.preset = n;
    return c;
  }
  throw ConfigError("unknown DRAM preset '" + name + "' (known: " + join(preset_names(), ", ") +
                    ")");
}

DramConfig read_dram(const YAML::Node& node, const std::filesystem::path& file,
                     const std::string& path) {
  Diagnostics d(file);
  DramConfig c = read_node(node, file, path, d);
  d.throw_if_errors();
  return c;
}

DramConfig load_dram(const std::filesystem::path& file) {
  YAML::Node root = config::load_yaml_file(file);
  Diagnostics d(file);
  MapReader top(root, "", d);
  if (!top.valid()) d.throw_if_errors();
  if (!top.has("dram")) {
    top.error("", "missing required key 'dram' (a DRAM file: dram: {preset: NAME, ...})");
    d.throw_if_errors();
  }
  DramConfig c = read_node(top.child("dram"), file, "dram", d);
  top.finish();
  d.throw_if_errors();
  return c;
}

std::string DramConfig::to_yaml() const {
  std::ostringstream os;
  os << "dram:\n";
  if (!preset.empty()) os << "  # from preset " << preset << "\n";
  os << "  standard: " << standard_name(standard) << "\n  rate_mtps: " << rate_mtps
     << "\n  mapping: " << mapping << "\n  org:\n";
  for (const OrgField& f : org_fields())
    os << "    " << f.name << ": " << org.*f.member << "\n";
  os << "    rows: " << org.rows << "\n  timing:\n    tCK_ps: " << timing.tCK_ps << "\n";
  for (const TimingField& f : timing_fields())
    os << "    " << f.name << ": " << timing.*f.member << "\n";
  const char* ref[] = {"all_bank", "per_bank", "none"};
  os << "  controller:\n    read_queue: " << ctrl.read_queue
     << "\n    write_queue: " << ctrl.write_queue
     << "\n    scheduler: " << (ctrl.scheduler == Scheduler::frfcfs ? "frfcfs" : "fcfs")
     << "\n    row_policy: " << (ctrl.row_policy == RowPolicy::open ? "open" : "closed")
     << "\n    refresh: " << ref[int(ctrl.refresh)]
     << "\n    write_high_watermark: " << ctrl.write_high_watermark
     << "\n    write_low_watermark: " << ctrl.write_low_watermark << "\n  energy:\n"
     << "    devices_per_rank: " << energy.devices_per_rank << "\n    vdd: " << energy.vdd
     << "\n    idd0: " << energy.idd0 << "\n    idd2n: " << energy.idd2n
     << "\n    idd3n: " << energy.idd3n << "\n    idd4r: " << energy.idd4r
     << "\n    idd4w: " << energy.idd4w << "\n    idd5b: " << energy.idd5b << "\n";
  return os.str();
}

}  // namespace qaccel::dram
