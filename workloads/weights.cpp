#include "workloads/weights.hpp"

#include <cmath>
#include <cstring>
#include <fstream>

#include "sim/base/error.hpp"
#include "sim/base/files.hpp"
#include "sim/base/parallel.hpp"
#include "workloads/rng.hpp"

namespace qaccel {

void synthetic_tensor(std::uint64_t seed, TensorId id, int layer, float mean, float stddev,
                      std::span<float> out) {
  SplitMix64 g(
      derive_seed(seed, static_cast<std::uint64_t>(id), static_cast<std::uint64_t>(layer)));
  for (float& v : out)
    v = mean + stddev * g.bell();
}

namespace {

struct Sizes {
  std::size_t d, h, kv, L, v;
  explicit Sizes(const ModelSpec& m)
      : d(m.dim), h(m.hidden_dim), kv(m.kv_dim()), L(m.n_layers), v(m.vocab_size) {}
};

// Per-layer tensor (layers * per elements), each layer its own stream.
void fill_layers(std::vector<float>& t, std::uint64_t seed, TensorId id, std::size_t layers,
                 std::size_t per, float mean, float stddev) {
  t.resize(layers * per);
  parallel_for(layers, [&](std::size_t l) {
    synthetic_tensor(seed, id, static_cast<int>(l), mean, stddev,
                     std::span(t).subspan(l * per, per));
  });
}

}  // namespace

FloatWeights synthetic_weights(const ModelSpec& m, std::uint64_t seed) {
  Sizes s(m);
  FloatWeights w;
  float in_d = 1.0f / std::sqrt(float(s.d)), in_h = 1.0f / std::sqrt(float(s.h));
  fill_layers(w.token_embedding, seed, TensorId::embedding, 1, s.v * s.d, 0.0f, 0.1f);
  fill_layers(w.rms_att, seed, TensorId::rms_att, s.L, s.d, 1.0f, 0.1f);
  fill_layers(w.wq, seed, TensorId::wq, s.L, s.d * s.d, 0.0f, in_d);
  fill_layers(w.wk, seed, TensorId::wk, s.L, s.kv * s.d, 0.0f, in_d);
  fill_layers(w.wv, seed, TensorId::wv, s.L, s.kv * s.d, 0.0f, in_d);
  fill_layers(w.wo, seed, TensorId::wo, s.L, s.d * s.d, 0.0f, in_d);
  fill_layers(w.rms_ffn, seed, TensorId::rms_ffn, s.L, s.d, 1.0f, 0.1f);
  fill_layers(w.w1, seed, TensorId::w1, s.L, s.h * s.d, 0.0f, in_d);
  fill_layers(w.w2, seed, TensorId::w2, s.L, s.d * s.h, 0.0f, in_h);
  fill_layers(w.w3, seed, TensorId::w3, s.L, s.h * s.d, 0.0f, in_d);
  fill_layers(w.rms_final, seed, TensorId::rms_final, 1, s.d, 1.0f, 0.1f);
  if (!m.shared_classifier) fill_layers(w.wcls, seed, TensorId::wcls, 1, s.v * s.d, 0.0f, in_d);
  return w;
}

namespace {

constexpr std::size_t kHeaderBytes = 7 * sizeof(std::int32_t);

// Float count after the header, in llama2.c order, RoPE tables included. 128-bit so that no
// garbage header can overflow it.
unsigned __int128 checkpoint_floats(const CheckpointHeader& h) {
  using U = unsigned __int128;
  U d = U(h.dim), hd = U(h.hidden_dim), L = U(h.n_layers), v = U(std::abs(h.vocab_size));
  U hs = d / U(h.n_heads), kv = hs * U(h.n_kv_heads);
  U n = v * d + L * d + L * d * d + 2 * L * d * kv + L * d * d + L * d + 3 * L * d * hd + d;
  n += U(h.seq_len) * hs;  // freq_cis_real + freq_cis_imag, seq_len * hs/2 each
  if (h.vocab_size < 0) n += v * d;
  return n;
}

[[noreturn]] void bad(const std::filesystem::path& p, const std::string& what) {
  throw ConfigError("checkpoint " + p.string() + ": " + what);
}

}  // namespace

CheckpointHeader read_checkpoint_header(const std::filesystem::path& path) {
  const std::uintmax_t size = regular_file_size(path, "checkpoint");
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, "cannot open");
  std::int32_t f[7];
  if (size < kHeaderBytes || !in.read(reinterpret_cast<char*>(f), sizeof f))
    bad(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 28-byte header");
  CheckpointHeader h{f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
  const char* names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                         "n_kv_heads", "vocab_size", "seq_len"};
  constexpr std::int32_t kSane = 1 << 20;  // far above any real model; catches garbage headers
  for (int i = 0; i < 7; ++i) {
    std::int32_t v = i == 5 ? (f[i] == INT32_MIN ? 0 : std::abs(f[i])) : f[i];
    if (v <= 0 || v > kSane)
      bad(path, std::string("header field ") + names[i] + " = " + std::to_string(f[i]) +
                    " is not a plausible size (is this a llama2.c .bin file?)");
  }
  if (h.dim % h.n_heads != 0 || (h.dim / h.n_heads) % 2 != 0)
    bad(path, "header: dim " + std::to_string(h.dim) + " is not a multiple of 2 * n_heads (" +
                  std::to_string(h.n_heads) + ")");
  if (h.n_heads % h.n_kv_heads != 0)
    bad(path, "header: n_kv_heads " + std::to_string(h.n_kv_heads) + " does not divide n_heads " +
                  std::to_string(h.n_heads));
  unsigned __int128 expect128 = kHeaderBytes + checkpoint_floats(h) * sizeof(float);
  if (expect128 > (unsigned __int128)(std::uint64_t(1) << 50))
    bad(path, "header describes a model larger than 1 PiB (is this a llama2.c .bin file?)");
  std::uint64_t expect = std::uint64_t(expect128);
  if (size < expect)
    bad(path, "truncated: header promises " + std::to_string(expect) + " bytes, file has " +
                  std::to_string(size));
  if (size > expect)
    bad(path, "inconsistent: header promises " + std::to_string(expect) + " bytes, file has " +
                  std::to_string(size) + " (trailing data or a different format)");
  return h;
}

ModelSpec spec_from_checkpoint(const std::filesystem::path& path) {
  CheckpointHeader h = read_checkpoint_header(path);
  ModelSpec m;
  m.name = path.stem().string();
  m.dim = h.dim, m.hidden_dim = h.hidden_dim, m.n_layers = h.n_layers, m.n_heads = h.n_heads;
  m.n_kv_heads = h.n_kv_heads, m.vocab_size = std::abs(h.vocab_size), m.seq_len = h.seq_len;
  m.shared_classifier = h.vocab_size > 0;
  m.weights.kind = WeightSource::Kind::checkpoint;
  m.weights.path = path;
  return m;
}

FloatWeights load_checkpoint(const std::filesystem::path& path, const ModelSpec& m) {
  CheckpointHeader h = read_checkpoint_header(path);
  CheckpointHeader want{m.dim,     m.hidden_dim, m.n_layers,
                        m.n_heads, m.n_kv_heads, m.shared_classifier ? m.vocab_size : -m.vocab_size,
                        m.seq_len};
  if (std::memcmp(&h, &want, sizeof h) != 0)
    bad(path, "shapes differ from model '" + m.name + "' (header dim=" + std::to_string(h.dim) +
                  " hidden_dim=" + std::to_string(h.hidden_dim) + " n_layers=" +
                  std::to_string(h.n_layers) + " n_heads=" + std::to_string(h.n_heads) +
                  " n_kv_heads=" + std::to_string(h.n_kv_heads) + " vocab_size=" +
                  std::to_string(h.vocab_size) + " seq_len=" + std::to_string(h.seq_len) + ")");
  std::ifstream in(path, std::ios::binary);
  in.seekg(kHeaderBytes);
  Sizes s(m);
  std::uint64_t offset = kHeaderBytes;
  // A NaN or infinity poisons every logit it reaches, and NaN compares false with everything,
  // so error statistics would report perfect agreement: refuse them, naming where they are.
  auto read = [&](const char* tensor, std::vector<float>& t, std::size_t n) {
    t.resize(n);
    if (!in.read(reinterpret_cast<char*>(t.data()), std::streamsize(n * sizeof(float))))
      bad(path, "read failed");
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(t[i]))
        bad(path, std::string("tensor ") + tensor + " element " + std::to_string(i) +
                      " (byte offset " + std::to_string(offset + i * sizeof(float)) + ") is " +
                      (std::isnan(t[i]) ? "NaN" : "infinite") + "; weights must be finite floats");
    offset += n * sizeof(float);
  };
  FloatWeights w;
  read("token_embedding", w.token_embedding, s.v * s.d);
  read("rms_att_weight", w.rms_att, s.L * s.d);
  read("wq", w.wq, s.L * s.d * s.d);
  read("wk", w.wk, s.L * s.kv * s.d);
  read("wv", w.wv, s.L * s.kv * s.d);
  read("wo", w.wo, s.L * s.d * s.d);
  read("rms_ffn_weight", w.rms_ffn, s.L * s.d);
  read("w1", w.w1, s.L * s.h * s.d);
  read("w2", w.w2, s.L * s.d * s.h);
  read("w3", w.w3, s.L * s.h * s.d);
  read("rms_final_weight", w.rms_final, s.d);
  // The RoPE tables are recomputed, never read.
  const std::size_t rope = std::size_t(m.seq_len) * m.head_size() * sizeof(float);
  in.seekg(std::streamoff(rope), std::ios::cur);
  offset += rope;
  if (!m.shared_classifier) read("wcls", w.wcls, s.v * s.d);
  return w;
}

