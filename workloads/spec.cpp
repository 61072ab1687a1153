#include "workloads/spec.hpp"

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"
#include "sim/base/text.hpp"

namespace qaccel {

std::string_view to_string(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp32:
      return "fp32";
    case WeightFormat::fp16:
      return "fp16";
    case WeightFormat::int8:
      return "int8";
    case WeightFormat::int4:
      return "int4";
    case WeightFormat::int3:
      return "int3";
  }
  return "?";
}

int weight_bits(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp32:
      return 32;
    case WeightFormat::fp16:
      return 16;
    case WeightFormat::int8:
      return 8;
    case WeightFormat::int4:
      return 4;
    case WeightFormat::int3:
      return 3;
  }
  return 0;
}

int weight_qmax(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp32:
    case WeightFormat::fp16:
      return 0;
    case WeightFormat::int8:
      return 127;
    case WeightFormat::int4:
      return 7;
    case WeightFormat::int3:
      return 3;
  }
  return 0;
}

std::string QuantSpec::name() const {
  if (half()) return "fp16-kv" + std::to_string(kv_bits);
  if (!quantized()) return kv_bits == 32 ? "fp32" : "fp32-kv" + std::to_string(kv_bits);
  std::string s = "w" + std::to_string(weight_bits(weights)) + "a" + std::to_string(act_bits);
  s += group_size == 0 ? "-pc" : "-g" + std::to_string(group_size);
  s += "-kv" + std::to_string(kv_bits);
  if (act_granularity == ActGranularity::group) s += "-agroup";
  return s;
}

QuantSpec parse_scheme(std::string_view text) {
  const std::string grammar =
      "expected fp32[-kvN], fp16[-kvN] or "
      "w{8,4,3}a{8,16}[-g{32,64,128}|-pc][-kv{8,16,32}][-agroup], "
      "e.g. w8a8, w4a16-g128, w4a8-pc-kv8";
  auto fail = [&](const std::string& why) -> QuantSpec {
    throw ConfigError("quantization scheme '" + std::string(text) + "': " + why + "; " + grammar);
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
  if (head == "fp32") {
    q.weights = WeightFormat::fp32;
    q.kv_bits = 32;
  } else if (head == "fp16") {
    q.weights = WeightFormat::fp16;
    q.act_bits = 16;
    q.kv_bits = 16;
  } else {
    long long wb = 0, ab = 0;
    auto apos = head.find('a');
    if (head.size() < 4 || head[0] != 'w' || apos == std::string::npos ||
        !parse_int64(std::string_view(head).substr(1, apos - 1), wb) ||
        !parse_int64(std::string_view(head).substr(apos + 1), ab))
      return fail("cannot read '" + head + "'");
    if (wb == 8)
      q.weights = WeightFormat::int8;
    else if (wb == 4)
      q.weights = WeightFormat::int4;
    else if (wb == 3)
      q.weights = WeightFormat::int3;
    else
      return fail("weight bits must be 8, 4 or 3, found " + std::to_string(wb));
    if (ab != 8 && ab != 16)
      return fail("activation bits must be 8 or 16, found " + std::to_string(ab));
    q.act_bits = static_cast<int>(ab);
    q.group_size = 64;
    q.kv_bits = 16;
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    long long v = 0;
    if (p == "pc" && q.quantized()) {
      q.group_size = 0;
    } else if (p.size() > 1 && p[0] == 'g' && q.quantized() && parse_int64(p.substr(1), v)) {
      if (v != 32 && v != 64 && v != 128) return fail("group size must be 32, 64 or 128");
      q.group_size = static_cast<int>(v);
    } else if (p.size() > 2 && p.rfind("kv", 0) == 0 && parse_int64(p.substr(2), v)) {
      if (v != 8 && v != 16 && v != 32) return fail("KV-cache bits must be 8, 16 or 32");
      q.kv_bits = static_cast<int>(v);
    } else if (p == "agroup" && q.quantized()) {
      q.act_granularity = ActGranularity::group;
    } else {
      return fail("unknown part '" + p + "'");
    }
  }
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
  if (quant.quantized() && quant.group_size != 0) {
    int g = quant.group_size;
    if (dim % g != 0)
      out.push_back("quant.group_size: " + std::to_string(g) + " must divide dim (" +
                    std::to_string(dim) + ")");
    if (hidden_dim % g != 0)
      out.push_back("quant.group_size: " + std::to_string(g) + " must divide hidden_dim (" +
                    std::to_string(hidden_dim) + ")");
  }
  return out;
}

std::vector<std::string> WorkloadSpec::problems(const ModelSpec& m) const {
  std::vector<std::string> out;
  int last_pos = phase == Phase::prefill ? prompt_len : context_len + generated_tokens;
  if (last_pos > m.seq_len)
    out.push_back(
        std::string(phase == Phase::prefill ? "prompt_len" : "context_len + generated_tokens") +
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
