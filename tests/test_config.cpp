#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/config/yaml_reader.hpp"
#include "test_util.hpp"
#include "workloads/rng.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

const char* kModel = R"(model:
  name: t
  dim: 64
  hidden_dim: 160
  n_layers: 2
  n_heads: 4
  n_kv_heads: 2
  vocab_size: 256
  seq_len: 64
  quant:
    weights: int8
    group_size: 32
)";

// Replaces the first occurrence of `from` in the model text.
std::string edit(std::string text, const std::string& from, const std::string& to) {
  auto p = text.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return text.replace(p, from.size(), to);
}

// Loads `text` as a model file and returns the error message ("" when it loads).
std::string model_error(const std::string& text) {
  TempDir dir;
  auto p = dir.write("m.yaml", text);
  try {
    config::load_model(p);
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(p.string()), std::string::npos) << "error must name the file: " << msg;
    return msg;
  }
  return "";
}

void expect_has(const std::string& msg, const std::string& fragment) {
  EXPECT_NE(msg.find(fragment), std::string::npos) << "expected '" << fragment << "' in:\n" << msg;
}

}  // namespace

TEST(Config, ValidModelLoads) {
  EXPECT_EQ(model_error(kModel), "");
  TempDir dir;
  ModelSpec m = config::load_model(dir.write("m.yaml", kModel));
  EXPECT_EQ(m.n_kv_heads, 2);
  EXPECT_EQ(m.quant.group_size, 32);
  EXPECT_EQ(m.quant.kv_bits, 16);  // default for quantized weights
  EXPECT_EQ(m.quant.act_bits(), 8);
  EXPECT_EQ(m.weights.kind, WeightSource::Kind::synthetic);
}

TEST(Config, UnknownKeySuggestsNearest) {
  std::string e = model_error(edit(kModel, "n_kv_heads: 2", "n_kv_head: 2"));
  expect_has(e, "model.n_kv_head: unknown key (did you mean 'n_kv_heads'?)");
  expect_has(e, ":7:");  // line of the key
}

TEST(Config, WrongTypeNamesKeyAndExpectation) {
  std::string e = model_error(edit(kModel, "dim: 64", "dim: sixty-four"));
  expect_has(e, "model.dim: expected an integer in [2, 1048576], found 'sixty-four'");
  e = model_error(edit(kModel, "dim: 64", "dim: [64]"));
  expect_has(e, "model.dim: expected an integer in [2, 1048576], found a list");
}

TEST(Config, OutOfRangeValue) {
  expect_has(model_error(edit(kModel, "n_layers: 2", "n_layers: 0")),
             "model.n_layers: expected an integer in [1, 4096], found 0");
}

TEST(Config, MissingRequiredKey) {
  expect_has(model_error(edit(kModel, "  vocab_size: 256\n", "")),
             "model: missing required key 'vocab_size'");
}

TEST(Config, BadChoiceSuggests) {
  expect_has(model_error(edit(kModel, "weights: int8", "weights: itn8")),
             "model.quant.weights: found 'itn8', expected one of fp32, fp16, bf16");
  expect_has(model_error(edit(kModel, "weights: int8", "weights: itn8")), "(did you mean 'int8'?)");
  // Only the name is wrong: no follow-on errors about keys that would fit int8.
  EXPECT_EQ(model_error(edit(kModel, "weights: int8", "weights: itn8")).find("does not apply"),
            std::string::npos);
  expect_has(model_error(edit(kModel, "group_size: 32", "group_size: 48")),
             "model.quant.group_size: found '48', expected 32, 64, 128 or per_channel");
}

TEST(Config, StructuralProblems) {
  expect_has(model_error(edit(kModel, "n_kv_heads: 2", "n_kv_heads: 3")),
             "model.n_kv_heads: must divide n_heads (4)");
  expect_has(model_error(edit(kModel, "group_size: 32", "group_size: 128")),
             "model.quant.group_size: 128 must divide dim (64)");
  expect_has(model_error(edit(kModel, "n_heads: 4", "n_heads: 5")),
             "model.n_heads: must divide dim (64)");
}

