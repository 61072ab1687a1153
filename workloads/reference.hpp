#pragma once
// Functional reference of a LLaMA-style decoder (llama2.c semantics) in float32 or in the
// bit-exact quantized arithmetic of workloads/QUANTIZATION.md. Every hardware model's numbers
// are checked against this.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "workloads/quant.hpp"
#include "workloads/spec.hpp"
#include "workloads/weights.hpp"

namespace qaccel {

// One linear layer: float32 rows x cols, or its quantized form.
struct Linear {
  int rows = 0, cols = 0;
  std::vector<float> f;  // float path only
  QTensor q;             // quantized path only
};

// KV cache storage in float32, IEEE half, or int8 with one float32 scale per (position, head).
class KVCache {
 public:
  KVCache(int n_layers, int positions, int n_kv_heads, int head_size, int bits);
  void store(int layer, int pos, std::span<const float> k, std::span<const float> v);
  // Writes the dequantized head `h` of key (or value) at (layer, pos) into out[head_size].
  void load(bool key, int layer, int pos, int h, float* out) const;
  int bits() const { return bits_; }

 private:
  std::size_t row(int layer, int pos) const { return (std::size_t(layer) * positions_ + pos); }
  int n_layers_, positions_, n_kv_heads_, head_size_, bits_;
  std::vector<float> f_[2];
  std::vector<std::uint16_t> h_[2];
  std::vector<std::int8_t> q_[2];
  std::vector<float> s_[2];
};

class Reference {
 public:
  // Quantizes the weights when the spec's scheme asks for it (the float copies are released).
  // `max_positions` bounds the KV cache (0 = the model's seq_len).
  Reference(const ModelSpec& m, FloatWeights w, int max_positions = 0);

  // Runs one token at position `pos`; positions must come in order 0, 1, 2, ... as in llama2.c.
  // Returns the logits (valid until the next call).
  std::span<const float> forward(int token, int pos);

  const ModelSpec& spec() const { return m_; }

  // Called after every quantized matmul with the op's name (as in lower_forward: "L3.wq",
  // "classifier"), its quantized input, weights and the reference output, so a hardware model
  // can recompute it and compare.
  using MatmulHook = std::function<void(const std::string& name, const QActivation& x,
                                        const QTensor& w, std::span<const float> out)>;
  void set_matmul_hook(MatmulHook hook) { hook_ = std::move(hook); }

  // Called after every layer's attention (read-only view, for models of attention to
  // recompute a head): the position, q of all heads after RoPE (n_heads * head_size), the KV
  // cache holding positions 0..pos, and the attention output of all heads.
  using AttentionHook = std::function<void(int layer, int pos, std::span<const float> q,
                                           const KVCache& kv, std::span<const float> out)>;
  void set_attention_hook(AttentionHook hook) { attn_hook_ = std::move(hook); }

 private:
  // out = w x (the prepared activation); `layer` and `what` name the op for the hook.
  void linear(std::span<float> out, const Linear& w, int layer, const char* what);
  void prepare(std::span<const float> x, int group);  // quantizes x for the next linear()s
  void rmsnorm(float* o, const float* x, const float* weight) const;

  ModelSpec m_;
  int positions_;
  std::vector<float> embedding_f_;  // float path
  QTensor embedding_q_;             // quantized path (dequantized at lookup, as runq.c)
  std::vector<float> rms_att_, rms_ffn_, rms_final_;
  std::vector<Linear> wq_, wk_, wv_, wo_, w1_, w2_, w3_;
  Linear cls_;
  KVCache kv_;
  // Run state.
  std::vector<float> x_, xb_, xb2_, hb_, hb2_, q_, k_, v_, att_, logits_, tmp_, rope_cos_,
      rope_sin_;
  std::span<const float> cur_in_;  // float input for the next linear() (float path)
  QActivation qin_;
  MatmulHook hook_;
  AttentionHook attn_hook_;
};

}  // namespace qaccel

namespace qaccel {

// Index of the largest value (the lowest index among equals).
int argmax(std::span<const float> v);

// Called after each position with (pos, token fed, logits).
using LogitsFn = std::function<void(int pos, int token, std::span<const float> logits)>;

// Feeds `prompt` at positions 0, 1, ... and then `n_greedy` argmax continuations; returns the
// continuation tokens. `on_logits` (optional) sees every position's logits.
std::vector<int> run_sequence(Reference& ref, std::span<const int> prompt, int n_greedy,
                              const LogitsFn& on_logits = {});

}  // namespace qaccel
