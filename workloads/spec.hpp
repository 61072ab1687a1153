#pragma once
// Parsed, immutable descriptions of a model and a workload (Timeloop style: specs apart from
// stats). sim/config fills them from YAML; everything downstream takes these, never YAML nodes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace qaccel {

enum class WeightFormat { fp32, fp16, int8, int4, int3 };
enum class ActGranularity { token, group };

std::string_view to_string(WeightFormat f);
int weight_bits(WeightFormat f);  // 32, 16, 8, 4, 3
int weight_qmax(WeightFormat f);  // 127, 7, 3 (symmetric ranges); 0 for fp32 and fp16

// Quantization scheme of a model: see workloads/QUANTIZATION.md for the exact arithmetic.
struct QuantSpec {
  WeightFormat weights = WeightFormat::fp32;
  int group_size = 0;  // elements per group along K; 0 = per output channel (one group = K)
  int act_bits = 8;    // 8 or 16 (int8 / int16 symmetric); ignored for fp32 and fp16 weights
  ActGranularity act_granularity = ActGranularity::token;
  int kv_bits = 32;  // 32 (float32), 16 (IEEE half), 8 (int8, one scale per position and head)

  // Integer weights in groups with scales (int8/int4/int3); fp16 is neither this nor fp32.
  bool quantized() const { return weights != WeightFormat::fp32 && !half(); }
  // fp16 (W16A16): binary16 weights and matmul inputs, the exact-sum matmul.
  bool half() const { return weights == WeightFormat::fp16; }
  int act_qmax() const { return act_bits == 8 ? 127 : 32767; }
  // Group size used for a matmul whose reduction length is k.
  int group_for(int k) const { return group_size == 0 ? k : group_size; }
  // Canonical scheme name, e.g. "w8a8-g64", "w4a16-pc-kv8", "fp32", "fp16-kv16".
  // parse_scheme(name()) == *this.
  std::string name() const;
  bool operator==(const QuantSpec&) const = default;
};

// Parses a scheme name: fp32[-kvN] | fp16[-kvN] |
// w{8,4,3}a{8,16}[-g{32,64,128}|-pc][-kv{8,16,32}][-agroup]. Unspecified parts take the defaults
// listed in QUANTIZATION.md. Throws ConfigError.
QuantSpec parse_scheme(std::string_view text);

struct WeightSource {
  enum class Kind { synthetic, checkpoint };
  Kind kind = Kind::synthetic;
  std::uint64_t seed = 0;      // synthetic
  std::filesystem::path path;  // checkpoint, already resolved against the model file
};

struct ModelSpec {
  std::string name;
  int dim = 0;
  int hidden_dim = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;
  int seq_len = 0;
  bool shared_classifier = true;  // classifier reuses the token embedding (llama2.c default)
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  QuantSpec quant;
  WeightSource weights;

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return head_size() * n_kv_heads; }
  int kv_group() const { return n_heads / n_kv_heads; }  // query heads per KV head
  // Parameter count (weights, norms and classifier; no RoPE tables).
  std::int64_t n_params() const;
  // Structural problems, each "key: message" relative to the model (empty = valid).
  std::vector<std::string> problems() const;
};

enum class Phase { prefill, decode };
enum class LogitsFor { last, all };

struct WorkloadSpec {
  std::string name;
  Phase phase = Phase::decode;
  int prompt_len = 0;   // prefill: tokens processed in the pass
  int context_len = 0;  // decode: tokens already in the KV cache before the step
  int batch = 1;
  int generated_tokens = 1;  // decode steps (at contexts L, L+1, ...); 0 for a pure prefill
  LogitsFor logits = LogitsFor::last;  // prefill: classifier on the last token or every token
  std::vector<int> prompt_tokens;      // optional explicit ids; otherwise drawn from prompt_seed
  std::uint64_t prompt_seed = 1;

  // Tokens processed by one forward pass (prefill: the prompt; decode: one per sequence).
  int pass_tokens() const { return phase == Phase::prefill ? prompt_len : 1; }
  std::vector<std::string> problems(const ModelSpec& m) const;
};

}  // namespace qaccel
