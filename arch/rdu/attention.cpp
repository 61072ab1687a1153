#include "arch/rdu/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/base/error.hpp"
#include "workloads/reference.hpp"

namespace qaccel::rdu {

std::string_view to_string(SdpaMapping m) {
  return m == SdpaMapping::online ? "online" : "naive";
}

SdpaMapping parse_sdpa_mapping(std::string_view s, const std::string& where) {
  if (s == "online") return SdpaMapping::online;
  if (s == "naive") return SdpaMapping::naive;
  throw ConfigError(where + ": must be online or naive, found '" + std::string(s) + "'");
}

namespace {

// The operations both the functional code and the pipeline's tiles run, so the bits agree.
float scale_of(int head_size) {
  return std::sqrt(float(head_size));
}
// Adds q[i] * k[i] for i in [0, n) to score, i ascending (a K row arrives in pieces).
float dot_piece(float score, const float* q, const float* k, int n) {
  for (int i = 0; i < n; ++i)
    score += q[i] * k[i];
  return score;
}
// The online softmax's step for score s at position t: updates m and l, returns alpha and p.
struct Step {
  float alpha, p;
};
Step online_step(int t, float s, float& m, float& l) {
  const float m_new = t == 0 ? s : std::max(m, s);
  const float alpha = t == 0 ? 0.0f : std::exp(m - m_new);
  const float p = std::exp(s - m_new);
  l = l * alpha + p;
  m = m_new;
  return {alpha, p};
}
float online_acc(float acc, Step st, float v) {
  return acc * st.alpha + st.p * v;
}

}  // namespace

SdpaInputs sdpa_inputs_from_cache(std::span<const float> q, const KVCache& kv, int layer,
                                  int kv_head, int positions) {
  SdpaInputs in;
  in.head_size = int(q.size()), in.positions = positions;
  in.q.assign(q.begin(), q.end());
  in.k.resize(std::size_t(positions) * in.head_size);
  in.v.resize(in.k.size());
  for (int t = 0; t < positions; ++t) {
    kv.load(true, layer, t, kv_head, in.k.data() + std::size_t(t) * in.head_size);
    kv.load(false, layer, t, kv_head, in.v.data() + std::size_t(t) * in.head_size);
  }
  return in;
}

float sdpa_score(const SdpaInputs& in, int t) {
  return dot_piece(0.0f, in.q.data(), in.k_row(t), in.head_size) / scale_of(in.head_size);
}

void sdpa_naive(const SdpaInputs& in, std::span<float> out) {
  const int P = in.positions, hs = in.head_size;
  QACCEL_ASSERT(P >= 1 && int(out.size()) == hs, "sdpa_naive shapes");
  std::vector<float> att(std::size_t(P), 0.0f);
  for (int t = 0; t < P; ++t)
    att[t] = sdpa_score(in, t);
  float mx = att[0];
  for (int t = 1; t < P; ++t)
    mx = std::max(mx, att[t]);
  float sum = 0.0f;
  for (int t = 0; t < P; ++t) {
    att[t] = std::exp(att[t] - mx);
    sum += att[t];
  }
  for (int t = 0; t < P; ++t)
    att[t] /= sum;
  std::fill(out.begin(), out.end(), 0.0f);
  for (int t = 0; t < P; ++t)
    for (int i = 0; i < hs; ++i)
      out[i] += att[t] * in.v_row(t)[i];
}

void sdpa_online(const SdpaInputs& in, std::span<float> out) {
  const int P = in.positions, hs = in.head_size;
  QACCEL_ASSERT(P >= 1 && int(out.size()) == hs, "sdpa_online shapes");
  float m = 0.0f, l = 0.0f;
  std::fill(out.begin(), out.end(), 0.0f);  // the accumulator
  for (int t = 0; t < P; ++t) {
    const Step st = online_step(t, sdpa_score(in, t), m, l);
    for (int i = 0; i < hs; ++i)
      out[i] = online_acc(out[i], st, in.v_row(t)[i]);
  }
  for (int i = 0; i < hs; ++i)
    out[i] /= l;
}

float sdpa_online_bound(const SdpaInputs& in, int i) {
  float vmax = 0.0f;
  for (int t = 0; t < in.positions; ++t)
    vmax = std::max(vmax, std::fabs(in.v_row(t)[i]));
  return 8.0f * float(in.positions) * std::ldexp(1.0f, -23) * vmax;
}

// ---- the fabric -----------------------------------------------------------------------------

void SdpaFabric::validate(const std::string& where) const {
  link.validate(where + ".link");
  const std::pair<const char*, i64> lat[] = {{"score_latency_cycles", score_latency_cycles},
                                             {"softmax_latency_cycles", softmax_latency_cycles},
                                             {"acc_latency_cycles", acc_latency_cycles},
                                             {"pmu_read_latency_cycles", pmu_read_latency_cycles},
                                             {"reduce_latency_cycles", reduce_latency_cycles}};
  for (const auto& [key, v] : lat)
    if (v < 0 || v > kMaxLatencyCycles)
      throw ConfigError(where + "." + key + ": must be in 0.." + std::to_string(kMaxLatencyCycles) +
                        ", found " + std::to_string(v));
  if (pipelines < 1)
    throw ConfigError(where + ".pipelines: must be >= 1, found " + std::to_string(pipelines));
}

namespace {

using Vec = std::vector<float>;

// A tile's output link: its pipeline depth as extra latency and as extra slots.
LinkSpec deepened(const LinkSpec& s, i64 depth) {
  LinkSpec d = s;
  d.latency_cycles += depth;
  d.capacity_vectors += depth;
  return d;
}

// Intermediate storage the tiles hold, in bytes, as they allocate it.
struct Storage {
  i64 cur = 0, peak = 0;
  void add(i64 bytes) {
    cur += bytes;
    peak = std::max(peak, cur);
  }
};

class SdpaBench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(SdpaBench);
  SdpaBench(const sc_core::sc_module_name& name, SdpaMapping m, const SdpaInputs& in,
            const SdpaFabric& f)
      : sc_core::sc_module(name),
        m_(m),
        in_(in),
        f_(f),
        lanes_(f.link.lanes),
        V_((in.head_size + lanes_ - 1) / lanes_),
        S_((in.positions + lanes_ - 1) / lanes_),
        k_link_(f.link),
        v_link_(f.link),
        score_link_(deepened(f.link, f.score_latency_cycles)),
        pmu_link_(deepened(f.link, f.pmu_read_latency_cycles)),
        msg_link_(deepened(f.link, f.softmax_latency_cycles)),
        out_link_(deepened(f.link, f.acc_latency_cycles)) {
    out_.assign(std::size_t(in.head_size), 0.0f);
    SC_THREAD(k_reader);
    SC_THREAD(v_reader);
    SC_THREAD(score_pcu);
    if (m == SdpaMapping::online) {
      SC_THREAD(online_softmax_pcu);
    } else {
      SC_THREAD(score_pmu);
      SC_THREAD(naive_softmax_pcu);
    }
    SC_THREAD(acc_pcu);
    SC_THREAD(writer);
  }