TEST(Config, EveryErrorIsReportedAtOnce) {
  std::string e =
      model_error(edit(edit(kModel, "dim: 64", "dim: x"), "seq_len: 64", "seq_lne: 64"));
  expect_has(e, "model.dim");
  expect_has(e, "model.seq_lne: unknown key");
  expect_has(e, "missing required key 'seq_len'");
}

TEST(Config, KeysThatDoNotApply) {
  expect_has(model_error(edit(kModel, "weights: int8\n    group_size: 32",
                              "weights: fp32\n    group_size: 32")),
             "model.quant.group_size: does not apply to float32 weights");
  TempDir dir;
  auto p = dir.write("w.yaml",
                     "workload:\n  name: w\n  phase: decode\n  context_len: 4\n  prompt_len: 3\n");
  try {
    config::load_workload(p);
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "workload.prompt_len: applies only to phase: prefill");
  }
  // A prefill may generate tokens after its prompt (a whole request), never a negative count.
  auto ok = dir.write("g.yaml",
                      "workload:\n  name: g\n  phase: prefill\n  prompt_len: 8\n"
                      "  generated_tokens: 5\n");
  EXPECT_EQ(config::load_workload(ok).generated_tokens, 5);
  EXPECT_EQ(config::load_workload(ok).passes(), 6);
  auto bad = dir.write("b.yaml",
                       "workload:\n  name: g\n  phase: prefill\n  prompt_len: 8\n"
                       "  generated_tokens: -1\n");
  try {
    config::load_workload(bad);
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "workload.generated_tokens");
  }
}

TEST(Config, NotAMappingAndWrongKind) {
  expect_has(model_error("- just\n- a list\n"), "expected a mapping of keys, found a list");
  expect_has(model_error("modle:\n  name: x\n"), "modle: unknown key (did you mean 'model'?)");
  TempDir dir;
  auto p = dir.write("x.yaml", "sytem:\n  a: 1\n");
  try {
    config::detect_kind(p);
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "unknown kind of config; expected one of model, workload, job");
  }
}

TEST(Config, SyntaxErrorHasLine) {
  std::string e = model_error("model:\n  name: t\n  dim: [1, 2\n");
  expect_has(e, "YAML syntax error");
}

// yaml-cpp keeps both copies of a repeated key and a lookup finds the first: the later value
// would be lost without a word. Every YAML qaccel reads goes through the one loader.
TEST(Config, DuplicateKeysAreRejectedWithLineAndPath) {
  // Top level of the model mapping (line 3), inside quant (line 14) and in a flow mapping.
  std::string e = model_error(edit(kModel, "  dim: 64\n", "  dim: 64\n  dim: 128\n"));
  expect_has(e, ":4:3: model.dim: duplicate key 'dim' (first at line 3)");
  e = model_error(std::string(kModel) + "    group_size: 64\n");
  expect_has(e, "model.quant.group_size: duplicate key 'group_size'");
  e = model_error(edit(kModel, "  quant:\n    weights: int8\n    group_size: 32\n",
                       "  quant: {weights: int8, group_size: 32, weights: int4}\n"));
  expect_has(e, "model.quant.weights: duplicate key 'weights'");
  // Inside a list, and in every kind of file (a layer list here).
  TempDir dir;
  auto p = dir.write("l.yaml", "layers:\n  - gemm: {m: 1, n: 2, k: 3, m: 4}\n");
  try {
    config::load_layers(p);
    FAIL() << "duplicate key accepted";
  } catch (const ConfigError& err) {
    expect_has(err.what(), "layers[0].gemm.m: duplicate key 'm'");
  }
  // The same key in different mappings is fine.
  EXPECT_EQ(model_error(kModel), "");
}

