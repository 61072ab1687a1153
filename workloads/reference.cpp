#include "workloads/reference.hpp"

#include <cmath>

#include "sim/base/error.hpp"
#include "sim/base/parallel.hpp"

namespace qaccel {

KVCache::KVCache(int n_layers, int positions, int n_kv_heads, int head_size, int bits)
    : n_layers_(n_layers),
      positions_(positions),
      n_kv_heads_(n_kv_heads),
      head_size_(head_size),
      bits_(bits) {
  QACCEL_ASSERT(bits == 32 || bits == 16 || bits == 8 || bits == 4, "KV bits");
  std::size_t n = std::size_t(n_layers) * positions * n_kv_heads * head_size;
  for (int i = 0; i < 2; ++i) {
    if (bits == 32) f_[i].resize(n);
    if (bits == 16) h_[i].resize(n);
    if (bits <= 8) q_[i].resize(n), s_[i].resize(std::size_t(n_layers) * positions * n_kv_heads);
  }
}

void KVCache::store(int layer, int pos, std::span<const float> k, std::span<const float> v) {
  QACCEL_ASSERT(layer < n_layers_ && pos < positions_, "KV cache position out of range");
  std::size_t kvd = std::size_t(n_kv_heads_) * head_size_, base = row(layer, pos) * kvd;
  for (int i = 0; i < 2; ++i) {
    std::span<const float> src = i == 0 ? k : v;
    if (bits_ == 32) std::copy(src.begin(), src.end(), f_[i].begin() + base);
    if (bits_ == 16)
      for (std::size_t j = 0; j < kvd; ++j)
        h_[i][base + j] = float_to_half(src[j]);
    if (bits_ <= 8)
      for (int h = 0; h < n_kv_heads_; ++h) {
        const int qmax = bits_ == 8 ? 127 : 7;
        auto head = src.subspan(std::size_t(h) * head_size_, head_size_);
        float s = symmetric_scale(head, qmax);
        s_[i][row(layer, pos) * n_kv_heads_ + h] = s;
        for (int j = 0; j < head_size_; ++j)
          q_[i][base + std::size_t(h) * head_size_ + j] =
              std::int8_t(quantize_value(head[j], s, qmax));
      }
  }
}

void KVCache::load(bool key, int layer, int pos, int h, float* out) const {
  int i = key ? 0 : 1;
  std::size_t base = row(layer, pos) * n_kv_heads_ * head_size_ + std::size_t(h) * head_size_;
  if (bits_ == 32)
    for (int j = 0; j < head_size_; ++j)
      out[j] = f_[i][base + j];
  if (bits_ == 16)
    for (int j = 0; j < head_size_; ++j)
      out[j] = half_to_float(h_[i][base + j]);
  if (bits_ <= 8) {
    float s = s_[i][row(layer, pos) * n_kv_heads_ + h];
    for (int j = 0; j < head_size_; ++j)
      out[j] = float(q_[i][base + j]) * s;
  }
}

namespace {

// Splits a (layers * rows * cols) float tensor into per-layer Linears, quantizing if asked.
std::vector<Linear> make_layers(std::vector<float>& all, int layers, int rows, int cols,
                                const QuantSpec& q) {
  std::vector<Linear> out(layers);
  std::size_t per = std::size_t(rows) * cols;
  parallel_for(std::size_t(layers), [&](std::size_t l) {
    Linear& lin = out[l];
    lin.rows = rows, lin.cols = cols;
    std::span<const float> src(all.data() + l * per, per);
    if (q.quantized())
      lin.q = quantize_weights(src, rows, cols, q.group_for(cols), q.weights);
    else
      lin.f.assign(src.begin(), src.end());
  });
  std::vector<float>().swap(all);  // release the float copy
  return out;
}

}  // namespace

Reference::Reference(const ModelSpec& m, FloatWeights w, int max_positions)
    : m_(m),
      positions_(max_positions > 0 ? max_positions : m.seq_len),
      kv_(m.n_layers, positions_, m.n_kv_heads, m.head_size(), m.quant.kv_bits) {
  const QuantSpec& q = m.quant;
  int d = m.dim, h = m.hidden_dim, kv = m.kv_dim(), L = m.n_layers, V = m.vocab_size;
  auto problems = m.problems();
  QACCEL_ASSERT(problems.empty(),
                "model spec not validated: " + (problems.empty() ? "" : problems[0]));
  rms_att_ = std::move(w.rms_att), rms_ffn_ = std::move(w.rms_ffn),
  rms_final_ = std::move(w.rms_final);
  wq_ = make_layers(w.wq, L, d, d, q);
  wk_ = make_layers(w.wk, L, kv, d, q);
  wv_ = make_layers(w.wv, L, kv, d, q);
  wo_ = make_layers(w.wo, L, d, d, q);
  w1_ = make_layers(w.w1, L, h, d, q);
  w2_ = make_layers(w.w2, L, d, h, q);
  w3_ = make_layers(w.w3, L, h, d, q);
  std::vector<float>& cls_src = m.shared_classifier ? w.token_embedding : w.wcls;
  cls_ = make_layers(cls_src, 1, V, d, q)[0];  // releases the embedding too when shared
  if (q.quantized()) {
    embedding_q_ = cls_.q;  // shared: identical tensor; unshared: quantize the embedding
    if (!m.shared_classifier)
      embedding_q_ = quantize_weights(w.token_embedding, V, d, q.group_for(d), q.weights);
  } else {
    embedding_f_ = m.shared_classifier ? cls_.f : std::move(w.token_embedding);
  }
  x_.resize(d), xb_.resize(d), xb2_.resize(d), hb_.resize(h), hb2_.resize(h);
  q_.resize(d), k_.resize(kv), v_.resize(kv), att_.resize(positions_), logits_.resize(V);
  tmp_.resize(m.head_size());
  rope_cos_.resize(m.head_size() / 2), rope_sin_.resize(m.head_size() / 2);
}

void Reference::rmsnorm(float* o, const float* x, const float* weight) const {
  // llama2.c: ss = sum x^2 (left to right) / n + eps; o = w * (x / sqrt(ss)).
  int n = m_.dim;
  float ss = 0.0f;
  for (int j = 0; j < n; ++j)
    ss += x[j] * x[j];
  ss /= float(n);
  ss += m_.norm_eps;
  ss = 1.0f / std::sqrt(ss);
  for (int j = 0; j < n; ++j)
    o[j] = weight[j] * (ss * x[j]);
}

void Reference::prepare(std::span<const float> x, int group) {
  cur_in_ = x;
  if (m_.quant.quantized())
    quantize_activation(x, group, m_.quant.act, m_.quant.act_granularity, qin_);
}

void Reference::linear(std::span<float> out, const Linear& w, int layer, const char* what) {
  if (w.q.fp16() && qin_.elem == Elem::half && m_.quant.act == ActFormat::fp16) {
    hmatmul(out, qin_, w.q);  // the same bits as qmatmul (unit scales), without decoding
  } else if (m_.quant.quantized()) {
    qmatmul(out, qin_, w.q);
  } else {
    fmatmul(out, cur_in_, w.f, w.rows, w.cols);
    return;
  }
  if (hook_)
    hook_(layer < 0 ? std::string(what) : "L" + std::to_string(layer) + "." + what, qin_, w.q, out);
}

std::span<const float> Reference::forward(int token, int pos) {
  QACCEL_ASSERT(token >= 0 && token < m_.vocab_size, "token id out of range");
  QACCEL_ASSERT(pos >= 0 && pos < positions_, "position beyond the KV cache");
  const int d = m_.dim, hidden = m_.hidden_dim, hs = m_.head_size(), kvd = m_.kv_dim();
  const QuantSpec& qs = m_.quant;
  const int gd = qs.group_for(d), gh = qs.group_for(hidden);

  if (qs.quantized())
    for (int i = 0; i < d; ++i)
      x_[i] = embedding_q_.at(token, i);
  else
    std::copy_n(embedding_f_.begin() + std::size_t(token) * d, d, x_.begin());

  // RoPE rotation of this position, shared by every layer and head (llama2.c's formula).
  for (int j = 0; j < hs / 2; ++j) {
    float freq = 1.0f / std::pow(m_.rope_theta, float(2 * j) / float(hs));
    float val = float(pos) * freq;
    rope_cos_[j] = std::cos(val), rope_sin_[j] = std::sin(val);
  }

  for (int l = 0; l < m_.n_layers; ++l) {
    rmsnorm(xb_.data(), x_.data(), rms_att_.data() + std::size_t(l) * d);
    prepare(xb_, gd);
    linear(q_, wq_[l], l, "wq");
    linear(k_, wk_[l], l, "wk");
    linear(v_, wv_[l], l, "wv");

    // RoPE on adjacent pairs (llama2.c): q over all heads, k over the KV heads.
    for (int i = 0; i < d; i += 2) {
      float fcr = rope_cos_[(i % hs) / 2], fci = rope_sin_[(i % hs) / 2];
      int rotn = i < kvd ? 2 : 1;
      for (int v = 0; v < rotn; ++v) {
        float* vec = v == 0 ? q_.data() : k_.data();
        float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * fcr - v1 * fci;
        vec[i + 1] = v0 * fci + v1 * fcr;
      }
    }
    kv_.store(l, pos, k_, v_);

    // Grouped-query attention over positions 0..pos.
    const float sqrt_hs = std::sqrt(float(hs));
    for (int h = 0; h < m_.n_heads; ++h) {
      const float* qh = q_.data() + std::size_t(h) * hs;
      int kvh = h / m_.kv_group();
      for (int t = 0; t <= pos; ++t) {
        kv_.load(true, l, t, kvh, tmp_.data());
        float score = 0.0f;
        for (int i = 0; i < hs; ++i)
          score += qh[i] * tmp_[i];
        att_[t] = score / sqrt_hs;
      }
      float mx = att_[0];
      for (int t = 1; t <= pos; ++t)
        mx = std::max(mx, att_[t]);
      float sum = 0.0f;
      for (int t = 0; t <= pos; ++t) {
        att_[t] = std::exp(att_[t] - mx);
        sum += att_[t];
      }
      for (int t = 0; t <= pos; ++t)
        att_[t] /= sum;
      float* out = xb_.data() + std::size_t(h) * hs;
      std::fill_n(out, hs, 0.0f);
      for (int t = 0; t <= pos; ++t) {
        kv_.load(false, l, t, kvh, tmp_.data());
        float a = att_[t];
        for (int i = 0; i < hs; ++i)
          out[i] += a * tmp_[i];
      }
    }
    if (attn_hook_) attn_hook_(l, pos, q_, kv_, std::span<const float>(xb_.data(), d));
    prepare(xb_, gd);
    linear(xb2_, wo_[l], l, "wo");
    for (int i = 0; i < d; ++i)
      x_[i] += xb2_[i];

    rmsnorm(xb_.data(), x_.data(), rms_ffn_.data() + std::size_t(l) * d);
    prepare(xb_, gd);
    linear(hb_, w1_[l], l, "w1");
    linear(hb2_, w3_[l], l, "w3");
    for (int i = 0; i < hidden; ++i) {
      float val = hb_[i];
      val *= (1.0f / (1.0f + std::exp(-val)));  // SiLU
      val *= hb2_[i];
      hb_[i] = val;
    }
    prepare(hb_, gh);
    linear(xb_, w2_[l], l, "w2");
    for (int i = 0; i < d; ++i)
      x_[i] += xb_[i];
  }
  rmsnorm(x_.data(), x_.data(), rms_final_.data());
  prepare(x_, gd);
  linear(logits_, cls_, -1, "classifier");
  return logits_;
}

}  // namespace qaccel

namespace qaccel {

int argmax(std::span<const float> v) {
  int best = 0;
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = int(i);
  return best;
}

std::vector<int> run_sequence(Reference& ref, std::span<const int> prompt, int n_greedy,
                              const LogitsFn& on_logits) {
  QACCEL_ASSERT(!prompt.empty(), "empty prompt");
  std::vector<int> out;
  int pos = 0, token = prompt[0];
  for (;;) {
    std::span<const float> logits = ref.forward(token, pos);
    if (on_logits) on_logits(pos, token, logits);
    ++pos;
    if (pos < int(prompt.size())) {
      token = prompt[pos];
    } else if (int(out.size()) < n_greedy) {
      token = argmax(logits);
      out.push_back(token);
      if (int(out.size()) == n_greedy) break;  // the last continuation needs no forward pass
    } else {
      break;
    }
  }
  return out;
}

}  // namespace qaccel