  SdpaRun result() const {
    SdpaRun r;
    r.out = out_;
    r.stats.total_cycles = last_cycle_ + 1;
    for (const LinkModel* l : {&k_link_.model(), &v_link_.model(), &score_link_.model(),
                               &pmu_link_.model(), &msg_link_.model(), &out_link_.model()})
      r.stats.vectors_moved += l->counters().received;
    r.stats.peak_buffer_bytes = storage_.peak;
    const int P = in_.positions, h = (P - 1) / 2;
    if (P > 1) r.stats.cycles_per_position = (row_start_[P - 1] - row_start_[h]) / (P - 1 - h);
    return r;
  }

 private:
  int lo(int c) const { return c * lanes_; }
  int hi(int c) const { return std::min(in_.head_size, (c + 1) * lanes_); }
  Vec piece(const float* row, int c) const { return Vec(row + lo(c), row + hi(c)); }

  // AGCUs: one vector of a row per cycle, from cycle 0.
  void k_reader() {
    for (int t = 0; t < in_.positions; ++t)
      for (int c = 0; c < V_; ++c)
        k_link_.send(piece(in_.k_row(t), c));
  }
  void v_reader() {
    for (int t = 0; t < in_.positions; ++t)
      for (int c = 0; c < V_; ++c)
        v_link_.send(piece(in_.v_row(t), c));
  }

  // q is held in the PCU (configured with the head, not streamed).
  void score_pcu() {
    for (int t = 0; t < in_.positions; ++t) {
      float score = 0.0f;
      i64 cycle = 0;
      for (int c = 0; c < V_; ++c) {
        const auto d = k_link_.recv();
        score = dot_piece(score, in_.q.data() + lo(c), d.value.data(), hi(c) - lo(c));
        cycle = d.cycle;
      }
      score_link_.send(Vec{score / scale_of(in_.head_size)}, cycle);
    }
  }

