#include "sim/functional.hpp"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>

#include <unistd.h>

#include "sim/base/error.hpp"
#include "workloads/reference.hpp"
#include "workloads/rng.hpp"
#include "workloads/weights.hpp"

namespace qaccel {

std::vector<int> workload_tokens(const WorkloadSpec& w, int vocab, int n) {
  std::vector<int> t(w.prompt_tokens.begin(),
                     w.prompt_tokens.begin() + std::min<std::size_t>(n, w.prompt_tokens.size()));
  SplitMix64 g(w.prompt_seed);
  while (int(t.size()) < n)
    t.push_back(int(g.below(std::uint32_t(vocab))));
  return t;
}

Verification verify_functional(const System& sys, const ModelSpec& m, const WorkloadSpec& w,
                               const RecordLog& records) {
  std::map<std::string, Unit*> unit_of;
  for (const OpRecord& r : records)
    if (r.step == 0 && has_weights(r.op.kind)) unit_of[r.op.name] = &sys.unit(r.unit);
  const bool prefill = w.phase == Phase::prefill;
  const int context = w.start_context();
  const int greedy = w.generated_tokens + 1;
  Reference ref(m, load_weights(m), context + greedy - 1);
  Verification v;
  std::set<std::string> units, recomputed;
  std::vector<float> hw;
  const int first_checked = prefill ? 0 : context;
  int pos_now = 0;
  std::string& mismatch = v.mismatch;
  ref.set_matmul_hook([&](const std::string& name, const QActivation& x, const QTensor& wt,
                          std::span<const float> out) {
    if (pos_now < first_checked || !mismatch.empty()) return;
    auto it = unit_of.find(name);
    QACCEL_ASSERT(it != unit_of.end(), "reference matmul " + name + " has no op in the lowering");
    if (!it->second->matmul({&x}, wt, hw)) return;
    QACCEL_ASSERT(hw.size() == out.size(), "unit returned a wrongly sized matmul");
    for (std::size_t i = 0; i < out.size() && mismatch.empty(); ++i)
      if (std::memcmp(&hw[i], &out[i], sizeof(float)) != 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, ": output %zu is %.9g, the reference has %.9g", i,
                      double(hw[i]), double(out[i]));
        mismatch = "op " + name + " at position " + std::to_string(pos_now) + " on unit '" +
                   it->second->name() + "'" + buf;
      }
    if (!mismatch.empty()) return;
    ++v.matmuls;
    units.insert(it->second->name());
    recomputed.insert(name);
  });
  std::vector<int> tokens = workload_tokens(w, m.vocab_size, context);
  int positions = 0;
  // On a terminal the progress line rewrites itself; into a file or pipe each report is a
  // line of its own (a carriage return there runs the reports together).
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  run_sequence(ref, tokens, greedy, [&](int p, int, std::span<const float>) {
    ++positions, pos_now = p + 1;
    if (p % 16 == 15) {
      std::cerr << (tty ? "\r" : "") << "functional: position " << (p + 1) << "/"
                << (context + greedy - 1) << (tty ? "" : "\n") << std::flush;
    }
  });
  if (tty && positions >= 16) std::cerr << "\n";
  v.units.assign(units.begin(), units.end());
  for (const OpRecord& r : records)
    v.reference_kernel_ops += !recomputed.count(r.op.name);
  return v;
}

void check_reference_memory(const ModelSpec& m, double max_gib, long long positions) {
  // K and V of every layer and position, at most float32 each.
  const double kv = 2.0 * m.n_layers * double(positions) * m.kv_dim() * 4.0;
  double gib = (double(m.n_params()) * 4.0 + kv) / double(1 << 30);
  if (gib <= max_gib) return;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "needs %.1f GiB of float32 weights and KV cache, more than --max-memory-gib %.1f",
                gib, max_gib);
  throw ConfigError("the functional reference of '" + m.name + "' " + buf +
                    "; use a smaller model (tiny, stories*) or raise the limit");
}

}  // namespace qaccel
