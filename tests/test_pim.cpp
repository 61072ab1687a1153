// PIM banks: HBM-PIM GEMV command streams against a closed form derived from the timing values,
// against Samsung's PIMSimulator, the checker on the PIM command streams, and bit-exactness.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <cstring>

#include "arch/dram/dram.hpp"
#include "arch/pim/aim.hpp"
#include "arch/pim/hbm_pim.hpp"
#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"
#include "test_util.hpp"
#include "workloads/graph.hpp"
#include "workloads/quant.hpp"
#include "workloads/rng.hpp"

using namespace qaccel;
using namespace qaccel::pim;

namespace {

// The device of Samsung's PIMSimulator (ini/HBM2_samsung_2M_16B_x64.ini) in qaccel's terms:
// the HBM2-2000 preset with its values. READ_TO_PRE there is AL + BL/2 + max(tRTPL, tCCDL) -
// tCCDL = 3; tFAW is never enforced there.
dram::DramConfig samsung_pim_device() {
  dram::DramConfig c = dram::preset("HBM2-2000");
  dram::Timing& t = c.timing;
  t.nCL = 20, t.nCWL = 8, t.nRCD = 14, t.nRCDWR = 10, t.nRAS = 33, t.nRC = 47, t.nRP = 14;
  t.nRTP = 3, t.nWR = 16, t.nCCDS = 2, t.nCCDL = 4, t.nRRDS = 4, t.nRRDL = 6, t.nWTRS = 4;
  t.nWTRL = 9, t.nFAW = 0, t.nRFC = 350, t.nREFI = 3900;
  c.org.channels = 32;  // x 2 pseudo-channels = 64
  return c;
}

}  // namespace

TEST(Pim, GemvAgainstPimSimulator) {
  const dram::DramConfig c = samsung_pim_device();
  for (auto [m, n, ref] : {std::tuple<int, int, int>{4096, 4096, 13166},
                           {4096, 1024, 3662},
                           {2048, 2048, 6970},
                           {1024, 4096, 13166},
                           {8192, 8192, 51905}}) {
    const GemvLayout l = hbm_pim_layout(c, 64, 8, m, n, 16);
    std::vector<std::string> v;
    const StreamTiming t = run_in_order(c, hbm_pim_gemv_stream(c, l), &v);
    EXPECT_TRUE(v.empty()) << (v.empty() ? "" : v[0]);
    std::printf("%d x %d: qaccel %lld, PIMSimulator %d (%+.2f%%), %lld refreshes\n", m, n,
                (long long)t.cycles, ref, 100.0 * double(t.cycles - ref) / ref,
                (long long)t.refreshes);
    EXPECT_LT(std::abs(double(t.cycles - ref)) / ref, 0.10);
  }
}

// Two more input tiles (one even, one odd) add a cost derived by hand from the timing values,
// with commands strictly in program order and refresh off:
//  - even tile (bank 0; bank 1 keeps the register row open): 64 MACs tCCD_L apart, one row
//    change inside (RD->PRE nRTP + nRP + nRCD), then the next tile's 8 GRF_A writes (RD->WR
//    turnaround nCL + nBL + 2 - nCWL, then 7 x tCCD_L), then the next tile's first MAC on a new
//    row: it arrives as the last write issues, PRE one cycle later, + nRP + nRCD;
//  - odd tile (bank 1 holds both the weights and the register row): the same 64 MACs and row
//    change; the GRF_A writes first close the weight row (nRTP + nRP + nRCDWR after the last
//    MAC), and the next MAC waits write recovery (nCWL + nBL + nWR) + nRP + nRCD.
TEST(Pim, TwoMoreInputTilesCostTheHandDerivedCycles) {
  dram::DramConfig c = samsung_pim_device();
  c.ctrl.refresh = dram::Refresh::none;
  const dram::Timing& t = c.timing;
  const i64 macs = 62 * t.nCCDL + (t.nRTP + t.nRP + t.nRCD);
  const i64 even = macs + (t.nCL + t.nBL + 2 - t.nCWL) + 7 * t.nCCDL + (1 + t.nRP + t.nRCD);
  const i64 odd =
      macs + (t.nRTP + t.nRP + t.nRCDWR) + 7 * t.nCCDL + (t.nCWL + t.nBL + t.nWR + t.nRP + t.nRCD);
  auto cycles = [&](int n) {
    return run_in_order(c, hbm_pim_gemv_stream(c, hbm_pim_layout(c, 64, 8, 4096, n, 16))).cycles;
  };
  EXPECT_EQ(cycles(128 * 6) - cycles(128 * 4), even + odd);
  EXPECT_EQ(cycles(128 * 10) - cycles(128 * 8), even + odd);
  EXPECT_EQ(even + odd, 740);  // for these values
}