// Aliases share nodes: checking them must not walk every path (exponential in the depth).
TEST(Config, DuplicateKeyCheckVisitsAliasedNodesOnce) {
  std::string text = "a0: &a0 {x: 1}\n";
  for (int i = 1; i < 40; ++i)
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
            ", *a" + std::to_string(i - 1) + "]\n";
  EXPECT_NO_THROW(config::load_yaml_text(text, "aliases.yaml"));
}

TEST(Config, MissingFile) {
  try {
    config::load_model("/nonexistent/m.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "/nonexistent/m.yaml: no such file");
  }
}

TEST(Config, CheckpointPathResolvesRelativeToTheFile) {
  TempDir dir;
  auto p =
      dir.write("sub/m.yaml",
                std::string(kModel) + "  weights:\n    source: checkpoint\n    path: ../w/x.bin\n");
  ModelSpec m = config::load_model(p);
  EXPECT_EQ(m.weights.path, dir.path / "sub" / "../w/x.bin");
  expect_has(model_error(std::string(kModel) + "  weights:\n    source: checkpoint\n"),
             "model.weights: missing required key 'path'");
}

TEST(Config, JobResolvesFilesAndChecksWorkloadAgainstModel) {
  TempDir dir;
  dir.write("models/m.yaml", kModel);
  dir.write("w/long.yaml", "workload:\n  name: w\n  phase: prefill\n  prompt_len: 100\n");
  auto job = dir.write("job.yaml", "job:\n  model: models/m.yaml\n  workload: w/long.yaml\n");
  try {
    config::load_job(job);
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "prompt_len: 100 exceeds the model's seq_len 64");
  }
  auto bad = dir.write("job2.yaml",
                       "job:\n  model: models/nope.yaml\n  workload:\n    name: w\n    phase: "
                       "decode\n    context_len: 4\n");
  try {
    config::load_job(bad);
    FAIL();
  } catch (const ConfigError& e) {
    expect_has(e.what(), "job.model: in the referenced file");
    expect_has(e.what(), "nope.yaml: no such file");
  }
}

TEST(Config, ShippedConfigsAllValidate) {
  // Every kind `qaccel validate` checks itself (sweeps go through the DSE driver): systems with
  // their mapping check, DRAM files, tech, layer lists.
  for (const auto& dir : {"models", "workloads", "systems", "dram", "tech", "layers"})
    for (const auto& f :
         std::filesystem::directory_iterator(test::source_dir() + "/configs/" + dir))
      EXPECT_NO_THROW(config::validate_file(f.path())) << f.path();
  EXPECT_NO_THROW(config::validate_file(test::source_dir() + "/configs/default.yaml"));
}

// Truncations of a valid file and random bytes: always a ConfigError or a clean load, never a
// crash (the sanitizer build runs this too).
TEST(Config, TruncatedAndGarbageInputs) {
  TempDir dir;
  std::string full = kModel;
  for (std::size_t cut = 0; cut < full.size(); cut += 3) {
    auto p = dir.write("t.yaml", full.substr(0, cut));
    try {
      config::validate_file(p);
    } catch (const ConfigError&) {
    }
  }
  SplitMix64 g(3);
  const std::string alphabet = "model:name-[]{}\n \t:,#&*!|>'\"%@`0123456789abc\\\x01\xff";
  for (int i = 0; i < 300; ++i) {
    std::string junk(g.below(200), ' ');
    for (char& c : junk)
      c = alphabet[g.below(std::uint32_t(alphabet.size()))];
    auto p = dir.write("g.yaml", i % 2 ? "model:\n  " + junk : junk);
    try {
      config::validate_file(p);
    } catch (const ConfigError&) {
    }
  }
  EXPECT_THROW(config::validate_file(
                   dir.write("deep.yaml", std::string(5000, '[') + std::string(5000, ']'))),
               ConfigError);
  EXPECT_THROW(config::validate_file(dir.write("nul.yaml", std::string("model:\0", 7))),
               ConfigError);
  EXPECT_THROW(config::validate_file(dir.write("empty.yaml", "")), ConfigError);
}

