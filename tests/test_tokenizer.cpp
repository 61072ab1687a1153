// llama2.c's tokenizer (workloads/tokenizer.hpp) and perplexity (workloads/evaluate.hpp).
#include <gtest/gtest.h>

#include <set>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "sim/base/error.hpp"
#include "test_util.hpp"
#include "workloads/evaluate.hpp"
#include "workloads/reference.hpp"
#include "workloads/rng.hpp"
#include "workloads/tokenizer.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;
using qaccel::test::TempDir;

namespace {

// A vocabulary laid out as Llama 2's: <unk>, BOS, EOS, the 256 byte pieces <0x00>..<0xFF>,
// then `extra` (piece, score) in id order from 259.
struct Vocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  int max_len = 0;

  explicit Vocab(const std::vector<std::pair<std::string, float>>& extra) {
    add("<unk>", 0), add("\n<s>\n", 0), add("\n</s>\n", 0);
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      add(buf, 0);
    }
    for (const auto& [p, s] : extra)
      add(p, s);
  }
  void add(const std::string& p, float s) {
    pieces.push_back(p), scores.push_back(s);
    max_len = std::max(max_len, int(p.size()));
  }
  int id(const std::string& p) const {
    for (std::size_t i = 0; i < pieces.size(); ++i)
      if (pieces[i] == p) return int(i);
    return -1;
  }
  Tokenizer make() const { return Tokenizer(pieces, scores, max_len, "test vocabulary"); }
};

// The letters, a space and a few merges with distinct scores.
Vocab letters(const std::vector<std::pair<std::string, float>>& merges) {
  std::vector<std::pair<std::string, float>> extra{{" ", -1000}};
  for (char c = 'a'; c <= 'e'; ++c)
    extra.push_back({std::string(1, c), -1000});
  extra.insert(extra.end(), merges.begin(), merges.end());
  return Vocab(extra);
}

// run.c's encode() as it is written there: after the code-point pass, rescan every adjacent
// pair after each merge and take the best score (the first of equal ones), above -1e10.
std::vector<int> naive_encode(const Vocab& v, const std::string& text) {
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < v.pieces.size(); ++i)
    ids.emplace(v.pieces[i], int(i));
  auto find = [&](const std::string& s) {
    auto it = ids.find(s);
    return it == ids.end() ? -1 : it->second;
  };
  std::vector<int> t{1};
  if (!text.empty()) t.push_back(find(" "));
  std::string buf;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((text[i] & 0xC0) != 0x80) buf.clear();
    buf += text[i];
    if (i + 1 < text.size() && (text[i + 1] & 0xC0) == 0x80 && buf.size() < 4) continue;
    int id = find(buf);
    if (id >= 0)
      t.push_back(id);
    else
      for (char c : buf)
        t.push_back(static_cast<unsigned char>(c) + 3);
    buf.clear();
  }
  for (;;) {
    float best = -1e10f;
    int best_i = -1, best_id = -1;
    for (std::size_t i = 0; i + 1 < t.size(); ++i) {
      int id = find(v.pieces[std::size_t(t[i])] + v.pieces[std::size_t(t[i + 1])]);
      if (id >= 0 && v.scores[std::size_t(id)] > best)
        best = v.scores[std::size_t(id)], best_i = int(i), best_id = id;
    }
    if (best_i < 0) break;
    t[std::size_t(best_i)] = best_id;
    t.erase(t.begin() + best_i + 1);
  }
  return t;
}

std::vector<int> ids_of(const Vocab& v, const std::vector<std::string>& pieces) {
  std::vector<int> out{1};
  for (const auto& p : pieces) {
    out.push_back(v.id(p));
    EXPECT_GE(out.back(), 0) << p;
  }
  return out;
}

