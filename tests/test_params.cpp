// Unit parameter declarations (arch/common/params.hpp): reading through the YAML reader, the
// errors a config gets, the bugs a unit gets, and the listings derived from the declarations.
#include <gtest/gtest.h>

#include <sstream>

#include "arch/common/params.hpp"
#include "arch/common/unit.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/config/yaml_reader.hpp"
#include "test_util.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

const ParamSet kSet{param::integer("rows", 1, 64, param::required, "PEs", "rows"),
                    param::integer("depth", 1, 8, 4, "", "depth"),
                    param::number("bw", 0.5, 2.0, 1.0, "bytes/cycle", "bandwidth"),
                    param::flag("fast", false, "fast mode"),
                    param::choice("mode", {"ws", "os"}, "ws", "dataflow")};

struct Read {
  std::vector<std::string> errors;
  ParamValues v;
};

Read read(const ParamSet& set, const std::string& yaml) {
  config::Diagnostics d("u.yaml");
  config::MapReader r(YAML::Load(yaml), "system.units.mxu", d);
  ParamValues v = set.read(r);
  r.finish();
  return {d.errors(), v};
}

// A system file whose unit `mxu` has the given extra lines (each "KEY: VALUE") after its
// required ones, starting at line 12 of the file (`vpu` is on line 7).
std::string system_yaml(const std::string& mxu_lines, const std::string& vpu = "lanes: 16") {
  std::string s = "system:\n  name: t\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
                  "/configs/tech/45nm.yaml\n  memory: {kind: lpddr4, channels: 1, "
                  "bytes_per_cycle_per_channel: 8}\n  units:\n    vpu: {impl: vector, " +
                  vpu + "}\n    mxu:\n      impl: systolic\n      rows: 4\n      cols: 4\n";
  std::istringstream in(mxu_lines);
  for (std::string line; std::getline(in, line);)
    s += "      " + line + "\n";
  return s + "  mapping: {matmul: mxu, default: vpu}\n";
}

// The error line of load_system containing `fragment` ("" when it loads or none matches).
std::string error_line(const std::string& yaml, const std::string& fragment) {
  TempDir dir;
  auto f = dir.write("s.yaml", yaml);
  try {
    config::load_system(f);
  } catch (const ConfigError& e) {
    std::istringstream in(e.what());
    for (std::string line; std::getline(in, line);)
      if (line.find(fragment) != std::string::npos) return line;
    ADD_FAILURE() << "no error line has '" << fragment << "' in:\n" << e.what();
    return "";
  }
  ADD_FAILURE() << "the system loaded; expected an error with '" << fragment << "'";
  return "";
}

// The error is reported at file:LINE:col of the offending key.
void expect_error_at(const std::string& yaml, int line, const std::string& fragment) {
  std::string l = error_line(yaml, fragment);
  EXPECT_NE(l.find("s.yaml:" + std::to_string(line) + ":"), std::string::npos) << l;
}

}  // namespace

TEST(Params, DeclaredDefaultsApplyWhenKeysAreAbsent) {
  Read r = read(kSet, "{rows: 8}");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.v.integer("rows"), 8);
  EXPECT_EQ(r.v.integer("depth"), 4);
  EXPECT_EQ(r.v.number("bw"), 1.0);
  EXPECT_FALSE(r.v.flag("fast"));
  EXPECT_EQ(r.v.choice("mode"), "ws");
  Read g = read(kSet, "{rows: 8, depth: 2, bw: 1.5, fast: true, mode: os}");
  EXPECT_TRUE(g.errors.empty());
  EXPECT_EQ(g.v.integer("depth"), 2);
  EXPECT_EQ(g.v.number("bw"), 1.5);
  EXPECT_TRUE(g.v.flag("fast"));
  EXPECT_EQ(g.v.choice("mode"), "os");
}

// The shipped units keep the defaults they had before the declarations existed.
TEST(Params, ShippedUnitDefaults) {
  Read s = read(unit_registry().at("systolic").params, "{rows: 4, cols: 8}");
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.v.integer("cols"), 8);
  EXPECT_EQ(s.v.choice("dataflow"), "ws");
  EXPECT_EQ(s.v.integer("weight_bits"), 8);
  EXPECT_EQ(s.v.integer("act_bits"), 8);
  EXPECT_EQ(s.v.integer("acc_bits"), 32);
  EXPECT_EQ(s.v.integer("ibuf_kib"), 64);
  EXPECT_EQ(s.v.integer("wbuf_kib"), 64);
  EXPECT_EQ(s.v.integer("obuf_kib"), 64);
  EXPECT_EQ(s.v.number("ibuf_bytes_per_cycle"), 0.0);
  EXPECT_EQ(s.v.number("wbuf_bytes_per_cycle"), 0.0);
  EXPECT_FALSE(s.v.flag("stepping"));
  Read v = read(unit_registry().at("vector").params, "{lanes: 16}");
  EXPECT_TRUE(v.errors.empty());
  EXPECT_EQ(v.v.integer("latency_cycles"), 8);
  EXPECT_EQ(v.v.integer("buffer_kib"), 256);
}