  void online_softmax_pcu() {
    float m = 0.0f, l = 0.0f;
    for (int t = 0; t < in_.positions; ++t) {
      const auto d = score_link_.recv();
      if (t == 0) storage_.add(8);  // m and l
      const Step st = online_step(t, d.value[0], m, l);
      msg_link_.send(Vec{st.alpha, st.p, l}, d.cycle);
    }
  }

  // Naive: the score buffer. Writes each score as it arrives, then three read passes.
  void score_pmu() {
    std::vector<float> buf;
    i64 t_last = 0;
    for (int t = 0; t < in_.positions; ++t) {
      const auto d = score_link_.recv();
      buf.push_back(d.value[0]);
      storage_.add(4);
      t_last = d.cycle;
    }
    i64 next = t_last + 1;  // read after the last write
    for (int pass = 0; pass < 3; ++pass)
      for (int s = 0; s < S_; ++s) {
        const auto b = buf.begin() + std::ptrdiff_t(s) * lanes_;
        const auto e = buf.begin() + std::min<std::ptrdiff_t>(buf.size(), (s + 1) * lanes_);
        next = pmu_link_.send(Vec(b, e), next) + 1;
      }
  }

  void naive_softmax_pcu() {
    const i64 lr = f_.reduce_latency_cycles;
    float mx = 0.0f, sum = 0.0f;
    i64 ready = 0;  // the cycle the last pass's reduction is known
    int t = 0;
    for (int s = 0; s < S_; ++s) {  // pass 1: max
      const auto d = pmu_link_.recv();
      for (float x : d.value)
        mx = t++ == 0 ? x : std::max(mx, x);
      ready = d.cycle + lr;
    }
    storage_.add(4);                // m
    for (int s = 0; s < S_; ++s) {  // pass 2: exp and sum
      const auto d = pmu_link_.recv(ready);
      for (float x : d.value)
        sum += std::exp(x - mx);
      if (s == S_ - 1) ready = d.cycle + lr;
    }
    storage_.add(4);                // sum
    for (int s = 0; s < S_; ++s) {  // pass 3: probabilities to the accumulator
      const auto d = pmu_link_.recv(ready);
      Vec a;
      for (float x : d.value)
        a.push_back(std::exp(x - mx) / sum);
      msg_link_.send(std::move(a), d.cycle);
    }
  }

  void acc_pcu() {
    const int P = in_.positions;
    Vec msg;
    row_start_.assign(std::size_t(P), 0);
    storage_.add(4 * i64(in_.head_size));
    for (int t = 0; t < P; ++t) {
      if (m_ == SdpaMapping::online || t % lanes_ == 0) msg = msg_link_.recv().value;
      const bool last = t == P - 1;
      for (int c = 0; c < V_; ++c) {
        const auto d = v_link_.recv();
        if (c == 0) row_start_[t] = d.cycle;
        for (int i = lo(c); i < hi(c); ++i) {
          const float v = d.value[i - lo(c)];
          if (m_ == SdpaMapping::online) {
            out_[i] = online_acc(out_[i], {msg[0], msg[1]}, v);
            if (last) out_[i] /= msg[2];
          } else {
            out_[i] += msg[t % lanes_] * v;
          }
        }
        if (last) out_link_.send(piece(out_.data(), c), d.cycle);
      }
    }
  }

  void writer() {
    for (int c = 0; c < V_; ++c)
      last_cycle_ = out_link_.recv().cycle;
  }

  SdpaMapping m_;
  const SdpaInputs& in_;
  const SdpaFabric& f_;
  int lanes_, V_, S_;
  LinkChannel<Vec> k_link_, v_link_, score_link_, pmu_link_, msg_link_, out_link_;
  std::vector<float> out_;
  std::vector<i64> row_start_;
  Storage storage_;
  i64 last_cycle_ = 0;
};

void check_inputs(const SdpaInputs& in) {
  QACCEL_ASSERT(in.head_size >= 1 && in.positions >= 1 && int(in.q.size()) == in.head_size &&
                    in.k.size() == std::size_t(in.positions) * in.head_size &&
                    in.v.size() == in.k.size(),
                "SDPA inputs of inconsistent shapes");
}

}  // namespace

SdpaRun run_sdpa_systemc(SdpaMapping m, const SdpaInputs& in, const SdpaFabric& f) {
  f.validate("sdpa");
  check_inputs(in);
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  SdpaBench bench("sdpa_bench", m, in, f);
  sc_core::sc_start();  // until every tile is done
  return bench.result();
}