void expect_error(const std::filesystem::path& p, int vocab, const std::string& fragment) {
  try {
    read_tokenizer(p, vocab);
    ADD_FAILURE() << "no error for " << p << " (expected '" << fragment << "')";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

std::string le32(std::int32_t v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}
std::string lef(float v) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &v, 4);
  return s;
}
std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Tokenizer, DummyPrefixAndBos) {
  Vocab v = letters({});
  Tokenizer t = v.make();
  EXPECT_EQ(t.encode("a"), ids_of(v, {" ", "a"}));
  EXPECT_EQ(t.encode(""), std::vector<int>{1});  // no dummy prefix for empty text
  EXPECT_EQ(t.encode("", false), std::vector<int>{});
  EXPECT_EQ(t.encode("ab", false, true), (std::vector<int>{v.id(" "), v.id("a"), v.id("b"), 2}));
  // A C string: the text ends at its first NUL, as run.c reads it.
  EXPECT_EQ(t.encode(std::string("a\0b", 3)), t.encode("a"));
}

TEST(Tokenizer, BestScoringPairMergesFirst) {
  {
    Vocab v = letters({{"ab", -2}, {"bc", -1}});
    EXPECT_EQ(v.make().encode("abc"), ids_of(v, {" ", "a", "bc"}));
  }
  {
    Vocab v = letters({{"ab", -1}, {"bc", -2}});
    EXPECT_EQ(v.make().encode("abc"), ids_of(v, {" ", "ab", "c"}));
  }
  {
    // Merges build on merges, in score order: "bc" first, then " a", then " abc" from
    // " a" + "bc" (there is no "abc" piece).
    Vocab v = letters({{"bc", -1}, {" a", -2}, {" abc", -3}, {"ab", -4}});
    EXPECT_EQ(v.make().encode("abc"), ids_of(v, {" abc"}));
  }
  {
    // A score at or below -1e10 never merges (run.c starts its search there).
    Vocab v = letters({{"ab", -1e10f}});
    EXPECT_EQ(v.make().encode("ab"), ids_of(v, {" ", "a", "b"}));
  }
}

TEST(Tokenizer, EqualScoresMergeLeftmost) {
  Vocab v = letters({{"aa", -1}});
  Tokenizer t = v.make();
  EXPECT_EQ(t.encode("aaa"), ids_of(v, {" ", "aa", "a"}));
  EXPECT_EQ(t.encode("aaaaa"), ids_of(v, {" ", "aa", "aa", "a"}));
  Vocab w = letters({{"aa", -1}, {"aaa", -2}});
  EXPECT_EQ(w.make().encode("aaaa"), ids_of(w, {" ", "aa", "aa"}));
}

TEST(Tokenizer, ByteFallbackForUnknownCharacters) {
  Vocab v = letters({});
  Tokenizer t = v.make();
  // é (C3 A9) is no piece: one token per byte, id = byte + 3.
  EXPECT_EQ(t.encode("a\xC3\xA9"), (std::vector<int>{1, v.id(" "), v.id("a"), 0xC3 + 3, 0xA9 + 3}));
  // A piece for the code point takes it whole.
  Vocab w = letters({{"\xC3\xA9", -5}});
  EXPECT_EQ(w.make().encode("\xC3\xA9"), ids_of(w, {" ", "\xC3\xA9"}));
  // A stray continuation byte and an over-long sequence (5 bytes): units of at most 4 bytes.
  std::string odd =
      "\x80"
      "a\xF0\x9F\x98\x80\x80";
  EXPECT_EQ(t.encode(odd), naive_encode(v, odd));
  EXPECT_EQ(t.encode(odd).size(), 2 + 1 + 1 + 5u);
}