TEST(Pim, LayoutReportsPaddingAndRefusesWhatDoesNotFit) {
  const dram::DramConfig c = samsung_pim_device();
  const GemvLayout l = hbm_pim_layout(c, 64, 8, 1000, 4096, 16);
  EXPECT_EQ(l.out_tiles, 1);
  EXPECT_EQ(l.padded_out_rows, 4096 - 1000);
  EXPECT_EQ(l.in_tiles, 32);
  // 4096 rows per bank of 1 KiB: 2 rows per (block, tile pair) piece x 16 tile pairs x tiles.
  try {
    hbm_pim_layout(c, 64, 8, 4096 * 300, 4096, 16);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rows short"), std::string::npos) << e.what();
  }
}

// The non-PIM baseline of PIMSimulator's bench: the host streams the matrix and the input
// vector (FP16, one 32-byte read per burst, consecutive bursts over the 64 pseudo-channels,
// then banks, bank groups, columns, rows: its Scheme8), then writes the output vector.
TEST(Pim, HostStreamingBaselineAgainstPimSimulator) {
  // PIMSimulator runs one controller per pseudo-channel (its "channels"), each with its own
  // command slot.
  dram::DramConfig c = samsung_pim_device();
  c.org.channels = 64, c.org.pseudo_channels = 1;
  c.mapping = "RoCoBgBaRaCh";
  for (auto [m, n, ref] : {std::tuple<int, int, int>{4096, 4096, 36082}, {2048, 2048, 9034}}) {
    dram::Dram d(c);
    const i64 in_bytes = i64(m) * n * 2 + i64(n) * 2;
    const i64 read_done = d.serve(0, in_bytes, false, 0);
    const i64 done = d.serve(std::uint64_t(in_bytes), i64(m) * 2, true, read_done);
    std::printf("baseline %d x %d: qaccel %lld, PIMSimulator %d (%+.2f%%)\n", m, n, (long long)done,
                ref, 100.0 * double(done - ref) / ref);
    EXPECT_LT(std::abs(double(done - ref)) / ref, 0.10);
  }
}

