#pragma once
// The command-level DRAM's parsed, immutable description (Timeloop style: specs apart from the
// stats): organization, JEDEC timing in DRAM clock cycles, controller policy and IDD currents.
// A DRAM file names a preset (configs/dram/<STANDARD>-<RATE>.yaml, built into the binary) and
// overrides any value by its name; every key is validated and the standard's own relations
// (nRC >= nRAS + nRP, ...) are checked.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace qaccel::dram {

using i64 = std::int64_t;

enum class Standard { HBM2, HBM3, DDR4, LPDDR5, GDDR6 };
const char* standard_name(Standard s);

struct Org {
  int channels = 1;
  int pseudo_channels = 1;  // per channel, each with its own data bus (HBM)
  int ranks = 1;            // per (pseudo) channel, sharing one data bus
  int bank_groups = 1;
  int banks_per_group = 1;
  i64 rows = 1;     // per bank
  int columns = 1;  // column addresses per row, each bus_bits wide
  int bus_bits = 64;
  int device_bits = 64;  // DQ width of one device (energy: devices per rank)
  int burst_length = 8;  // beats of one column command
  int tx_bytes = 64;     // one transaction (a multiple of a burst)

  // A "rank" of the controller is one rank of one pseudo-channel: the unit with its own banks.
  int ranks_per_channel() const { return ranks * pseudo_channels; }
  int banks_per_rank() const { return bank_groups * banks_per_group; }
  int banks_per_channel() const { return ranks_per_channel() * banks_per_rank(); }
  i64 row_bytes() const { return i64(columns) * bus_bits / 8; }
  i64 burst_bytes() const { return i64(burst_length) * bus_bits / 8; }
  int bursts_per_tx() const { return int(tx_bytes / burst_bytes()); }
  i64 tx_per_row() const { return row_bytes() / tx_bytes; }
  i64 channel_bytes() const { return i64(banks_per_channel()) * rows * row_bytes(); }
  i64 capacity_bytes() const { return channel_bytes() * channels; }
};

// Timing values, all in DRAM command-clock cycles except tCK_ps. The table below is the one
// list of names: YAML keys, overrides, `qaccel list` and the JSON dump all come from it.
struct Timing {
  i64 tCK_ps = 1000;
  int nBL = 4, nCL = 0, nCWL = 0, nRCD = 0, nRCDWR = 0, nRP = 0, nRAS = 0, nRC = 0, nWR = 0,
      nRTP = 0, nCCDS = 0, nCCDL = 0, nRRDS = 0, nRRDL = 0, nFAW = 0, nWTRS = 0, nWTRL = 0,
      nRTRS = 0, nREFI = 0, nRFC = 0, nREFIpb = 0, nRFCpb = 0, nRREFD = 0, nRPab = 0, nPPD = 0;
  int rp_all() const { return nRPab ? nRPab : nRP; }  // all-bank precharge to activate
};

struct TimingField {
  const char* name;
  int Timing::*member;
  const char* desc;
};
const std::vector<TimingField>& timing_fields();

enum class Scheduler { frfcfs, fcfs };
enum class RowPolicy { open, closed };
enum class Refresh { all_bank, per_bank, none };

struct ControllerSpec {
  int read_queue = 32, write_queue = 32;
  Scheduler scheduler = Scheduler::frfcfs;
  RowPolicy row_policy = RowPolicy::open;
  Refresh refresh = Refresh::all_bank;
  // Write drain: switch to writes above high x write_queue (or when no read waits), back to
  // reads below low x write_queue while reads wait.
  double write_high_watermark = 0.8, write_low_watermark = 0.2;
};

// IDD-based energy (Micron TN-41-01 / DRAMPower style), per device; see energy.cpp.
struct Energy {
  int devices_per_rank = 1;
  double vdd = 1.2;
  double idd0 = 0, idd2n = 0, idd3n = 0, idd4r = 0, idd4w = 0, idd5b = 0;
};

// Energy per command and per cycle of background, derived from the currents (pJ).
struct CommandEnergy {
  double act_pre_pj = 0;  // one ACT with its PRE
  double rd_pj = 0, wr_pj = 0;
  double ref_pj = 0;             // one all-bank refresh (a per-bank one: / banks)
  double background_act_pj = 0;  // per rank per cycle with a bank open
  double background_pre_pj = 0;  // per rank per cycle with every bank closed
};

struct DramConfig {
  std::filesystem::path file;  // where it was read ("" for a built-in preset)
  std::string preset;          // the preset it started from, if any
  Standard standard = Standard::DDR4;
  int rate_mtps = 0;
  std::string mapping = "RoBaRaCoCh";
  Org org;
  Timing timing;
  ControllerSpec ctrl;
  Energy energy;

  double tck_ns() const { return double(timing.tCK_ps) / 1000.0; }
  // Peak bandwidth of all channels in bytes per ns (= GB/s).
  double peak_gbps() const;
  CommandEnergy command_energy() const;
  // The fully resolved description as YAML (written beside results, `qaccel dram --show`).
  std::string to_yaml() const;
};

// A DRAM file: `dram: {preset: NAME | standard: ..., ...}`. Throws ConfigError listing every
// problem with file:line:col and key path.
DramConfig load_dram(const std::filesystem::path& file);
// The same from a node already read (inline `memory.dram: {...}` in a system file); errors are
// reported against `file` and `path`.
DramConfig read_dram(const YAML::Node& node, const std::filesystem::path& file,
                     const std::string& path);
// A built-in preset by name; ConfigError listing the known ones.
DramConfig preset(const std::string& name);
std::vector<std::string> preset_names();

// Checks the standard's relations and the organization's shape (powers of two where the
// mapping slices bits); returns problems as "key: message" lines (empty when fine).
std::vector<std::string> check(const DramConfig& c);

}  // namespace qaccel::dram
