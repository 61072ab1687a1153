#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "sim/base/error.hpp"
#include "test_util.hpp"
#include "workloads/reference.hpp"
#include "workloads/rng.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

void expect_error(const std::filesystem::path& p, const std::string& fragment) {
  try {
    read_checkpoint_header(p);
    FAIL() << "no error for " << p;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Checkpoint, WriteThenReadBack) {
  TempDir dir;
  for (bool shared : {true, false}) {
    ModelSpec m = test::small_model(4, 2, shared);
    FloatWeights w = synthetic_weights(m, 3);
    auto path = dir.path / (shared ? "shared.bin" : "unshared.bin");
    write_checkpoint(path, m, w);
    // Size exactly as llama2.c lays it out: header + tensors + RoPE tables (+ classifier).
    std::size_t floats = std::size_t(m.n_params()) + std::size_t(m.seq_len) * m.head_size();
    EXPECT_EQ(std::filesystem::file_size(path), 28 + floats * 4);
    ModelSpec r = spec_from_checkpoint(path);
    EXPECT_EQ(r.dim, m.dim);
    EXPECT_EQ(r.n_kv_heads, 2);
    EXPECT_EQ(r.vocab_size, m.vocab_size);
    EXPECT_EQ(r.shared_classifier, shared);
    FloatWeights back = load_checkpoint(path, m);
    EXPECT_EQ(back.wq, w.wq);
    EXPECT_EQ(back.w2, w.w2);
    EXPECT_EQ(back.rms_final, w.rms_final);
    EXPECT_EQ(back.wcls, w.wcls);
    EXPECT_EQ(back.classifier(), w.classifier());
  }
}

TEST(Checkpoint, HeaderFieldsInLlama2cOrder) {
  TempDir dir;
  ModelSpec m = test::small_model(4, 2, false);
  write_checkpoint(dir.path / "m.bin", m, synthetic_weights(m, 1));
  std::ifstream in(dir.path / "m.bin", std::ios::binary);
  std::int32_t h[7];
  in.read(reinterpret_cast<char*>(h), sizeof h);
  EXPECT_EQ(h[0], 64);   // dim
  EXPECT_EQ(h[1], 96);   // hidden_dim
  EXPECT_EQ(h[2], 2);    // n_layers
  EXPECT_EQ(h[3], 4);    // n_heads
  EXPECT_EQ(h[4], 2);    // n_kv_heads
  EXPECT_EQ(h[5], -97);  // vocab_size, negative: separate classifier
  EXPECT_EQ(h[6], 32);   // seq_len
}

TEST(Checkpoint, ReferenceOnLoadedWeightsEqualsOriginal) {
  TempDir dir;
  ModelSpec m = test::small_model();
  FloatWeights w = synthetic_weights(m, 9);
  write_checkpoint(dir.path / "m.bin", m, w);
  Reference a(m, w), b(m, load_checkpoint(dir.path / "m.bin", m));
  for (int pos = 0; pos < 3; ++pos) {
    auto la = a.forward(pos + 1, pos);
    std::vector<float> ca(la.begin(), la.end());
    auto lb = b.forward(pos + 1, pos);
    EXPECT_TRUE(std::equal(ca.begin(), ca.end(), lb.begin()));
  }
}

TEST(Checkpoint, TruncatedFilesAreRejected) {
  TempDir dir;
  ModelSpec m = test::small_model();
  write_checkpoint(dir.path / "full.bin", m, synthetic_weights(m, 1));
  std::ifstream in(dir.path / "full.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (std::size_t cut : {std::size_t(0), std::size_t(5), std::size_t(27), std::size_t(28),
                          std::size_t(1000), bytes.size() - 1}) {
    auto p = dir.write("cut" + std::to_string(cut) + ".bin", bytes.substr(0, cut));
    expect_error(p, "truncated");
  }
  expect_error(dir.write("long.bin", bytes + "xyz!"), "inconsistent");
}

TEST(Checkpoint, GarbageIsRejectedWithoutCrashing) {
  TempDir dir;
  SplitMix64 g(17);
  for (int i = 0; i < 200; ++i) {
    std::string junk(std::size_t(g.below(4096)), '\0');
    for (char& c : junk)
      c = char(g.below(256));
    // Half the cases: a plausible-looking header so the size and shape checks are exercised.
    if (i % 2 && junk.size() >= 28) {
      std::int32_t h[7] = {int(g.below(512)) + 1, int(g.below(512)) + 1, int(g.below(8)) + 1,
                           int(g.below(16)) + 1,  int(g.below(16)) + 1,  int(g.below(300)) - 150,
                           int(g.below(64))};
      std::memcpy(junk.data(), h, sizeof h);
    }
    auto p = dir.write("junk.bin", junk);
    EXPECT_THROW(read_checkpoint_header(p), ConfigError);
  }
  expect_error(dir.path / "missing.bin", "no such file");
}

TEST(Checkpoint, ShapeMismatchWithModelIsRejected) {
  TempDir dir;
  ModelSpec m = test::small_model();
  write_checkpoint(dir.path / "m.bin", m, synthetic_weights(m, 1));
  ModelSpec other = m;
  other.hidden_dim = 128;
  try {
    load_checkpoint(dir.path / "m.bin", other);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("shapes differ"), std::string::npos) << e.what();
  }
}

// A NaN weight poisons the logits, and NaN compares false with everything: error statistics
// would report perfect agreement. The loader refuses non-finite weights, naming the tensor,
// the element and the byte offset.
TEST(Checkpoint, NonFiniteWeightsAreRejected) {
  TempDir dir;
  ModelSpec m = test::small_model();
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    FloatWeights w = synthetic_weights(m, 1);
    w.wk[5] = bad;
    auto path = dir.path / "bad.bin";
    write_checkpoint(path, m, w);
    try {
      load_checkpoint(path, m);
      FAIL() << "non-finite weight accepted";
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("tensor wk element 5"), std::string::npos) << msg;
      // Header, embedding, rms_att and wq come before wk.
      const std::size_t before =
          std::size_t(m.vocab_size) * m.dim + std::size_t(m.n_layers) * (m.dim + m.dim * m.dim);
      EXPECT_NE(msg.find("byte offset " + std::to_string(28 + (before + 5) * 4)), std::string::npos)
          << msg;
      EXPECT_NE(msg.find(std::isnan(bad) ? "NaN" : "infinite"), std::string::npos) << msg;
    }
  }
}