// The PIM unit's numbers equal the reference's quantized matmul bit for bit: int8 and int4
// weights, int8 and int16 activations, groups of 32 and 128 and whole rows, random shapes.
TEST(Pim, MatmulIsBitExactWithTheReference) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/hbm-pim.yaml"));
  Unit& pim = sys.unit("pim");
  SplitMix64 rng(42);
  auto uniform = [&] { return float(rng.below(2000001)) / 1e6f - 1.0f; };
  int cases = 0;
  for (int wbits : {8, 4})
    for (int abits : {8, 16})
      for (int group : {32, 128, 0})
        for (int trial = 0; trial < 3; ++trial) {
          const int cols = 128 * int(1 + rng.below(6)), rows = int(1 + rng.below(300));
          const int g = group ? group : cols;
          std::vector<float> w(static_cast<std::size_t>(rows) * cols),
              x(static_cast<std::size_t>(cols));
          for (float& v : w)
            v = uniform();
          for (float& v : x)
            v = 4.0f * uniform();
          const QTensor qw = quantize_weights(w, rows, cols, g, (1 << (wbits - 1)) - 1);
          QActivation qx;
          quantize_activation(x, g, (1 << (abits - 1)) - 1, ActGranularity::group, qx);
          std::vector<float> ref(static_cast<std::size_t>(rows)), hw;
          qmatmul(ref, qx, qw);
          ASSERT_TRUE(pim.matmul({&qx}, qw, hw));
          ASSERT_EQ(hw.size(), ref.size());
          for (int r = 0; r < rows; ++r)
            ASSERT_EQ(std::memcmp(&hw[std::size_t(r)], &ref[std::size_t(r)], sizeof(float)), 0)
                << wbits << "/" << abits << " g" << g << " row " << r;
          ++cases;
        }
  EXPECT_EQ(cases, 36);
  // fp16 (W16A16): values from subnormal to saturated, lanes summed exactly on the host.
  for (int trial = 0; trial < 12; ++trial) {
    const int cols = 16 * int(1 + rng.below(300)), rows = int(1 + rng.below(200));
    std::vector<float> w(static_cast<std::size_t>(rows) * cols), x(static_cast<std::size_t>(cols));
    for (float& v : w)
      v = std::ldexp(uniform(), int(rng.below(40)) - 26);  // 2^-26 (underflow) .. 2^13
    for (float& v : x)
      v = std::ldexp(uniform(), int(rng.below(24)) - 8);
    if (trial == 0) w[0] = 1e6f, x[0] = -1e6f;  // both saturate to 65504
    const QTensor qw = half_weights(w, rows, cols);
    QActivation qx;
    half_activation(x, qx);
    std::vector<float> ref(static_cast<std::size_t>(rows)), hw;
    hmatmul(ref, qx, qw);
    ASSERT_TRUE(pim.matmul({&qx}, qw, hw));
    ASSERT_EQ(hw.size(), ref.size());
    for (int r = 0; r < rows; ++r)
      ASSERT_EQ(std::memcmp(&hw[std::size_t(r)], &ref[std::size_t(r)], sizeof(float)), 0)
          << "fp16 row " << r;
  }
}

TEST(Pim, RefusesWhatItCannotRunWithTheReason) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/hbm-pim.yaml"));
  Unit& pim = sys.unit("pim");
  Op o;
  o.name = "p", o.kind = OpKind::matmul, o.m = 16, o.n = 64, o.k = 64, o.weight_bits = 8;
  o.act_bits = 8, o.group = 32;
  std::string why;
  EXPECT_FALSE(pim.supports(o, &why));
  EXPECT_NE(why.find("m = 1"), std::string::npos) << why;
  o.m = 1, o.weight_bits = 32, o.dtype = "fp32", o.wformat = WeightFormat::fp32;
  EXPECT_FALSE(pim.supports(o, &why));
  EXPECT_NE(why.find("int8, int4 and fp16"), std::string::npos) << why;
  o.wformat = WeightFormat::mxfp4, o.weight_bits = 4, o.dtype = "mxfp4";
  EXPECT_FALSE(pim.supports(o, &why));
  EXPECT_NE(why.find("int8, int4 and fp16"), std::string::npos) << why;
  o.wformat = WeightFormat::int8, o.weight_bits = 8, o.act_bits = 16, o.group = 0,
  o.k = 1 << 20;  // 65536 terms a lane
  EXPECT_FALSE(pim.supports(o, &why));
  EXPECT_NE(why.find("overflow"), std::string::npos) << why;
  o.k = 4096;
  EXPECT_TRUE(pim.supports(o, &why)) << why;
}

