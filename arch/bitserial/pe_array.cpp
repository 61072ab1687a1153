#include "arch/bitserial/pe_array.hpp"

#include <algorithm>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel::bitserial {

namespace {

using i64 = std::int64_t;

bool booth_integer(WeightFormat f) {
  return (f >= WeightFormat::int2 && f <= WeightFormat::int8asym) || f == WeightFormat::mxint8;
}

// Bit i of c's two's complement (sign-extended past the top).
int bit(int c, int i) {
  return (c >> i) & 1;
}

}  // namespace

std::string_view to_string(Encoding e) {
  return e == Encoding::booth ? "booth" : "serial";
}

TermTable::TermTable(WeightFormat f, Encoding e) : format_(f) {
  if (info(f).elem != Elem::int_code)
    throw ConfigError("bit-serial PEs take integer or codebook weights, not " +
                      std::string(to_string(f)));
  const std::vector<int> codes = code_values(f);
  const int width = code_bits(f);
  std::vector<std::vector<Term>> enc;
  for (int c : codes) {
    std::vector<Term> ts;
    if (e == Encoding::serial) {  // one bit per cycle, the top bit negative
      for (int i = 0; i < width; ++i)
        ts.push_back({std::int8_t(bit(c, i) ? (i == width - 1 ? -1 : 1) : 0), std::int8_t(i)});
    } else if (booth_integer(f)) {  // radix-4 Booth: d_k = -2 b(2k+1) + b(2k) + b(2k-1)
      for (int k = 0; 2 * k < width; ++k) {
        const int d = -2 * bit(c, 2 * k + 1) + bit(c, 2 * k) + (k ? bit(c, 2 * k - 1) : 0);
        const int mag = d < 0 ? -d : d;
        ts.push_back({std::int8_t(d > 0   ? 1
                                  : d < 0 ? -1
                                          : 0),
                      std::int8_t(mag == 2 ? 2 * k + 1 : 2 * k)});
      }
    } else {  // non-adjacent form: the fewest signed powers of two
      int n = c;
      for (int i = 0; n != 0; ++i, n /= 2)
        if (n % 2 != 0) {
          const int z = 2 - (((n % 4) + 4) % 4);  // +1 or -1
          ts.push_back({std::int8_t(z), std::int8_t(i)});
          n -= z;
        }
    }
    enc.push_back(std::move(ts));
  }
  for (const auto& ts : enc)
    terms_ = std::max(terms_, int(ts.size()));
  QACCEL_ASSERT(terms_ >= 1 && terms_ <= kMaxTerms, "term count out of range");
  offset_ = -codes.front();
  table_.assign(std::size_t(codes.back() - codes.front() + 1), {});
  for (std::size_t i = 0; i < codes.size(); ++i) {
    long long sum = 0;
    for (const Term& t : enc[i])
      sum += t.sign * (1LL << t.shift);
    QACCEL_ASSERT(sum == codes[i], "a term encoding does not add up to its code");
    std::copy(enc[i].begin(), enc[i].end(), table_[std::size_t(codes[i] + offset_)].begin());
  }
}

int terms_per_weight(WeightFormat f, Encoding e) {
  return TermTable(f, e).terms();
}

i64 Mapping::tiles() const {
  return checked::mul("bit-serial tiles", token_tiles, channel_tiles);
}

Mapping map(const ArraySpec& a, i64 m, i64 n) {
  Mapping p;
  p.tokens_per_tile = std::min<i64>(a.cols, m);
  p.channels_per_tile = i64(a.rows) * (a.cols / p.tokens_per_tile);
  p.token_tiles = checked::ceil_div(m, p.tokens_per_tile);
  p.channel_tiles = checked::ceil_div(n, p.channels_per_tile);
  return p;
}

i64 tile_cycles(const ArraySpec& a, i64 k, i64 group, int terms) {
  const char* what = "bit-serial cycles";
  const i64 groups = k / group;
  const i64 acc = checked::mul(what, checked::ceil_div(group, a.lanes), terms);
  return checked::add(what, acc,
                      checked::mul(what, groups - 1, std::max<i64>(acc, a.dequant_cycles)),
                      i64(a.dequant_cycles));
}

i64 compute_cycles(const ArraySpec& a, i64 m, i64 n, i64 k, i64 group, int terms) {
  return checked::mul("bit-serial cycles", map(a, m, n).tiles(), tile_cycles(a, k, group, terms));
}

namespace {

// One PE's exact group sum: integers, or the binary16 fixed point.
struct Acc {
  i64 i = 0;
  HalfDotSum h;
  float value(bool half) const { return half ? h.to_float() : static_cast<float>(i); }
};

}  // namespace

