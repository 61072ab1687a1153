#pragma once
// Model weights in float32, in llama2.c's layout, from a seeded generator or a llama2.c
// checkpoint (.bin).
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "workloads/spec.hpp"

namespace qaccel {

struct FloatWeights {
  std::vector<float> token_embedding;  // vocab * dim
  std::vector<float> rms_att;          // layers * dim
  std::vector<float> wq;               // layers * dim * dim            (rows = out, cols = in)
  std::vector<float> wk;               // layers * kv_dim * dim
  std::vector<float> wv;               // layers * kv_dim * dim
  std::vector<float> wo;               // layers * dim * dim
  std::vector<float> rms_ffn;          // layers * dim
  std::vector<float> w1;               // layers * hidden * dim
  std::vector<float> w2;               // layers * dim * hidden
  std::vector<float> w3;               // layers * hidden * dim
  std::vector<float> rms_final;        // dim
  std::vector<float> wcls;             // vocab * dim, empty when shared with the embedding

  const std::vector<float>& classifier() const { return wcls.empty() ? token_embedding : wcls; }
};

// Tensor ids for seed derivation (part of the synthetic-weights format: never renumber).
enum class TensorId : std::uint64_t {
  embedding = 1,
  rms_att,
  wq,
  wk,
  wv,
  wo,
  rms_ffn,
  w1,
  w2,
  w3,
  rms_final,
  wcls
};

// Deterministic synthetic weights: linear layers ~ bell(0, 1/sqrt(fan_in)), embedding ~
// bell(0, 0.1), norm weights 1 + bell(0, 0.1). Each tensor of each layer has its own stream.
// (A small embedding keeps a tied classifier from simply predicting its input token, so greedy
// continuations vary as they would with a trained model.)
FloatWeights synthetic_weights(const ModelSpec& m, std::uint64_t seed);

// Fills one synthetic tensor (exposed so huge models can be generated a layer at a time).
void synthetic_tensor(std::uint64_t seed, TensorId id, int layer, float mean, float stddev,
                      std::span<float> out);

// llama2.c checkpoint header (seven int32 fields).
struct CheckpointHeader {
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Reads the header and checks it against the file size. Throws ConfigError naming the file and
// what is wrong (missing, truncated, inconsistent, trailing bytes).
CheckpointHeader read_checkpoint_header(const std::filesystem::path& path);
// A ModelSpec with the checkpoint's shapes (name = file stem, fp32 quantization).
ModelSpec spec_from_checkpoint(const std::filesystem::path& path);
FloatWeights load_checkpoint(const std::filesystem::path& path, const ModelSpec& m);
// Writes weights in llama2.c's format (RoPE tables included, as llama2.c's export does).
void write_checkpoint(const std::filesystem::path& path, const ModelSpec& m, const FloatWeights& w);

// Weights for a model spec, from whichever source it names.
FloatWeights load_weights(const ModelSpec& m);

}  // namespace qaccel