// Duplex-style placement by arithmetic intensity: decode GEMVs go to PIM, prefill GEMMs to the
// array, attention (PIM cannot run it) by kind; every op says why.
TEST(Pim, IntensityPolicyPlacesOpsAndSaysWhy) {
  System sys(config::load_system(test::source_dir() + "/configs/systems/duplex.yaml"));
  Op o;
  o.name = "w", o.kind = OpKind::gemv, o.m = 1, o.n = 4096, o.k = 4096, o.weight_bits = 8;
  o.act_bits = 8, o.group = 128, o.macs = 4096 * 4096, o.flops = 2 * o.macs;
  o.weight_bytes = 4096 * 4096, o.act_read_bytes = 4096, o.act_write_bytes = 4096;
  std::string how;
  EXPECT_EQ(sys.map(o, &how).name(), "pim");
  EXPECT_NE(how.find("Op/B < 32: pim"), std::string::npos) << how;
  o.kind = OpKind::matmul, o.m = 512, o.macs *= 512, o.flops *= 512, o.act_read_bytes *= 512;
  EXPECT_EQ(sys.map(o, &how).name(), "mxu");
  EXPECT_NE(how.find(">= 32; rule:matmul"), std::string::npos) << how;
  Op a;
  a.name = "s", a.kind = OpKind::attn_score, a.m = 1, a.n = 512, a.k = 128, a.flops = 131072;
  a.kv_read_bytes = 131072, a.weight_bits = 32, a.act_bits = 32;
  EXPECT_EQ(sys.map(a, &how).name(), "vpu");
  EXPECT_NE(how.find("but pim cannot"), std::string::npos) << how;

  test::TempDir dir;
  std::ifstream in(test::source_dir() + "/configs/systems/duplex.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("    policy: intensity\n"), 22, "");
  text.replace(text.find("../"), 3, test::source_dir() + "/configs/");
  text.replace(text.find("../"), 3, test::source_dir() + "/configs/");
  try {
    config::load_system(dir.write("s.yaml", text));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(
        std::string(e.what()).find("threshold_flops_per_byte: only used with policy: intensity"),
        std::string::npos)
        << e.what();
  }
}

// Sharing: a PIM kernel holds every channel; a host read arriving with it waits for it, or it
// waits for the read, by amounts derived by hand from the kernel's length K (its command
// stream, tested above) and the timing of a lone read: a row miss is 1 + nRCD + nCL + nBL = 37
// cycles here.
TEST(Pim, KernelAndHostReadWaitForEachOther) {
  const std::string dram =
      "{preset: HBM2-2000, channels: 1, controller: {refresh: none}, timing: {nCL: 20, nCWL: "
      "8, nRCD: 14, nRCDWR: 10, nRAS: 33, nRC: 47, nRP: 14, nRTP: 3, nWR: 16, nCCDL: 4, "
      "nWTRS: 4, nWTRL: 9, nFAW: 0}}";
  const std::string yaml =
      "system:\n  name: s\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
      "/configs/tech/45nm.yaml\n  memory: {kind: hbm2, model: dram, dram: " + dram +
      "}\n  units:\n    pim: {impl: pim}\n"
      "    host: {impl: vector, lanes: 1, latency_cycles: 0}\n"
      "  mapping: {gemv: pim, default: host}\n";
  test::TempDir dir;
  const std::string file = dir.write("s.yaml", yaml);
  const dram::DramConfig cfg = config::load_system(file).dram.dram
                                   ? *config::load_system(file).dram.dram
                                   : dram::DramConfig{};
  const i64 K =
      run_in_order(cfg, hbm_pim_gemv_stream(cfg, hbm_pim_layout(cfg, 2, 8, 64, 256, 8))).cycles;
  ASSERT_GT(K, 300);
  Op g;
  g.name = "g", g.kind = OpKind::gemv, g.m = 1, g.n = 64, g.k = 256, g.weight_bits = 8;
  g.act_bits = 8, g.macs = 64 * 256, g.flops = 2 * g.macs, g.weight_bytes = 64 * 256;
  g.reads = {{"W.g", TensorKind::weight, g.weight_bytes}};
  Op v;
  v.name = "v", v.kind = OpKind::attn_score, v.flops = 1, v.kv_read_bytes = 32, v.dtype = "fp32";
  v.reads = {{"KV.v", TensorKind::kv_cache, 32}};
  // (a) Both ready at cycle 0: the kernel reaches the memory first (the units' processes run
  // in order), the read waits K and then pays its row miss.
  std::string got = test::in_child([&] {
    System sys(config::load_system(file));
    const auto recs = sys.run(build_graph({{g, v}}));
    return std::to_string(recs[0].cost.cycles) + " " + std::to_string(recs[1].memory_cycles);
  });
  EXPECT_EQ(got, std::to_string(K) + " " + std::to_string(K + 37));
  // (b) The kernel one cycle later (after a 1-cycle host op it reads from, on another unit):
  // the read is served first (ACT at cycle 1, RD at 1 + nRCD = 15, data by 37); the kernel's
  // commands follow the channel's last one, so it starts at 15, 14 cycles after its op began.
  Op h;
  h.name = "h", h.kind = OpKind::rmsnorm, h.flops = 1, h.dtype = "fp32";
  h.writes = {{"x", TensorKind::activation, 4}};
  g.reads.push_back({"x", TensorKind::activation, 4});
  got = test::in_child([&] {
    std::string y = yaml;
    y.replace(y.find("  mapping: {gemv: pim, default: host}"), std::string::npos,
              "    host2: {impl: vector, lanes: 1, latency_cycles: 0}\n"
              "  mapping: {gemv: pim, attn_score: host2, default: host}\n");
    test::TempDir d2;
    System sys(config::load_system(d2.write("s.yaml", y)));
    const auto recs = sys.run(build_graph({{h, g, v}}));
    return std::to_string(recs[1].cost.cycles) + " " + std::to_string(recs[2].memory_cycles);
  });
  EXPECT_EQ(got, std::to_string(K + 14) + " 37");
}

// AiM: one more batch of output rows (one more row in every bank) costs, by hand: ACTAB, nRCD,
// 64 MACABs tCCD_L apart, the RDMAC tCCD_L after the last, then the next ACTAB waits
// nRTP + nRP (longer than its (16 / 4) x nFAW = 116 and nRC here).
TEST(Pim, AimBatchCostsTheHandDerivedCycles) {
  dram::DramConfig c = dram::load_dram(test::source_dir() + "/configs/dram/aim-gddr6.yaml");
  c.ctrl.refresh = dram::Refresh::none;
  const dram::Timing& t = c.timing;
  const i64 rows_per_batch = 16 * 16;
  auto cycles = [&](int batches) {
    return run_in_order(c, aim_gemv_stream(c, aim_layout(c, rows_per_batch * batches, 2048, 8, 0)))
        .cycles;
  };
  const i64 period = t.nRCD + 64 * t.nCCDL + t.nRTP + t.nRP;
  ASSERT_GT(period, 4 * t.nFAW);
  EXPECT_EQ(cycles(3) - cycles(2), period);
  EXPECT_EQ(cycles(5) - cycles(4), period);
  // With a slower four-activate window the ACTAB pacing binds instead.
  const int faw = t.nFAW;
  c.timing.nFAW = 100;
  const i64 paced = 4 * 100;
  EXPECT_EQ(cycles(3) - cycles(2), paced);
  // Group-wise weights read results at every group boundary: 64 / (128 / 32) = 16 RDMACs.
  c.timing.nFAW = faw;
  const i64 grouped =
      run_in_order(c, aim_gemv_stream(c, aim_layout(c, rows_per_batch * 3, 2048, 8, 128))).cycles -
      run_in_order(c, aim_gemv_stream(c, aim_layout(c, rows_per_batch * 2, 2048, 8, 128))).cycles;
  EXPECT_EQ(grouped, period + 15 * t.nCCDL);
  std::vector<std::string> v;
  run_in_order(c, aim_gemv_stream(c, aim_layout(c, 1000, 4096, 8, 128)), &v);
  EXPECT_TRUE(v.empty()) << (v.empty() ? "" : v[0]);
}

// Layout counts past 2^63 are an OverflowError, never a wrapped or truncated count (the tile
// and batch counts were once cut to int: a 2^62-row matrix got 0 tiles and "fit"). Just below
// the edge the count is exact, by hand: 2^40 rows in tiles of 64 x 8 x 8 = 2^12 rows are 2^28
// output tiles; 2^20 FP16 columns in tiles of 8 x 16 are 2^13 input tiles, 2^12 a bank; so
// 2^28 x 2^12 x 64 + 2^28 x 8 bursts of 32 bytes, 32 to a 1 KiB row: 2^41 + 2^26 rows.
TEST(Pim, LayoutCountsPast64BitsAreAnError) {
  const dram::DramConfig c = samsung_pim_device();
  EXPECT_THROW(hbm_pim_layout(c, 64, 8, i64(1) << 62, 1 << 20, 16), OverflowError);
  try {
    hbm_pim_layout(c, 64, 8, i64(1) << 40, 1 << 20, 16);
    FAIL();
  } catch (const OverflowError& e) {
    FAIL() << e.what();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs " +
                                         std::to_string((i64(1) << 41) + (i64(1) << 26)) + " rows"),
              std::string::npos)
        << e.what();
  }
  // AiM (256 banks, 2 KiB rows): 2^62 rows are 2^54 batches of 2^51 chunks each.
  const dram::DramConfig a = dram::load_dram(test::source_dir() + "/configs/dram/aim-gddr6.yaml");
  EXPECT_THROW(aim_layout(a, i64(1) << 62, i64(1) << 62, 8, 0), OverflowError);
  // 2^30 rows: 2^22 batches of 2^20 / 2048 = 512 chunks, 2^31 rows a bank (16384 there).
  try {
    aim_layout(a, i64(1) << 30, i64(1) << 20, 8, 0);
    FAIL();
  } catch (const OverflowError& e) {
    FAIL() << e.what();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs " + std::to_string(i64(1) << 31) + " rows"),
              std::string::npos)
        << e.what();
  }
}

