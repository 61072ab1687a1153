#pragma once
// Parsed, immutable descriptions of a model and a workload (Timeloop style: specs apart from
// stats). sim/config fills them from YAML; everything downstream takes these, never YAML nodes.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qaccel {

// Weight element formats (workloads/QUANTIZATION.md gives each one's values, quantizer,
// storage and arithmetic). `intN` are symmetric, `intNasym` carry a zero point per group.
enum class WeightFormat {
  fp32,
  fp16,
  bf16,
  fp8e4m3,
  fp8e5m2,
  int2,
  int3,
  int4,
  int5,
  int6,
  int7,
  int8,
  int2asym,
  int3asym,
  int4asym,
  int5asym,
  int6asym,
  int7asym,
  int8asym,
  flint4,
  fp3,
  fp4,
  bitmod3,
  bitmod4,
  olive4,
  mxint8,
  mxfp6,
  mxfp4,
  nvfp4
};
// Matmul-input (activation) formats.
enum class ActFormat { int8, int16, fp16, bf16, fp8e4m3, fp8e5m2 };
enum class ActGranularity { token, group };

// How a format's elements enter the arithmetic.
enum class Elem {
  f32,       // float32 (llama2.c's float path)
  int_code,  // an integer code times a float32 scale per group (QTensor::q)
  half,      // an IEEE binary16 value (fp16, and fp8 which binary16 holds exactly)
  bf16       // a bfloat16 value
};

struct WeightFormatInfo {
  WeightFormat id;
  std::string_view name;
  Elem elem;
  int bits;         // stored bits per element
  int fixed_group;  // elements per scale block fixed by the format (MX 32, NVFP4 16), else 0
  bool grouped;     // takes the scheme's group size (G or per channel)
  int group_bits;   // stored bits per group: scale, zero point, selector
  int tensor_bits;  // stored bits per tensor (NVFP4's float32 second-level scale)
  int code_max;     // int_code: the largest |code|
  std::string_view summary;
};
const WeightFormatInfo& info(WeightFormat f);
// The weight format table, in declaration order (`qaccel list formats` prints it).
std::span<const WeightFormatInfo> weight_formats();

struct ActFormatInfo {
  ActFormat id;
  std::string_view name;
  Elem elem;
  int bits;  // stored bits per element
  std::string_view summary;
};
const ActFormatInfo& info(ActFormat a);
// The activation format table, in declaration order.
std::span<const ActFormatInfo> act_formats();

std::string_view to_string(WeightFormat f);
std::string_view to_string(ActFormat a);
// Every weight / activation format name, in declaration order (for errors and `qaccel list`).
std::vector<std::string> weight_format_names();
std::vector<std::string> act_format_names();
bool parse_weight_format(std::string_view s, WeightFormat& out);
bool parse_act_format(std::string_view s, ActFormat& out);
int weight_bits(WeightFormat f);  // stored bits per element: 32, 16, 8, ... 2
// Two's-complement bits of an int_code format's largest code (what an integer PE multiplies):
// int4 4, flint4 6, olive4 8, mxfp6 10.
int code_bits(WeightFormat f);
Elem act_elem(ActFormat a);
int act_bits(ActFormat a);  // 8 or 16
// The activation format a weight format takes when the scheme does not name one.
ActFormat default_act(WeightFormat f);
// The group size a weight format takes when the scheme does not name one (0 = per channel).
int default_group(WeightFormat f);

// Quantization scheme of a model: see workloads/QUANTIZATION.md for the exact arithmetic.
struct QuantSpec {
  WeightFormat weights = WeightFormat::fp32;
  int group_size = 0;  // elements per group along K; 0 = per output channel (one group = K)
  ActFormat act = ActFormat::int8;  // ignored for fp32 weights
  ActGranularity act_granularity = ActGranularity::token;
  int kv_bits = 32;  // 32 (float32), 16 (IEEE half), 8 / 4 (int8 / int4, a scale per position
                     // and KV head)

  // Not the float32 path: weights and matmul inputs in the formats above.
  bool quantized() const { return weights != WeightFormat::fp32; }
  // The legacy integer schemes w{2..8}a{8,16}: symmetric integer weights, integer inputs.
  bool legacy_int() const;
  int act_bits() const { return quantized() ? qaccel::act_bits(act) : 32; }
  int act_qmax() const { return act == ActFormat::int8 ? 127 : 32767; }  // integer inputs
  bool act_integer() const { return act == ActFormat::int8 || act == ActFormat::int16; }
  // Group size used for a matmul whose reduction length is k.
  int group_for(int k) const;
  // Stored bytes of a rows x cols weight matrix in this scheme (checked).
  std::int64_t weight_bytes(std::int64_t rows, std::int64_t cols) const;
  // Canonical scheme name, e.g. "w8a8-g64-kv16", "mxfp4-afp16-kv16", "fp32", "fp16-kv16".
  // parse_scheme(name()) == *this.
  std::string name() const;
  bool operator==(const QuantSpec&) const = default;
};

// Parses a scheme name (grammar in QUANTIZATION.md "Scheme names"). Throws ConfigError.
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
  // Decode steps: decode at contexts L, L+1, ...; prefill: the generation after the prompt
  // (steps at contexts prompt_len, prompt_len + 1, ...), 0 for a prefill alone.
  int generated_tokens = 1;
  LogitsFor logits = LogitsFor::last;  // prefill: classifier on the last token or every token
  std::vector<int> prompt_tokens;      // optional explicit ids; otherwise drawn from prompt_seed
  std::uint64_t prompt_seed = 1;

  // The forward passes (steps): prefill runs the prompt as step 0 and then one decode step per
  // generated token; decode runs one step per generated token.
  int passes() const { return phase == Phase::prefill ? 1 + generated_tokens : generated_tokens; }
  bool prefill_pass(int step) const { return phase == Phase::prefill && step == 0; }
  // Tokens in the KV cache before pass `step`.
  int pass_context(int step) const {
    if (phase == Phase::decode) return context_len + step;
    return step == 0 ? 0 : prompt_len + step - 1;
  }
  // Tokens processed by pass `step` per sequence (the prompt, or one).
  int pass_tokens(int step = 0) const { return prefill_pass(step) ? prompt_len : 1; }
  // Tokens in the KV cache before the first decode step (the prompt, or context_len).
  int start_context() const { return phase == Phase::prefill ? prompt_len : context_len; }
  // Positions the run covers: the context it starts from plus every generated token.
  int end_position() const { return start_context() + generated_tokens; }
  // Tokens the run processes per sequence (the prompt and every generated token).
  int processed_tokens() const {
    return (phase == Phase::prefill ? prompt_len : 0) + generated_tokens;
  }
  std::vector<std::string> problems(const ModelSpec& m) const;
};

}  // namespace qaccel