TEST(Config, SchemeNamesRoundTrip) {
  for (const char* s : {"fp32",
                        "w8a8-g32-kv16",
                        "w4a16-pc-kv8",
                        "w3a8-g128-kv32-agroup",
                        "w2a8-g32-kv4",
                        "fp16-kv16",
                        "bf16-kv8",
                        "fp8e4m3-pc-kv16",
                        "fp8e5m2-afp8e5m2-g128-kv16-agroup",
                        "int4-afp16-g128-kv16",
                        "int4asym-g64-kv16",
                        "int8asym-a16-pc-kv8",
                        "flint4-a8-g64-kv16",
                        "fp3-g32-kv16",
                        "fp4-abf16-g64-kv16",
                        "bitmod3-g128-kv16",
                        "bitmod4-a8-g64-kv16",
                        "olive4-a8-g128-kv16",
                        "mxint8-kv16",
                        "mxfp6-afp8e4m3-kv16",
                        "mxfp4-kv4",
                        "nvfp4-kv16"})
    EXPECT_EQ(parse_scheme(s).name(), s);
  EXPECT_EQ(parse_scheme("w4a8").name(), "w4a8-g64-kv16");
  EXPECT_EQ(parse_scheme("int4-a8").name(), "w4a8-g64-kv16");  // the legacy spelling wins
  EXPECT_EQ(parse_scheme("bitmod3").name(), "bitmod3-g128-kv16");
  EXPECT_EQ(parse_scheme("fp16-afp16").name(), "fp16-kv16");
  EXPECT_THROW(parse_scheme("w9a8"), ConfigError);
  EXPECT_THROW(parse_scheme("w1a8"), ConfigError);
  EXPECT_THROW(parse_scheme("w4a8-afp16"), ConfigError);          // activations twice
  EXPECT_THROW(parse_scheme("mxfp4-g32"), ConfigError);           // fixed block
  EXPECT_THROW(parse_scheme("fp16-g64"), ConfigError);            // no groups
  EXPECT_THROW(parse_scheme("mxfp4-afp16-agroup"), ConfigError);  // unscaled inputs
  EXPECT_THROW(parse_scheme("int4-afp12"), ConfigError);
  EXPECT_THROW(parse_scheme("fp32-afp16"), ConfigError);
  EXPECT_THROW(parse_scheme("nvfp5"), ConfigError);
  EXPECT_THROW(parse_scheme("w4a8-kv2"), ConfigError);
  EXPECT_THROW(parse_scheme("w8a8-g48"), ConfigError);
  EXPECT_THROW(parse_scheme("w8a8-xx"), ConfigError);
  EXPECT_THROW(parse_scheme(""), ConfigError);
}

// SCALE-Sim CSV layer lists: truncations and random bytes give an error or a clean load.
TEST(Config, LayerCsvSurvivesGarbage) {
  TempDir dir;
  std::string good = "Layer, M, N, K,\nfc1, 64, 128, 256,\nfc2, 1, 4096, 4096,\n";
  auto ok = config::load_layers(dir.write("ok.csv", good));
  ASSERT_EQ(ok.graph.ops.size(), 2u);
  EXPECT_EQ(ok.graph.ops[1].kind, OpKind::gemv);
  EXPECT_EQ(ok.graph.ops[0].macs, 64LL * 128 * 256);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    try {
      config::load_layers(dir.write("t.csv", good.substr(0, cut)));
    } catch (const ConfigError&) {
    }
  }
  SplitMix64 g(5);
  for (int i = 0; i < 300; ++i) {
    std::string junk(g.below(300), ' ');
    for (char& c : junk)
      c = char(g.below(256));
    try {
      config::load_layers(dir.write("g.csv", junk));
    } catch (const ConfigError&) {
    }
  }
  EXPECT_THROW(config::load_layers(dir.write("empty.csv", "")), ConfigError);
}