TEST(Params, OutOfRangeNamesKeyPathAndRange) {
  expect_error_at(system_yaml("weight_bits: 17"), 12,
                  "system.units.mxu.weight_bits: expected an integer in [2, 16], found 17");
  expect_error_at(system_yaml("ibuf_bytes_per_cycle: -1"), 12,
                  "system.units.mxu.ibuf_bytes_per_cycle: expected a number in [0, 1e+09], "
                  "found -1");
  expect_error_at(system_yaml("", "lanes: 0"), 7,
                  "system.units.vpu.lanes: expected an integer in [1, 65536], found 0");
}

TEST(Params, WrongTypeNamesKeyPathAndType) {
  expect_error_at(system_yaml("acc_bits: wide"), 12,
                  "system.units.mxu.acc_bits: expected an integer in [16, 64], found 'wide'");
  expect_error_at(system_yaml("obuf_kib: [64]"), 12,
                  "system.units.mxu.obuf_kib: expected an integer in [1, 1048576], found a list");
  expect_error_at(system_yaml("stepping: maybe"), 12,
                  "system.units.mxu.stepping: expected true or false, found 'maybe'");
  expect_error_at(system_yaml("wbuf_bytes_per_cycle: fast"), 12,
                  "system.units.mxu.wbuf_bytes_per_cycle: expected a number in [0, 1e+09], found "
                  "'fast'");
}

TEST(Params, BadChoiceListsChoicesAndSuggests) {
  expect_error_at(system_yaml("dataflow: wss"), 12,
                  "system.units.mxu.dataflow: found 'wss', expected one of ws, os, is (did you "
                  "mean 'ws'?)");
}

TEST(Params, MissingRequiredKey) {
  expect_error_at(system_yaml("", "latency_cycles: 4"), 7,
                  "system.units.vpu: missing required key 'lanes' (an integer in [1, 65536])");
}

TEST(Params, UnknownKeyIsRejected) {
  expect_error_at(system_yaml("obuf_kb: 64"), 12,
                  "system.units.mxu.obuf_kb: unknown key (did you mean 'obuf_kib'?)");
  // Nothing close: every declared key is offered.
  std::string l = error_line(system_yaml("zzzzzzzz: 1"), "system.units.mxu.zzzzzzzz: unknown key");
  for (const Param& p : unit_registry().at("systolic").params.all())
    EXPECT_NE(l.find(p.name), std::string::npos) << p.name << " not offered in: " << l;
}

TEST(Params, ValuesAreAsDeclared) {
  Read r = read(kSet, "{rows: 8}");
  // Asking for an undeclared name or with the wrong type is a bug in the unit.
  EXPECT_THROW(r.v.integer("colums"), InternalError);
  EXPECT_THROW(r.v.flag("rows"), InternalError);
  EXPECT_THROW(r.v.choice("bw"), InternalError);
  // Undeclared keys in the YAML are the user's error.
  Read u = read(kSet, "{rows: 8, mdoe: os}");
  ASSERT_EQ(u.errors.size(), 1u);
  EXPECT_NE(u.errors[0].find("system.units.mxu.mdoe: unknown key (did you mean 'mode'?)"),
            std::string::npos)
      << u.errors[0];
}

TEST(Params, BadDeclarationsAreBugs) {
  EXPECT_THROW((ParamSet{param::integer("a", 1, 4, 8, "", "")}), InternalError);
  EXPECT_THROW((ParamSet{param::number("a", 1.0, 0.0, std::nullopt, "", "")}), InternalError);
  EXPECT_THROW((ParamSet{param::choice("a", {"x", "y"}, "z", "")}), InternalError);
  EXPECT_THROW((ParamSet{param::flag("a", false, ""), param::flag("a", true, "")}), InternalError);
  EXPECT_NO_THROW((ParamSet{param::integer("a", 1, 4, 4, "", ""), param::flag("b", true, "")}));
}

TEST(Params, ListingsShowEveryDeclaredParameter) {
  const std::string text = units_text(), md = units_markdown();
  // Pinned format of one row of each.
  EXPECT_NE(md.find("| `rows` | int | [1, 4096] | required | PEs | PE rows |\n"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| `dataflow` | choice | ws, os, is | ws |  | "), std::string::npos) << md;
  for (const auto& [impl, info] : unit_registry()) {
    EXPECT_NE(md.find("#### `" + impl + "`\n\n" + info.summary + "\n"), std::string::npos) << md;
    EXPECT_NE(text.find("  " + impl + ": " + info.summary + "\n"), std::string::npos) << text;
    for (const Param& p : info.params.all()) {
      std::string row = "| `" + p.name + "` | " + p.type_name() + " | " + p.range() + " | " +
                        p.default_text() + " | " + p.unit + " | " + p.desc + " |\n";
      EXPECT_NE(md.find(row), std::string::npos) << impl << "." << p.name << " in:\n" << md;
      // Text: a line starting with the key, then every column in order.
      std::size_t at = text.find("      " + p.name + " ", text.find("  " + impl + ": "));
      ASSERT_NE(at, std::string::npos) << impl << "." << p.name << " in:\n" << text;
      std::string line = text.substr(at, text.find('\n', at) - at);
      std::size_t pos = 0;
      for (const std::string& col : {p.type_name(), p.range(), p.default_text(), p.unit, p.desc}) {
        pos = line.find(col, pos);
        ASSERT_NE(pos, std::string::npos) << "'" << col << "' in: " << line;
      }
    }
  }
}
