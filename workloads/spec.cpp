#include "workloads/spec.hpp"

#include <bit>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/base/text.hpp"

namespace qaccel {

namespace {

using W = WeightFormat;
constexpr int kF32Bits = 32;

// The format table: one row per weight format (QUANTIZATION.md has the values and quantizers).
// clang-format off
const WeightFormatInfo kFormats[] = {
  {W::fp32, "fp32", Elem::f32, 32, 0, false, 0, 0, 0, "float32 (llama2.c run.c)"},
  {W::fp16, "fp16", Elem::half, 16, 0, false, 0, 0, 0, "IEEE binary16, saturating"},
  {W::bf16, "bf16", Elem::bf16, 16, 0, false, 0, 0, 0, "bfloat16, saturating"},
  {W::fp8e4m3, "fp8e4m3", Elem::half, 8, 0, true, kF32Bits, 0, 0, "FP8 E4M3 (max 448) x float32 group scale"},
  {W::fp8e5m2, "fp8e5m2", Elem::half, 8, 0, true, kF32Bits, 0, 0, "FP8 E5M2 (max 57344) x float32 group scale"},
  {W::int2, "int2", Elem::int_code, 2, 0, true, kF32Bits, 0, 1, "symmetric integer [-1, 1]"},
  {W::int3, "int3", Elem::int_code, 3, 0, true, kF32Bits, 0, 3, "symmetric integer [-3, 3]"},
  {W::int4, "int4", Elem::int_code, 4, 0, true, kF32Bits, 0, 7, "symmetric integer [-7, 7]"},
  {W::int5, "int5", Elem::int_code, 5, 0, true, kF32Bits, 0, 15, "symmetric integer [-15, 15]"},
  {W::int6, "int6", Elem::int_code, 6, 0, true, kF32Bits, 0, 31, "symmetric integer [-31, 31]"},
  {W::int7, "int7", Elem::int_code, 7, 0, true, kF32Bits, 0, 63, "symmetric integer [-63, 63]"},
  {W::int8, "int8", Elem::int_code, 8, 0, true, kF32Bits, 0, 127, "symmetric integer [-127, 127]"},
  {W::int2asym, "int2asym", Elem::int_code, 2, 0, true, kF32Bits + 2, 0, 3, "unsigned [0, 3] with a zero point"},
  {W::int3asym, "int3asym", Elem::int_code, 3, 0, true, kF32Bits + 3, 0, 7, "unsigned [0, 7] with a zero point"},
  {W::int4asym, "int4asym", Elem::int_code, 4, 0, true, kF32Bits + 4, 0, 15, "unsigned [0, 15] with a zero point"},
  {W::int5asym, "int5asym", Elem::int_code, 5, 0, true, kF32Bits + 5, 0, 31, "unsigned [0, 31] with a zero point"},
  {W::int6asym, "int6asym", Elem::int_code, 6, 0, true, kF32Bits + 6, 0, 63, "unsigned [0, 63] with a zero point"},
  {W::int7asym, "int7asym", Elem::int_code, 7, 0, true, kF32Bits + 7, 0, 127, "unsigned [0, 127] with a zero point"},
  {W::int8asym, "int8asym", Elem::int_code, 8, 0, true, kF32Bits + 8, 0, 255, "unsigned [0, 255] with a zero point"},
  {W::flint4, "flint4", Elem::int_code, 4, 0, true, kF32Bits, 0, 16, "ANT flint4: 0 1 2 3 4 6 8 16"},
  {W::fp3, "fp3", Elem::int_code, 3, 0, true, kF32Bits, 0, 4, "FP3 (E2M0): 0 1 2 4"},
  {W::fp4, "fp4", Elem::int_code, 4, 0, true, kF32Bits, 0, 12, "FP4 (E2M1, x2): 0 1 2 3 4 6 8 12"},
  {W::bitmod3, "bitmod3", Elem::int_code, 3, 0, true, kF32Bits + 2, 0, 6, "BitMoD FP3 + one extra value (+-3 or +-6), chosen per group"},
  {W::bitmod4, "bitmod4", Elem::int_code, 4, 0, true, kF32Bits + 2, 0, 16, "BitMoD FP4 + one extra value (+-10 or +-16), chosen per group"},
  {W::olive4, "olive4", Elem::int_code, 4, 0, true, kF32Bits, 0, 96, "OliVe int4 outlier-victim pairs, outliers 8..96"},
  {W::mxint8, "mxint8", Elem::int_code, 8, 32, false, 8, 0, 127, "OCP MXINT8: int8 x 2^-6, E8M0 scale per 32"},
  {W::mxfp6, "mxfp6", Elem::int_code, 6, 32, false, 8, 0, 448, "OCP MXFP6 E3M2, E8M0 scale per 32"},
  {W::mxfp4, "mxfp4", Elem::int_code, 4, 32, false, 8, 0, 12, "OCP MXFP4 E2M1, E8M0 scale per 32"},
  {W::nvfp4, "nvfp4", Elem::int_code, 4, 16, false, 8, kF32Bits, 12, "NVFP4 E2M1, E4M3 scale per 16 x float32 per tensor"},
};
// clang-format on

// clang-format off
const ActFormatInfo kActs[] = {
  {ActFormat::int8, "int8", Elem::int_code, 8, "symmetric integer [-127, 127] x float32 scale per token or group"},
  {ActFormat::int16, "int16", Elem::int_code, 16, "fixed point [-32767, 32767] x float32 scale per token or group"},
  {ActFormat::fp16, "fp16", Elem::half, 16, "IEEE binary16, saturating, unscaled"},
  {ActFormat::bf16, "bf16", Elem::bf16, 16, "bfloat16, saturating, unscaled"},
  {ActFormat::fp8e4m3, "fp8e4m3", Elem::half, 8, "FP8 E4M3 (max 448) x float32 scale per token or group"},
  {ActFormat::fp8e5m2, "fp8e5m2", Elem::half, 8, "FP8 E5M2 (max 57344) x float32 scale per token or group"},
};
// clang-format on

bool is_sym_int(W f) {
  return f >= W::int2 && f <= W::int8;
}
bool is_asym_int(W f) {
  return f >= W::int2asym && f <= W::int8asym;
}

// The "-a..." token of a scheme name: a8, a16, afp16, abf16, afp8e4m3, afp8e5m2.
std::string act_token(ActFormat a) {
  switch (a) {
    case ActFormat::int8:
      return "8";
    case ActFormat::int16:
      return "16";
    default:
      return std::string(to_string(a));
  }
}

}  // namespace

const WeightFormatInfo& info(WeightFormat f) {
  const auto& i = kFormats[static_cast<int>(f)];
  QACCEL_ASSERT(i.id == f, "format table out of order");
  return i;
}

std::span<const WeightFormatInfo> weight_formats() {
  return kFormats;
}
const ActFormatInfo& info(ActFormat a) {
  const auto& i = kActs[static_cast<int>(a)];
  QACCEL_ASSERT(i.id == a, "activation format table out of order");
  return i;
}
std::span<const ActFormatInfo> act_formats() {
  return kActs;
}

std::string_view to_string(WeightFormat f) {
  return info(f).name;
}
std::string_view to_string(ActFormat a) {
  return info(a).name;
}
int weight_bits(WeightFormat f) {
  return info(f).bits;
}
int code_bits(WeightFormat f) {
  return int(std::bit_width(unsigned(info(f).code_max))) + 1;
}
Elem act_elem(ActFormat a) {
  return info(a).elem;
}
int act_bits(ActFormat a) {
  return info(a).bits;
}

std::vector<std::string> weight_format_names() {
  std::vector<std::string> out;
  for (const auto& f : kFormats)
    out.emplace_back(f.name);
  return out;
}
std::vector<std::string> act_format_names() {
  std::vector<std::string> out;
  for (const auto& a : kActs)
    out.emplace_back(a.name);
  return out;
}
bool parse_weight_format(std::string_view s, WeightFormat& out) {
  for (const auto& f : kFormats)
    if (f.name == s) return out = f.id, true;
  return false;
}
bool parse_act_format(std::string_view s, ActFormat& out) {
  for (const auto& a : kActs)
    if (a.name == s) return out = a.id, true;
  return false;
}

ActFormat default_act(WeightFormat f) {
  // fp32 ignores its inputs' format; int8 keeps it equal to a default QuantSpec.
  if (f == W::fp32 || is_sym_int(f) || is_asym_int(f)) return ActFormat::int8;
  return f == W::bf16 ? ActFormat::bf16 : ActFormat::fp16;
}

int default_group(WeightFormat f) {
  if (f == W::bitmod3 || f == W::bitmod4) return 128;  // BitMoD's group
  if (f == W::fp8e4m3 || f == W::fp8e5m2) return 0;    // per channel, as FP8 deployments do
  return info(f).grouped ? 64 : 0;
}

bool QuantSpec::legacy_int() const {
  return is_sym_int(weights) && act_integer();
}

int QuantSpec::group_for(int k) const {
  const WeightFormatInfo& f = info(weights);
  if (f.fixed_group) return f.fixed_group;
  return f.grouped && group_size != 0 ? group_size : k;
}

std::int64_t QuantSpec::weight_bytes(std::int64_t rows, std::int64_t cols) const {
  using checked::mul;
  const char* what = "weight bytes";
  const WeightFormatInfo& f = info(weights);
  const std::int64_t groups = mul(what, rows, cols / group_for(int(cols)));
  const std::int64_t bits =
      checked::add(what, mul(what, rows, cols, f.bits),
                   mul(what, f.grouped || f.fixed_group ? groups : 0, f.group_bits),
                   std::int64_t(f.tensor_bits));
  return checked::ceil_div(bits, 8);
}

std::string QuantSpec::name() const {
  const std::string kv = "-kv" + std::to_string(kv_bits);
  if (!quantized()) return kv_bits == 32 ? "fp32" : "fp32" + kv;
  const WeightFormatInfo& f = info(weights);
  std::string s;
  if (legacy_int())
    s = "w" + std::to_string(f.bits) + "a" + std::to_string(act_bits());
  else
    s = std::string(f.name) + (act != default_act(weights) ? "-a" + act_token(act) : "");
  if (f.grouped) s += group_size == 0 ? "-pc" : "-g" + std::to_string(group_size);
  s += kv;
  if (act_granularity == ActGranularity::group) s += "-agroup";
  return s;
}

QuantSpec parse_scheme(std::string_view text) {
  const std::string grammar =
      "expected fp32[-kvN], w{2..8}a{8,16}[-gN|-pc][-kvN][-agroup] or "
      "FORMAT[-aACT][-gN|-pc][-kvN][-agroup] with FORMAT one of the weight formats (qaccel list "
      "formats), ACT 8, 16, fp16, bf16, fp8e4m3 or fp8e5m2, N 32, 64 or 128, kvN 4, 8, 16 or 32; "
      "e.g. w8a8, w4a16-g128, mxfp4, bitmod3-g128, int4asym-afp16";
  auto fail = [&](const std::string& why) -> QuantSpec {
    throw ConfigError("quantization scheme '" + std::string(text.substr(0, 80)) + "': " + why +
                      "; " + grammar);
  };
  std::vector<std::string> parts;
  {
    std::string cur;
    for (char c : text) {
      if (c == '-')
        parts.push_back(cur), cur.clear();
      else
        cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    parts.push_back(cur);
  }
  QuantSpec q;
  const std::string& head = parts[0];
  bool act_given = false;
  long long wb = 0, ab = 0;
  const auto apos = head.find('a');
  if (head == "fp32") {
    q.weights = W::fp32;
  } else if (parse_weight_format(head, q.weights)) {
    q.act = default_act(q.weights);
  } else if (head.size() >= 4 && head[0] == 'w' && apos != std::string::npos &&
             parse_int64(std::string_view(head).substr(1, apos - 1), wb) &&
             parse_int64(std::string_view(head).substr(apos + 1), ab)) {
    if (wb < 2 || wb > 8) return fail("weight bits must be 2 to 8, found " + std::to_string(wb));
    if (ab != 8 && ab != 16)
      return fail("activation bits must be 8 or 16, found " + std::to_string(ab));
    q.weights = static_cast<W>(static_cast<int>(W::int2) + int(wb) - 2);
    q.act = ab == 8 ? ActFormat::int8 : ActFormat::int16;
    act_given = true;
  } else {
    return fail("unknown weight format '" + head.substr(0, 40) + "'");
  }
  const WeightFormatInfo& f = info(q.weights);
  q.group_size = default_group(q.weights);
  q.kv_bits = q.quantized() ? 16 : 32;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    long long v = 0;
    ActFormat a{};
    if (p == "agroup" && q.quantized()) {
      q.act_granularity = ActGranularity::group;
    } else if (p.size() > 1 && p[0] == 'a' && q.quantized()) {
      const std::string t = p.substr(1);
      if (act_given) return fail("the activation format is given twice");
      if (t == "8")
        q.act = ActFormat::int8;
      else if (t == "16")
        q.act = ActFormat::int16;
      else if (t != "int8" && t != "int16" && parse_act_format(t, a))
        q.act = a;
      else
        return fail("unknown activation format '" + t.substr(0, 40) + "'");
      act_given = true;
    } else if (p == "pc" && f.grouped) {
      q.group_size = 0;
    } else if (p.size() > 1 && p[0] == 'g' && f.grouped && parse_int64(p.substr(1), v)) {
      if (v != 32 && v != 64 && v != 128) return fail("group size must be 32, 64 or 128");
      q.group_size = static_cast<int>(v);
    } else if (p.size() > 2 && p.rfind("kv", 0) == 0 && parse_int64(p.substr(2), v)) {
      if (v != 4 && v != 8 && v != 16 && v != 32)
        return fail("KV-cache bits must be 4, 8, 16 or 32");
      q.kv_bits = static_cast<int>(v);
    } else if ((p == "pc" || p[0] == 'g') && q.quantized() && !f.grouped) {
      return fail(std::string(f.name) +
                  (f.fixed_group ? " has a fixed block of " + std::to_string(f.fixed_group)
                                 : " has no groups") +
                  ", '" + p.substr(0, 40) + "' does not apply");
    } else {
      return fail("unknown part '" + p.substr(0, 40) + "'");
    }
  }
  if (q.act_granularity == ActGranularity::group && !q.act_integer() &&
      q.act != ActFormat::fp8e4m3 && q.act != ActFormat::fp8e5m2)
    return fail("-agroup applies to scaled activations (8, 16, fp8e4m3, fp8e5m2), not " +
                std::string(to_string(q.act)));
  return q;
}

std::int64_t ModelSpec::n_params() const {
  // Far inside 64 bits for the accepted ranges (at most 2^20 x 2^20 x 4096 x 5), but checked
  // like every other shape-derived count.
  using checked::add, checked::mul;
  const char* what = "the parameter count";
  std::int64_t d = dim, h = hidden_dim, kv = kv_dim(), L = n_layers, v = vocab_size;
  std::int64_t per_layer =
      add(what, 2 * d, mul(what, 2, d, d), mul(what, 2, d, kv), mul(what, 3, d, h));
  return add(what, mul(what, v, d), mul(what, L, per_layer), d,
             shared_classifier ? 0 : mul(what, v, d));
}

std::vector<std::string> ModelSpec::problems() const {
  std::vector<std::string> out;
  auto positive = [&](const char* key, int v) {
    if (v <= 0)
      out.push_back(std::string(key) + ": must be a positive integer, found " + std::to_string(v));
    return v > 0;
  };
  bool ok = positive("dim", dim) & positive("hidden_dim", hidden_dim) &
            positive("n_layers", n_layers) & positive("n_heads", n_heads) &
            positive("n_kv_heads", n_kv_heads) & positive("vocab_size", vocab_size) &
            positive("seq_len", seq_len);
  if (!ok) return out;
  if (dim % n_heads != 0)
    out.push_back("n_heads: must divide dim (" + std::to_string(dim) + "), found " +
                  std::to_string(n_heads));
  else if (head_size() % 2 != 0)
    out.push_back("n_heads: head size dim/n_heads = " + std::to_string(head_size()) +
                  " must be even for RoPE");
  if (n_heads % n_kv_heads != 0)
    out.push_back("n_kv_heads: must divide n_heads (" + std::to_string(n_heads) + "), found " +
                  std::to_string(n_kv_heads));
  if (!(norm_eps > 0.0f)) out.push_back("norm_eps: must be > 0");
  if (!(rope_theta > 1.0f)) out.push_back("rope_theta: must be > 1");
  if (const int g = quant.quantized() ? quant.group_for(0) : 0; g != 0) {
    // A format's fixed block (MX 32, NVFP4 16) is a property of quant.weights.
    const bool fixed = info(quant.weights).fixed_group != 0;
    const std::string what = fixed ? "quant.weights: " + std::string(to_string(quant.weights)) +
                                         "'s block of " + std::to_string(g)
                                   : "quant.group_size: " + std::to_string(g);
    if (dim % g != 0) out.push_back(what + " must divide dim (" + std::to_string(dim) + ")");
    if (hidden_dim % g != 0)
      out.push_back(what + " must divide hidden_dim (" + std::to_string(hidden_dim) + ")");
  }
  return out;
}

std::vector<std::string> WorkloadSpec::problems(const ModelSpec& m) const {
  std::vector<std::string> out;
  const std::int64_t last_pos = std::int64_t(start_context()) + generated_tokens;
  if (last_pos > m.seq_len)
    out.push_back(std::string(phase == Phase::decode ? "context_len + generated_tokens"
                              : generated_tokens > 0 ? "prompt_len + generated_tokens"
                                                     : "prompt_len") +
                  ": " + std::to_string(last_pos) + " exceeds the model's seq_len " +
                  std::to_string(m.seq_len));
  for (std::size_t i = 0; i < prompt_tokens.size(); ++i)
    if (prompt_tokens[i] < 0 || prompt_tokens[i] >= m.vocab_size) {
      out.push_back("prompt_tokens[" + std::to_string(i) + "]: token " +
                    std::to_string(prompt_tokens[i]) + " is outside the vocabulary [0, " +
                    std::to_string(m.vocab_size) + ")");
      break;
    }
  return out;
}

}  // namespace qaccel