TEST(Tokenizer, DecodeRoundTrips) {
  Vocab v = letters({{"ab", -1}, {" a", -2}, {"cd", -3}, {" ", -4}, {"  ", -6}});
  Tokenizer t = v.make();
  for (std::string text : {"abcde", " a b  c", "caf\xC3\xA9 \xE2\x82\xAC 1+1=2\n\ttab", "",
                           "\xF0\x9F\x99\x82 e", "  leading spaces", "zz"}) {
    EXPECT_EQ(t.decode(t.encode(text)), text) << text;
  }
  EXPECT_EQ(t.decode(0, v.id("<0x41>")), "A");
  EXPECT_EQ(t.decode(1, v.id(" a")), "a");  // the leading space goes after BOS only
  EXPECT_EQ(t.decode(5, v.id(" a")), " a");
  EXPECT_THROW(t.decode(0, t.vocab_size()), ConfigError);
}

TEST(Tokenizer, MatchesRunCOnRandomTexts) {
  // Random vocabularies over a small alphabet (many merges, many equal scores) and random
  // texts: the heap-ordered merges give exactly run.c's rescan-every-pair result.
  SplitMix64 g(11);
  const std::string alphabet[] = {"a", "b", "c", " ", "\xC3\xA9", "x"};
  for (int round = 0; round < 40; ++round) {
    std::vector<std::pair<std::string, float>> merges;
    std::map<std::string, bool> seen{{" ", true}, {"a", true}, {"b", true}, {"c", true}};
    for (int k = 0; k < 30; ++k) {
      std::string p;
      for (int len = 2 + int(g.below(3)); len > 0; --len)
        p += alphabet[g.below(4)];  // no é, no x: those take byte fallback or a piece
      if (seen[p]) continue;
      seen[p] = true;
      merges.push_back({p, -float(g.below(6))});  // scores 0..-5: many ties
    }
    if (round % 2) merges.push_back({"\xC3\xA9", -1});
    Vocab v = letters(merges);
    Tokenizer t = v.make();
    for (int k = 0; k < 10; ++k) {
      std::string text;
      for (int n = int(g.below(40)); n > 0; --n)
        text += alphabet[g.below(6)];
      ASSERT_EQ(t.encode(text), naive_encode(v, text))
          << "round " << round << " text '" << text << "'";
      EXPECT_EQ(t.decode(t.encode(text)), text);
    }
  }
}

TEST(Tokenizer, VocabularyProblems) {
  Vocab nospace({{"a", -1}});
  Tokenizer t = nospace.make();
  EXPECT_EQ(t.encode(""), std::vector<int>{1});
  try {
    t.encode("a");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no \" \" piece"), std::string::npos) << e.what();
  }
  // Byte fallback past a small vocabulary.
  Tokenizer small({"<unk>", "<s>", "</s>", " ", "a"}, {0, 0, 0, -1, -1}, 5);
  EXPECT_EQ(small.encode("a"), (std::vector<int>{1, 3, 4}));
  EXPECT_THROW(small.encode("b"), ConfigError);
  EXPECT_THROW(Tokenizer({"a"}, {0, 0}, 1), ConfigError);
  EXPECT_THROW(Tokenizer({"abc"}, {0}, 2), ConfigError);
  EXPECT_THROW(Tokenizer({"a"}, {NAN}, 2), ConfigError);
}

TEST(Tokenizer, FileRoundTrip) {
  TempDir dir;
  Vocab v = letters({{"ab", -1.5f}, {"\xC3\xA9", 0.25f}});
  auto p = dir.path / "tokenizer.bin";
  write_tokenizer(p, v.pieces, v.scores, v.max_len);
  // llama2.c's layout: max_token_length, then score, length, bytes per piece.
  std::string bytes = slurp(p);
  EXPECT_EQ(bytes.substr(0, 4), le32(v.max_len));
  EXPECT_EQ(bytes.substr(4, 13), lef(0) + le32(5) + "<unk>");
  Tokenizer t = read_tokenizer(p, int(v.pieces.size()));
  ASSERT_EQ(t.vocab_size(), int(v.pieces.size()));
  EXPECT_EQ(t.max_token_length(), v.max_len);
  for (int i = 0; i < t.vocab_size(); ++i) {
    EXPECT_EQ(t.piece(i), v.pieces[std::size_t(i)]);
    EXPECT_EQ(t.score(i), v.scores[std::size_t(i)]);
  }
  EXPECT_EQ(t.encode("abab"), v.make().encode("abab"));
}