// A schema-valid but hostile system: an AiM DRAM at tCK 1 us with the longest nFAW under a
// 100 GHz system clock. By hand: a 2^20 x 65536 int8 GEMV on 1024 banks of 2 KiB rows is 1024
// batches x 32 chunks = 32768 ACTABs, each holding off the next for (1024 / 4) x 2^24 = 2^32
// DRAM cycles, so the kernel is at least 32767 x 2^32 DRAM cycles = 1.4e14 us = 1.4e19 system
// cycles, past 2^63 (9.2e18): the plan throws OverflowError naming the quantity instead of
// converting it (that once gave a negative length and an internal error). At 10 GHz it fits
// and is that bound plus the other commands (a few hundred DRAM cycles a batch row).
TEST(Pim, KernelCyclesPast64BitsAreAnError) {
  auto system = [](const std::string& ghz) {
    return "system:\n  name: s\n  clock_ghz: " + ghz + "\n  tech: " + test::source_dir() +
           "/configs/tech/45nm.yaml\n  memory: {kind: gddr5, model: dram, dram: {preset: "
           "GDDR6-14000, channels: 1, org: {bank_groups: 32, banks_per_group: 32, rows: "
           "1048576, tx_bytes: 2048}, timing: {tCK_ps: 1000000, nFAW: 16777216}, controller: "
           "{refresh: none}}}\n  units:\n    pim: {impl: pim, style: aim}\n"
           "    host: {impl: vector, lanes: 1}\n  mapping: {gemv: pim, default: host}\n";
  };
  Op g;
  g.name = "g", g.kind = OpKind::gemv, g.m = 1, g.n = 1 << 20, g.k = 65536, g.weight_bits = 8;
  g.act_bits = 8, g.dtype = "w8a8", g.macs = g.n * g.k, g.flops = 2 * g.macs;
  test::TempDir dir;
  {
    System sys(config::load_system(dir.write("fast.yaml", system("100"))));
    ASSERT_TRUE(sys.unit("pim").supports(g, nullptr));
    try {
      sys.unit("pim").plan(g);
      FAIL() << "no error";
    } catch (const OverflowError& e) {
      EXPECT_NE(std::string(e.what()).find("PIM kernel cycles does not fit in 64 bits"),
                std::string::npos)
          << e.what();
    }
  }
  System sys(config::load_system(dir.write("slow.yaml", system("10"))));
  const i64 lo = 32767 * (i64(1) << 32);
  const i64 cycles = sys.unit("pim").plan(g).cost.compute_cycles;
  EXPECT_GE(cycles, lo * 10000);
  EXPECT_LE(cycles, (lo + 32768 * 1000) * 10000);
}