void write_checkpoint(const std::filesystem::path& path, const ModelSpec& m,
                      const FloatWeights& w) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ConfigError("cannot write checkpoint " + path.string());
  std::int32_t h[7] = {m.dim,     m.hidden_dim, m.n_layers,
                       m.n_heads, m.n_kv_heads, m.shared_classifier ? m.vocab_size : -m.vocab_size,
                       m.seq_len};
  out.write(reinterpret_cast<const char*>(h), sizeof h);
  auto put = [&](const std::vector<float>& t) {
    out.write(reinterpret_cast<const char*>(t.data()), std::streamsize(t.size() * sizeof(float)));
  };
  put(w.token_embedding), put(w.rms_att), put(w.wq), put(w.wk), put(w.wv), put(w.wo);
  put(w.rms_ffn), put(w.w1), put(w.w2), put(w.w3), put(w.rms_final);
  // RoPE tables as llama2.c's export writes them (readers skip them and recompute).
  int hs = m.head_size();
  std::vector<float> re(std::size_t(m.seq_len) * hs / 2), im(re.size());
  for (int p = 0; p < m.seq_len; ++p)
    for (int i = 0; i < hs / 2; ++i) {
      float freq = 1.0f / std::pow(m.rope_theta, float(2 * i) / float(hs));
      re[std::size_t(p) * hs / 2 + i] = std::cos(float(p) * freq);
      im[std::size_t(p) * hs / 2 + i] = std::sin(float(p) * freq);
    }
  put(re), put(im);
  if (!m.shared_classifier) put(w.wcls);
  if (!out) throw ConfigError("write failed for checkpoint " + path.string());
}

FloatWeights load_weights(const ModelSpec& m) {
  if (m.weights.kind == WeightSource::Kind::checkpoint) return load_checkpoint(m.weights.path, m);
  return synthetic_weights(m, m.weights.seed);
}

}  // namespace qaccel