TEST(Tokenizer, MalformedFilesAreErrorsNamingTheFile) {
  TempDir dir;
  Vocab v = letters({{"ab", -1}});
  const int n = int(v.pieces.size());
  auto good = dir.path / "good.bin";
  write_tokenizer(good, v.pieces, v.scores, v.max_len);
  const std::string bytes = slurp(good);

  expect_error(dir.path / "missing.bin", n, "no such file");
  expect_error(dir.path, n, "not a regular file");
  expect_error(dir.write("empty.bin", ""), n, "empty file");
  expect_error(dir.write("short.bin", "ab"), n, "shorter than the 4-byte header");
  expect_error(dir.write("neg.bin", le32(-1) + bytes.substr(4)), n, "max_token_length = -1");
  expect_error(dir.write("huge.bin", le32(1 << 30) + bytes.substr(4)), n,
               "max_token_length = 1073741824");
  // The first piece: score, then a negative, too long, or past-the-end length.
  const std::string head = le32(v.max_len);
  expect_error(dir.write("neglen.bin", head + lef(0) + le32(-5) + bytes.substr(17)), n,
               "piece 0 (byte offset 4) has length -5");
  expect_error(dir.write("longlen.bin", head + lef(0) + le32(v.max_len + 1) + bytes.substr(17)), n,
               "outside 0..max_token_length");
  expect_error(dir.write("halfhead.bin", head + lef(0) + "xy"), n,
               "truncated in piece 0 (byte offset 4): 6 bytes left");
  expect_error(dir.write("body.bin", head + lef(0) + le32(6) + "abc"), n,
               "its length is 6, only 3 bytes left");
  expect_error(dir.write("nan.bin", head + lef(NAN) + bytes.substr(8)), n, "non-finite score");
  // Vocabulary mismatches: the model has more, or fewer, pieces than the file.
  expect_error(good, n + 1, "has only " + std::to_string(n) + " pieces, the model's vocab_size");
  expect_error(
      good, n - 2,
      "has " + std::to_string(n) + " pieces, the model's vocab_size is " + std::to_string(n - 2));
  expect_error(dir.write("trail.bin", bytes + "xyz"), n, "3 trailing bytes after the");
  expect_error(good, 0, "not positive");

  // Every truncation of a good file, and garbage, is an error (never a crash or a hang).
  for (std::size_t len = 0; len < bytes.size(); len += (len < 40 ? 1 : 61)) {
    auto p = dir.write("cut.bin", bytes.substr(0, len));
    EXPECT_THROW(read_tokenizer(p, n), ConfigError) << len;
  }
  SplitMix64 g(3);
  for (int k = 0; k < 60; ++k) {
    std::string junk = bytes;
    for (int flips = 1 + int(g.below(8)); flips > 0; --flips)
      junk[g.below(std::uint32_t(junk.size()))] = char(g.next());
    auto p = dir.write("junk.bin", junk);
    try {
      Tokenizer t = read_tokenizer(p, n);
      (void)t.encode("abc \xC3\xA9 xyz");
    } catch (const ConfigError&) {
    }
  }
}

// --- comparison schemes and perplexity -------------------------------------------------------