// A kernel's command count comes in closed form (to refuse one too long before building it):
// it equals the generated stream's length, AiM with whole-row and grouped result reads and a
// last chunk shorter than a row, HBM-PIM with an odd number of input tiles.
TEST(Pim, KernelLengthInClosedFormEqualsTheStream) {
  const dram::DramConfig a = dram::load_dram(test::source_dir() + "/configs/dram/aim-gddr6.yaml");
  for (auto [m, n, bits, group] : {std::tuple<i64, i64, int, i64>{1000, 4096, 8, 0},
                                   {4096, 5000, 8, 128},
                                   {300, 11008, 4, 128},
                                   {256, 100, 4, 32}}) {
    const AimLayout l = aim_layout(a, m, n, bits, group);
    EXPECT_EQ(aim_stream_commands(a, l), i64(aim_gemv_stream(a, l).size()))
        << m << " x " << n << " int" << bits << " g" << group;
  }
  const dram::DramConfig c = samsung_pim_device();
  for (auto [m, n, bits] :
       {std::tuple<i64, i64, int>{1000, 4096, 16}, {4096, 4096 + 128, 16}, {8192, 11008, 8}}) {
    const GemvLayout l = hbm_pim_layout(c, 64, 8, m, n, bits);
    EXPECT_EQ(hbm_pim_stream_commands(c, l), i64(hbm_pim_gemv_stream(c, l).size()))
        << m << " x " << n << " at " << bits;
  }
}