i64 run(const ArraySpec& a, const TermTable& t, const std::vector<const QActivation*>& x,
        const QTensor& w, Mode mode, std::vector<float>& out) {
  QACCEL_ASSERT(w.elem == Elem::int_code && w.format == t.format(), "weights of the table");
  const i64 M = i64(x.size()), N = w.rows, K = w.cols, G = w.group, groups = K / G;
  const bool half = !x.empty() && x[0]->elem == Elem::half;
  // Inputs decoded once: an integer, or sig * 2^e2 of a binary16.
  std::vector<ElemTerm> xt(std::size_t(M * K));
  for (i64 m = 0; m < M; ++m) {
    const QActivation& v = *x[std::size_t(m)];
    QACCEL_ASSERT(v.elem == (half ? Elem::half : Elem::int_code) && v.group == G,
                  "bit-serial input format");
    for (i64 j = 0; j < K; ++j)
      xt[std::size_t(m * K + j)] =
          half ? decode_half(v.h[std::size_t(j)]) : ElemTerm{v.q[std::size_t(j)], 0, false};
  }
  auto code = [&](i64 n, i64 j) { return int(w.q[std::size_t(n * K + j)]); };
  // The dequantizer: ((float)S * s_w) * s_x into the output, groups in order.
  auto dequant = [&](i64 m, i64 n, i64 g, const Acc& s, float& val) {
    val += (s.value(half) * w.scales[std::size_t(n * groups + g)]) *
           x[std::size_t(m)]->scales[std::size_t(g)];
  };
  out.assign(std::size_t(M * N), 0.0f);

  if (mode == Mode::fast) {
    HalfFixed hf;
    Acc s;  // one for all outputs: HalfDotSum::clear() only touches the bins a group used
    for (i64 m = 0; m < M; ++m) {
      if (half)
        prepare_half_fixed(std::span(xt).subspan(std::size_t(m * K), std::size_t(K)), int(G), hf);
      const float* xs = x[std::size_t(m)]->scales.data();
      for (i64 n = 0; n < N; ++n) {
        float& val = out[std::size_t(m * N + n)];
        const float* ws = w.scales.data() + n * groups;
        for (i64 g = 0; g < groups; ++g) {
          if (!half) {  // integer inputs: the exact integer dot product
            s.i =
                group_dot(x[std::size_t(m)]->q.data() + g * G, w.q.data() + n * K + g * G, int(G));
            dequant(m, n, g, s, val);
            continue;
          }
          if (hf.fixed[std::size_t(g)]) {  // the exact sum as one int64 dot product
            const i64 acc =
                fixed_group_dot(hf, std::size_t(g), int(G), w.q.data() + n * K + g * G, w.qmax);
            val += (fixed_to_float(acc, hf.e[std::size_t(g)]) * ws[g]) * xs[g];
            continue;
          }
          s.i = 0, s.h.clear();
          for (i64 j = g * G; j < (g + 1) * G; ++j) {
            const ElemTerm& e = xt[std::size_t(m * K + j)];
            if (!half)
              s.i += i64(code(n, j)) * e.sig;
            else if (e.nan)
              s.h.set_nan();
            else
              s.h.add_term(i64(code(n, j)) * e.sig, e.e2 + 48);
          }
          dequant(m, n, g, s, val);
        }
      }
    }
    return compute_cycles(a, M, N, K, G, t.terms());
  }

  // Step mode: tiles one after another; inside a tile every PE moves in lock step.
  const Mapping mp = map(a, M, N);
  const i64 steps = (G + a.lanes - 1) / a.lanes, T = t.terms();
  i64 total = 0;
  for (i64 tt = 0; tt < mp.token_tiles; ++tt)
    for (i64 ct = 0; ct < mp.channel_tiles; ++ct) {
      std::vector<std::pair<i64, i64>> pes;  // (token, channel) of each occupied PE
      for (i64 m = tt * mp.tokens_per_tile; m < std::min(M, (tt + 1) * mp.tokens_per_tile); ++m)
        for (i64 n = ct * mp.channels_per_tile; n < std::min(N, (ct + 1) * mp.channels_per_tile);
             ++n)
          pes.emplace_back(m, n);
      std::vector<Acc> acc(pes.size());
      i64 cycle = 0, g = 0, s = 0, term = 0, dq_free_at = 0;
      bool waiting = false;  // a finished group waits for the dequantizer
      while (g < groups) {
        if (!waiting) {  // one term of every lane of every PE
          for (std::size_t p = 0; p < pes.size(); ++p) {
            const auto [m, n] = pes[p];
            for (i64 l = 0; l < a.lanes; ++l) {
              const i64 j = g * G + s * a.lanes + l;
              if (j >= (g + 1) * G) break;
              const Term tm = t.of(code(n, j))[term];
              const ElemTerm& e = xt[std::size_t(m * K + j)];
              if (half && e.nan) acc[p].h.set_nan();
              if (tm.sign == 0 || (half && e.nan)) continue;
              if (half)
                acc[p].h.add_term(tm.sign * i64(e.sig), e.e2 + tm.shift + 48);
              else
                acc[p].i += tm.sign * (i64(e.sig) << tm.shift);
            }
          }
          if (++term == T) term = 0, ++s;
          if (s == steps) s = 0, waiting = true;
        }
        ++cycle;
        if (waiting && dq_free_at <= cycle) {  // the dequantizer takes the group
          for (std::size_t p = 0; p < pes.size(); ++p) {
            dequant(pes[p].first, pes[p].second, g, acc[p],
                    out[std::size_t(pes[p].first * N + pes[p].second)]);
            acc[p].i = 0, acc[p].h.clear();
          }
          dq_free_at = cycle + a.dequant_cycles;
          waiting = false, ++g;
        }
      }
      total = checked::add("bit-serial cycles", total, std::max(cycle, dq_free_at));
    }
  return total;
}

}  // namespace qaccel::bitserial