TEST(Evaluate, ComparisonSchemes) {
  ModelSpec m = test::small_model();
  m.quant = parse_scheme("w8a8-g32");
  auto s = comparison_schemes(m, false);
  std::vector<std::string> names;
  for (const auto& q : s)
    names.push_back(q.name());
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "w8a8-g32-kv16",    "w8a16-g32-kv16",      "int8asym-g32-kv16", "mxint8-kv16",
                "fp8e4m3-pc-kv16",  "fp8e5m2-pc-kv16",     "mxfp6-kv16",        "w4a8-g32-kv16",
                "w4a16-g32-kv16",   "int4-afp16-g32-kv16", "int4asym-g32-kv16", "flint4-g32-kv16",
                "fp4-g32-kv16",     "bitmod4-g32-kv16",    "olive4-g32-kv16",   "mxfp4-kv16",
                "nvfp4-kv16",       "w3a16-g32-kv16",      "int3asym-g32-kv16", "fp3-g32-kv16",
                "bitmod3-g32-kv16", "w8a8-g32-kv8",        "w8a8-g32-kv4",      "fp16-kv16",
                "bf16-kv16"}));
  // Every weight format but fp32 is in the list (the 3-, 4- and 8-bit ones included).
  std::set<WeightFormat> covered;
  for (const auto& q : s)
    covered.insert(q.weights);
  for (const std::string& n : weight_format_names()) {
    WeightFormat f{};
    parse_weight_format(n, f);
    const int b = weight_bits(f);
    if (f != WeightFormat::fp32 && (b == 3 || b == 4 || b == 8 || b == 16)) {
      EXPECT_TRUE(covered.count(f)) << n;
    }
  }
  ASSERT_EQ(comparison_schemes(m, true).size(), 1u);
  EXPECT_EQ(comparison_schemes(m, true)[0], m.quant);
  m.quant = QuantSpec{};
  EXPECT_TRUE(comparison_schemes(m, true).empty());
  // A float model: group 64 when it fits, else 32 (hidden_dim 96), else per channel.
  s = comparison_schemes(m, false);
  ASSERT_EQ(s.size(), 25u);
  EXPECT_EQ(s[0].name(), "w8a8-g32-kv16");
  EXPECT_EQ(s[21].name(), "w8a8-g32-kv8");
  m.hidden_dim = 128;
  EXPECT_EQ(comparison_schemes(m, false)[0].name(), "w8a8-g64-kv16");
  m.dim = 8, m.hidden_dim = 16, m.n_heads = 2, m.n_kv_heads = 2;
  EXPECT_EQ(comparison_schemes(m, false)[0].name(), "w8a8-pc-kv16");
  // An fp16 model leads with its own scheme, once.
  m.quant = parse_scheme("fp16");
  s = comparison_schemes(m, false);
  EXPECT_EQ(s.front(), m.quant);
  EXPECT_EQ(std::count(s.begin(), s.end(), m.quant), 1);
}

namespace {

ModelSpec ppl_model() {
  ModelSpec m;
  m.name = "ppl";
  m.dim = 32, m.hidden_dim = 64, m.n_layers = 2, m.n_heads = 4, m.n_kv_heads = 2;
  m.vocab_size = 300, m.seq_len = 16, m.shared_classifier = false;
  return m;
}

// 300 pieces: Llama 2's first 259, a space, the letters and some merges, filler.
Vocab ppl_vocab() {
  std::vector<std::pair<std::string, float>> extra{{" ", -1000}};
  for (char c = 'a'; c <= 'z'; ++c)
    extra.push_back({std::string(1, c), -1000});
  for (const char* p : {"th", "he", " t", " the", "an", "in", " a", "on", "er", "ed"})
    extra.push_back({p, -float(extra.size())});
  while (extra.size() + 259 < 300)
    extra.push_back({"<filler" + std::to_string(extra.size()) + ">", -1e9f});
  return Vocab(extra);
}

}  // namespace