// Where a file is expected, only a regular file: a FIFO would block the open forever and
// /dev/zero would be read without end. Each loader is run in a child with an alarm, so a hang
// fails the test instead of stalling the suite.
TEST(Config, OnlyRegularFilesAreRead) {
  TempDir dir;
  const auto fifo = dir.path / "fifo.csv", zero = dir.path / "zero.csv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::filesystem::create_symlink("/dev/zero", zero);
  std::filesystem::create_symlink("/dev/zero", dir.path / "zero.yaml");
  std::filesystem::create_symlink("/dev/zero", dir.path / "zero.bin");
  auto error_of = [](const std::function<void()>& load) {
    return test::in_child([&] {
      ::alarm(20);
      try {
        load();
      } catch (const ConfigError& e) {
        return std::string(e.what());
      }
      return std::string("loaded");
    });
  };
  for (const auto& p : {fifo, zero})
    expect_has(error_of([&] { config::load_layers(p); }), p.string() + ": not a regular file");
  expect_has(error_of([&] { config::load_layers(dir.path); }), "not a regular file (a directory)");
  expect_has(error_of([&] { config::load_model(dir.path / "zero.yaml"); }),
             "not a regular file (a character device)");
  expect_has(error_of([&] { spec_from_checkpoint(fifo); }),
             "checkpoint " + fifo.string() + ": not a regular file (a FIFO)");
  expect_has(error_of([&] { spec_from_checkpoint(dir.path / "zero.bin"); }), "not a regular file");
}

// Layer-list dependencies: a chain by default, `after` names predecessors, `after: []` frees a
// layer; duplicates, unknown names and cycles are errors naming the key path.
TEST(Config, LayerListDependencies) {
  TempDir dir;
  auto l = config::load_layers(dir.write("d.yaml",
                                         "layers:\n"
                                         "  - gemm: {name: a, m: 8, n: 8, k: 8}\n"
                                         "  - gemm: {name: b, m: 8, n: 8, k: 8}\n"
                                         "  - gemm: {name: c, m: 8, n: 8, k: 8}\n"
                                         "    after: []\n"
                                         "  - gemm: {name: d, m: 8, n: 8, k: 8}\n"
                                         "    after: [a, c]\n"));
  const OpGraph& g = l.graph;
  EXPECT_EQ(g.preds[0], std::vector<int>{});
  EXPECT_EQ(g.preds[1], std::vector<int>{0});
  EXPECT_EQ(g.preds[2], std::vector<int>{});
  EXPECT_EQ(g.preds[3], (std::vector<int>{0, 2}));
  auto csv = config::load_layers(dir.write("c.csv", "x, 4, 4, 4\ny, 4, 4, 4\n"));
  EXPECT_EQ(csv.graph.preds[1], std::vector<int>{0});
  auto expect_error = [&](const std::string& yaml, const std::string& frag) {
    try {
      config::load_layers(dir.write("e.yaml", yaml));
      ADD_FAILURE() << "no error for " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
    }
  };
  expect_error(
      "layers:\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n",
      "layers[1].gemm.name: layer name 'a' is used twice");
  expect_error("layers:\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n    after: a\n",
               "layers[0].after: expected a list of layer names (or [] for none), found 'a'");
  expect_error("layers:\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n    after: [a]\n",
               "layers[0].after[0]: a layer cannot wait for itself");
  expect_error(
      "layers:\n  - gemm: {name: a, m: 8, n: 8, k: 8}\n    after: [b]\n"
      "  - gemm: {name: b, m: 8, n: 8, k: 8}\n    after: [a]\n",
      "form a cycle (each waits for the next): ");
}
