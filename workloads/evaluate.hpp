#pragma once
// Evaluating quantization schemes against float32: the list of schemes the comparisons run
// (`qaccel ref --compare-float`, `--perplexity`), and perplexity over a token sequence.
#include <functional>
#include <span>
#include <vector>

#include "workloads/spec.hpp"
#include "workloads/weights.hpp"

namespace qaccel {

// The schemes compared against the float32 path, float32 itself excluded. With
// `quant_given` (the user chose one with --quant), only the model's scheme when it is not
// fp32; otherwise the model's scheme when it is not fp32, then every weight format at 8, 6, 4
// and 3 bits with its default inputs (and w8a16, w4a16, int4-afp16), w8a8 with int8 and int4
// KV caches, fp16 and bf16, each once. Grouped formats take the model's group size when its
// format has one, else 64, or 32 when 64 does not fit dim and hidden_dim, else per channel. A
// scheme may still not fit the model: callers check ModelSpec::problems() and skip it.
std::vector<QuantSpec> comparison_schemes(const ModelSpec& m, bool quant_given);

struct Perplexity {
  long long predicted = 0;  // positions scored (each predicts the token after it)
  long long windows = 0;    // windows of at most seq_len tokens, each run from position 0
  double nll_sum = 0;       // sum of -ln softmax(logits)[next token], in double
  long long nonfinite = 0;  // positions whose logits were not all finite (left out of nll_sum)

  // Mean negative log-likelihood (nats per token) and its exp; NaN when a position had
  // non-finite logits or nothing was predicted.
  double mean_nll() const;
  double ppl() const;
};

// Called after each window with the positions scored so far and in total.
using PerplexityProgress = std::function<void(long long done, long long total)>;

// Teacher-forced perplexity of model `m` (its quantization scheme) on `tokens`: the sequence is
// cut into non-overlapping windows of the model's seq_len tokens (the last may be shorter), each
// run from position 0 with an empty KV cache as in llama2.c, and every position of a window but
// its last predicts the next token of that window; a window's first token is predicted by
// nothing. So n tokens give n - ceil(n / seq_len) predictions. Throws ConfigError when there
// are fewer than 2 tokens or a token id is outside the vocabulary.
Perplexity perplexity(const ModelSpec& m, FloatWeights w, std::span<const int> tokens,
                      const PerplexityProgress& progress = {});

// -ln softmax(logits)[target] in double (max-shifted log-sum-exp); NaN or infinity when a logit
// is not finite.
double token_nll(std::span<const float> logits, int target);

}  // namespace qaccel