TEST(Evaluate, PerplexityMatchesAnIndependentComputation) {
  TempDir dir;
  ModelSpec m = ppl_model();
  write_checkpoint(dir.path / "model.bin", m, synthetic_weights(m, 5));
  Vocab v = ppl_vocab();
  ASSERT_EQ(int(v.pieces.size()), m.vocab_size);
  write_tokenizer(dir.path / "tokenizer.bin", v.pieces, v.scores, v.max_len);
  const std::string text =
      "the cat sat on the mat and then the dog ran in the garden; Zed's ninth edition!";

  // As `qaccel ref --checkpoint model.bin --perplexity ... --tokenizer tokenizer.bin` reads them.
  ModelSpec cm = spec_from_checkpoint(dir.path / "model.bin");
  FloatWeights w = load_checkpoint(dir.path / "model.bin", cm);
  Tokenizer tok = read_tokenizer(dir.path / "tokenizer.bin", cm.vocab_size);
  std::vector<int> tokens = tok.encode(text);
  ASSERT_GT(tokens.size(), 3u * std::size_t(cm.seq_len));  // several windows, a partial last one
  ASSERT_NE(tokens.size() % std::size_t(cm.seq_len), 0u);
  EXPECT_EQ(tok.decode(tokens), text);

  Perplexity r = perplexity(cm, w, tokens);
  const long long n = (long long)tokens.size(), L = cm.seq_len;
  EXPECT_EQ(r.predicted, n - (n + L - 1) / L);
  EXPECT_EQ(r.windows, (n + L - 1) / L);
  EXPECT_EQ(r.nonfinite, 0);

  // Independently: a fresh Reference per window, log-softmax in long double.
  long double sum = 0;
  long long count = 0;
  for (long long w0 = 0; w0 < n; w0 += L) {
    Reference ref(cm, w);
    const long long len = std::min(L, n - w0);
    for (long long p = 0; p + 1 < len; ++p) {
      auto logits = ref.forward(tokens[std::size_t(w0 + p)], int(p));
      const long double target = logits[std::size_t(tokens[std::size_t(w0 + p + 1)])];
      long double z = 0;
      for (float l : logits)
        z += std::exp((long double)l - target);
      sum += std::log(z);
      ++count;
    }
  }
  ASSERT_EQ(count, r.predicted);
  const double mean = double(sum / (long double)count);
  EXPECT_NEAR(r.mean_nll(), mean, 1e-9 * mean);
  EXPECT_NEAR(r.ppl(), std::exp(mean), 1e-8 * std::exp(mean));
  // Untrained weights: near-uniform predictions over 300 tokens.
  EXPECT_GT(r.ppl(), 50);
  EXPECT_LT(r.ppl(), 3000);

  // A quantized scheme: finite, and close to float32 at 8 bits.
  ModelSpec qm = cm;
  qm.quant = parse_scheme("w8a8-g32");
  Perplexity q = perplexity(qm, w, tokens);
  EXPECT_EQ(q.predicted, r.predicted);
  EXPECT_TRUE(std::isfinite(q.ppl()));
  EXPECT_NE(q.nll_sum, r.nll_sum);
  EXPECT_NEAR(q.ppl(), r.ppl(), 0.05 * r.ppl());

  // Progress after each window, ending at the total.
  std::vector<long long> seen;
  perplexity(cm, w, std::span<const int>(tokens).first(20), [&](long long done, long long total) {
    seen.push_back(done);
    EXPECT_EQ(total, 18);
  });
  EXPECT_EQ(seen, (std::vector<long long>{15, 18}));
}

TEST(Evaluate, PerplexityInputErrors) {
  ModelSpec m = ppl_model();
  FloatWeights w = synthetic_weights(m, 1);
  std::vector<int> one{1};
  EXPECT_THROW(perplexity(m, w, one), ConfigError);
  std::vector<int> bad{1, 300};
  EXPECT_THROW(perplexity(m, w, bad), ConfigError);
  // token_nll: a uniform distribution, and non-finite logits.
  std::vector<float> uni(8, 0.5f);
  EXPECT_NEAR(token_nll(uni, 3), std::log(8.0), 1e-12);
  uni[2] = NAN;
  EXPECT_TRUE(std::isnan(token_nll(uni, 3)));
  Perplexity p;
  p.predicted = 3, p.nll_sum = 3, p.nonfinite = 1;
  EXPECT_TRUE(std::isnan(p.ppl()));
}