// A kernel that fits the banks but would take gigabytes of commands to time is refused before
// its list is built. By hand: 16 banks of 2^20 rows, a 2^19 x 2^15 int8 GEMV: 2^15 batches of
// 16 chunks (bank rows 2^19 fit); a chunk is a 2 KiB row, 64 bursts of 32 bytes: 64 WRGB, then
// per batch 64 MACABs and one RDMAC (16 banks x 2 bytes): 16 x (64 + 32768 x 65) commands.
TEST(Pim, KernelTooLongToTimeIsRefused) {
  const std::string yaml =
      "system:\n  name: s\n  clock_ghz: 1.0\n  tech: " + test::source_dir() +
      "/configs/tech/45nm.yaml\n  memory: {kind: gddr5, model: dram, dram: {preset: GDDR6-14000, "
      "channels: 1, org: {rows: 1048576}}}\n  units:\n    pim: {impl: pim, style: aim}\n"
      "    host: {impl: vector, lanes: 1}\n  mapping: {gemv: pim, default: host}\n";
  test::TempDir dir;
  System sys(config::load_system(dir.write("s.yaml", yaml)));
  Op g;
  g.name = "g", g.kind = OpKind::gemv, g.m = 1, g.n = 1 << 19, g.k = 1 << 15, g.weight_bits = 8;
  g.act_bits = 8, g.dtype = "w8a8", g.macs = g.n * g.k, g.flops = 2 * g.macs;
  ASSERT_TRUE(sys.unit("pim").supports(g, nullptr));
  try {
    sys.unit("pim").plan(g);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("has " + std::to_string(16 * (64 + 32768 * 65)) +
                                         " DRAM commands, more than the 33554432"),
              std::string::npos)
        << e.what();
  }
}
