#pragma once
// Energy and area costs of a technology (configs/tech/*.yaml). Energy of a run = sum over
// counters of count x cost; every value carries its source in the YAML file.
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace qaccel {

struct TechSpec {
  std::string name;
  std::map<std::string, double> mac_pj;       // "8x8" (weight bits x activation bits) -> pJ
  std::map<std::string, double> pe_area_mm2;  // same keys
  double vector_flop_pj = 0;                  // one float32 operation of the vector unit
  double vector_lane_area_mm2 = 0;
  std::vector<std::pair<double, double>> sram_pj_per_byte;  // (capacity KiB, pJ/byte), ascending
  double sram_area_mm2_per_kib = 0;
  std::map<std::string, double> dram_pj_per_byte;  // memory kind -> pJ/byte
  double leakage_mw_per_mm2 = 0;

  static std::string mac_key(int weight_bits, int act_bits);
  // Throws ConfigError naming the missing precision (the tech file lists the known ones).
  double mac(int weight_bits, int act_bits) const;
  double pe_area(int weight_bits, int act_bits) const;
  // Named PEs of other kinds ("fp16", "bitserial_pe", ...): energy per PE-cycle and area.
  double mac_named(const std::string& key) const;
  double pe_area_named(const std::string& key) const;
  // pJ per byte of an SRAM of `kib` KiB: linear interpolation in log2(size) between entries,
  // clamped at the ends.
  double sram(double kib) const;
  double dram(const std::string& kind) const;
};

TechSpec load_tech(const std::filesystem::path& file);

}  // namespace qaccel
