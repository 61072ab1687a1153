#include "workloads/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/base/error.hpp"
#include "workloads/reference.hpp"

namespace qaccel {

std::vector<QuantSpec> comparison_schemes(const ModelSpec& m, bool quant_given) {
  std::vector<QuantSpec> schemes;
  if (m.quant.quantized()) schemes.push_back(m.quant);
  if (quant_given) return schemes;
  // The model's group; for a float model 64, or 32 when 64 does not divide its dim and
  // hidden_dim (stories15M: 288 and 768), or one group per channel.
  int g = 0;
  if (m.quant.quantized() && info(m.quant.weights).grouped)
    g = m.quant.group_size;
  else
    for (int c : {64, 32})
      if (g == 0 && m.dim % c == 0 && m.hidden_dim % c == 0) g = c;
  const std::string gs = g == 0 ? "-pc" : "-g" + std::to_string(g);
  auto add = [&](const std::string& name) {
    QuantSpec q = parse_scheme(name);
    if (std::find(schemes.begin(), schemes.end(), q) == schemes.end()) schemes.push_back(q);
  };
  // Every weight format at 8, 6, 4 and 3 bits (and the 16-bit floats), each with its default
  // inputs (integer formats int8, the others fp16), plus the legacy integer variants.
  for (const char* s :
       {"w8a8",   "w8a16", "int8asym",   "mxint8",   "fp8e4m3",  "fp8e5m2", "mxfp6",
        "w4a8",   "w4a16", "int4-afp16", "int4asym", "flint4",   "fp4",     "bitmod4",
        "olive4", "mxfp4", "nvfp4",      "w3a16",    "int3asym", "fp3",     "bitmod3"})
    add(s +
        (info(parse_scheme(s).weights).grouped && std::string(s).rfind("fp8", 0) != 0 ? gs : ""));
  add("w8a8" + gs + "-kv8");
  add("w8a8" + gs + "-kv4");
  add("fp16");
  add("bf16");
  return schemes;
}

double Perplexity::mean_nll() const {
  if (nonfinite > 0 || predicted == 0) return std::numeric_limits<double>::quiet_NaN();
  return nll_sum / double(predicted);
}

double Perplexity::ppl() const {
  return std::exp(mean_nll());
}

double token_nll(std::span<const float> logits, int target) {
  QACCEL_ASSERT(target >= 0 && std::size_t(target) < logits.size(), "target outside logits");
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : logits) {
    if (std::isnan(v)) return std::numeric_limits<double>::quiet_NaN();
    mx = std::max(mx, double(v));
  }
  if (!std::isfinite(mx)) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (float v : logits)
    sum += std::exp(double(v) - mx);
  return std::log(sum) - (double(logits[std::size_t(target)]) - mx);
}

Perplexity perplexity(const ModelSpec& m, FloatWeights w, std::span<const int> tokens,
                      const PerplexityProgress& progress) {
  const long long n = (long long)tokens.size();
  if (n < 2) throw ConfigError("perplexity needs at least 2 tokens, got " + std::to_string(n));
  for (long long i = 0; i < n; ++i)
    if (tokens[std::size_t(i)] < 0 || tokens[std::size_t(i)] >= m.vocab_size)
      throw ConfigError("perplexity: token " + std::to_string(i) + " is id " +
                        std::to_string(tokens[std::size_t(i)]) + ", outside the vocabulary of " +
                        std::to_string(m.vocab_size));
  const long long window = m.seq_len;
  const long long total = n - (n + window - 1) / window;
  // Only a window's first L - 1 tokens are fed.
  Reference ref(m, std::move(w), int(std::min(window, n)));
  Perplexity r;
  for (long long w0 = 0; w0 < n; w0 += window) {
    const long long len = std::min(window, n - w0);
    ++r.windows;
    for (long long p = 0; p + 1 < len; ++p) {
      std::span<const float> logits = ref.forward(tokens[std::size_t(w0 + p)], int(p));
      double nll = token_nll(logits, tokens[std::size_t(w0 + p + 1)]);
      if (std::isfinite(nll))
        r.nll_sum += nll;
      else
        ++r.nonfinite;
      ++r.predicted;
    }
    if (progress) progress(r.predicted, total);
  }
  return r;
}

}  // namespace qaccel
