#include "arch/common/tech.hpp"

#include <cmath>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"
#include "sim/config/yaml_reader.hpp"

namespace qaccel {

std::string TechSpec::mac_key(int weight_bits, int act_bits) {
  return std::to_string(weight_bits) + "x" + std::to_string(act_bits);
}

namespace {

double lookup(const std::map<std::string, double>& m, const std::string& key,
              const std::string& what, const std::string& tech) {
  auto it = m.find(key);
  if (it != m.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& [k, v] : m)
    known.push_back(k);
  throw ConfigError("tech '" + tech + "' has no " + what + " for '" + key +
                    "' (known: " + join(known, ", ") + ")");
}

}  // namespace

double TechSpec::mac(int w, int a) const {
  return lookup(mac_pj, mac_key(w, a), "mac_pj", name);
}
double TechSpec::pe_area(int w, int a) const {
  return lookup(pe_area_mm2, mac_key(w, a), "pe_area_mm2", name);
}
double TechSpec::mac_named(const std::string& key) const {
  return lookup(mac_pj, key, "mac_pj", name);
}
double TechSpec::pe_area_named(const std::string& key) const {
  return lookup(pe_area_mm2, key, "pe_area_mm2", name);
}
double TechSpec::dram(const std::string& kind) const {
  return lookup(dram_pj_per_byte, kind, "dram_pj_per_byte", name);
}

double TechSpec::sram(double kib) const {
  QACCEL_ASSERT(!sram_pj_per_byte.empty(), "tech without SRAM costs");
  if (kib <= sram_pj_per_byte.front().first) return sram_pj_per_byte.front().second;
  if (kib >= sram_pj_per_byte.back().first) return sram_pj_per_byte.back().second;
  for (std::size_t i = 1; i < sram_pj_per_byte.size(); ++i) {
    auto [k1, p1] = sram_pj_per_byte[i];
    if (kib <= k1) {
      auto [k0, p0] = sram_pj_per_byte[i - 1];
      double f = (std::log2(kib) - std::log2(k0)) / (std::log2(k1) - std::log2(k0));
      return p0 + f * (p1 - p0);
    }
  }
  return sram_pj_per_byte.back().second;
}

namespace {

// A mapping of name -> positive number, e.g. mac_pj: {8x8: 0.3, 4x8: 0.2}.
std::map<std::string, double> number_map(config::MapReader& parent, const std::string& key) {
  std::map<std::string, double> out;
  YAML::Node n = parent.child(key);
  if (!n.IsDefined()) {
    parent.error("", "missing required key '" + key + "'");
    return out;
  }
  config::MapReader r(n, parent.path(key), parent.diag());
  if (!r.valid()) return out;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    out[k] = r.number(k, 0.0, 1e9);
  }
  r.finish();
  if (out.empty()) parent.error(key, "expected at least one entry");
  return out;
}

}  // namespace

TechSpec load_tech(const std::filesystem::path& file) {
  YAML::Node root = config::load_yaml_file(file);
  config::Diagnostics d(file);
  config::MapReader top(root, "", d);
  config::MapReader r = top.map("tech");
  top.finish();
  TechSpec t;
  if (r.valid()) {
    t.name = r.string("name");
    t.mac_pj = number_map(r, "mac_pj");
    t.pe_area_mm2 = number_map(r, "pe_area_mm2");
    t.vector_flop_pj = r.number("vector_flop_pj", 0.0, 1e6);
    t.vector_lane_area_mm2 = r.number("vector_lane_area_mm2", 0.0, 1e3);
    t.sram_area_mm2_per_kib = r.number("sram_area_mm2_per_kib", 0.0, 1e3);
    t.leakage_mw_per_mm2 = r.number("leakage_mw_per_mm2", 0.0, 1e6);
    t.dram_pj_per_byte = number_map(r, "dram_pj_per_byte");
    YAML::Node s = r.child("sram_pj_per_byte");
    if (!s.IsDefined() || !s.IsSequence() || s.size() == 0) {
      r.error(s.IsDefined() ? "sram_pj_per_byte" : "",
              "expected a non-empty list of {kib: N, pj: X} entries for 'sram_pj_per_byte'");
    } else {
      for (std::size_t i = 0; i < s.size(); ++i) {
        config::MapReader e(s[i], r.path("sram_pj_per_byte[" + std::to_string(i) + "]"), d);
        double kib = e.number("kib", 1e-3, 1e9), pj = e.number("pj", 0.0, 1e6);
        e.finish();
        if (!t.sram_pj_per_byte.empty() && kib <= t.sram_pj_per_byte.back().first)
          e.error("kib", "entries must be in ascending kib order");
        t.sram_pj_per_byte.emplace_back(kib, pj);
      }
    }
    r.finish();
  }
  d.throw_if_errors();
  return t;
}

}  // namespace qaccel