// The closed form. With C >= L + R a link never holds a consumer back beyond its producer's
// own pace: if the producer would send vector j at u_j (u_j >= u_{j-1} + 1) and the consumer
// asks for it at q_j (one dequeue a cycle), it is dequeued at d_j = max(u_j + L, q_j). By
// induction: a back-pressured send happens at s_j = max(u_j, s_{j-1} + 1, d_{j-C} + R), and
// s_{j-1} + 1 + L <= d_{j-1} + 1 <= max(u_j + L, q_j), d_{j-C} + R + L <= d_{j-C} + C <=
// max(u_j + L, q_j). So every dequeue time follows from the tiles' own rules (link.hpp's
// recurrence with the slack removed), and in cycles:
//  online: K vector j dequeued at j + L; score t leaves at tV + V - 1 + L and reaches the
//    softmax PCU at tV + V - 1 + 2L + ls; its message reaches the accumulator at
//    g_t = tV + V - 1 + 3L + ls + lx, which then takes V row t at g_t .. g_t + V - 1 (rows are
//    V apart, and V vector j is visible from j + L <= g_t). The writer takes the last output
//    at g_{P-1} + V - 1 + L + la.
//  naive: the PMU's last write is at w = PV - 1 + 2L + ls; pass 1 is read at w + 1 .. and
//    taken at w + 1 + s + L + lp, the last at r1 = w + S + L + lp; pass 2 is taken at
//    r1 + X + s with X = max(1, lr); pass 3 at r1 + S + 2X - 1 + s. Probability vector s
//    reaches the accumulator at A_s = r1 + S + 2X - 1 + s + L + lx; row t (in vector t / lanes,
//    A_s one cycle apart and rows V >= 1 apart) starts at A_0 + tV. The writer takes the last
//    output at A_0 + PV - 1 + L + la.
SdpaStats sdpa_head_cost(SdpaMapping m, int positions, int head_size, const SdpaFabric& f,
                         const std::string& where) {
  f.validate(where);
  QACCEL_ASSERT(positions >= 1 && head_size >= 1, "SDPA shape");
  const LinkSpec& k = f.link;
  if (k.capacity_vectors < k.latency_cycles + k.credit_latency_cycles)
    throw ConfigError(where +
                      ".link.capacity_vectors: the SDPA cost needs full-rate links "
                      "(capacity >= latency + credit latency = " +
                      std::to_string(k.latency_cycles + k.credit_latency_cycles) + "), found " +
                      std::to_string(k.capacity_vectors));
  const i64 P = positions, V = (head_size + k.lanes - 1) / k.lanes, S = (P + k.lanes - 1) / k.lanes;
  const i64 L = k.latency_cycles, ls = f.score_latency_cycles, lx = f.softmax_latency_cycles,
            la = f.acc_latency_cycles, lp = f.pmu_read_latency_cycles,
            X = std::max<i64>(1, f.reduce_latency_cycles);
  SdpaStats s;
  s.cycles_per_position = P > 1 ? V : 0;
  if (m == SdpaMapping::online) {
    s.total_cycles = P * V + V - 1 + 4 * L + ls + lx + la;
    s.vectors_moved = 2 * P * V + 2 * P + V;
    s.peak_buffer_bytes = 4 * i64(head_size) + 8;
  } else {
    s.total_cycles = 2 * P * V + 2 * S + 5 * L + ls + lp + lx + la + 2 * X - 2;
    s.vectors_moved = 2 * P * V + P + 4 * S + V;
    s.peak_buffer_bytes = 4 * P + 4 * i64(head_size) + 8;
  }
  return s;
}

SdpaCost sdpa_cost(SdpaMapping m, int context_positions, int head_size, int heads,
                   const SdpaFabric& f, const std::string& where) {
  QACCEL_ASSERT(heads >= 1, "SDPA heads");
  SdpaCost c;
  c.head = sdpa_head_cost(m, context_positions, head_size, f, where);
  const i64 rounds = (heads + f.pipelines - 1) / f.pipelines;
  c.cycles = rounds * c.head.total_cycles;
  c.vectors_moved = i64(heads) * c.head.vectors_moved;
  c.peak_buffer_bytes = std::min(heads, f.pipelines) * c.head.peak_buffer_bytes;
  return c;
}

}  // namespace qaccel::rdu
