#include <chrono>
#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/report/table.hpp"
#include "workloads/ops.hpp"
#include "workloads/reference.hpp"
#include "workloads/rng.hpp"
#include "workloads/weights.hpp"

namespace qaccel::cli {

namespace {

// The workload's token stream: its explicit prompt_tokens, then ids drawn from prompt_seed.
std::vector<int> workload_tokens(const WorkloadSpec& w, int vocab, int n) {
  std::vector<int> t(w.prompt_tokens.begin(),
                     w.prompt_tokens.begin() + std::min<std::size_t>(n, w.prompt_tokens.size()));
  SplitMix64 g(w.prompt_seed);
  while (int(t.size()) < n)
    t.push_back(int(g.below(std::uint32_t(vocab))));
  return t;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("config", po::value<std::string>()->required(),
                     "job config file (model + workload)")(
      "max-memory-gib", po::value<double>()->default_value(16.0),
      "refuse models whose float weights exceed this");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse(
          "run", "JOB.yaml",
          "Runs a job: lowers the workload's forward pass to operators and executes the model's\n"
          "functional reference on the workload's tokens. (Hardware models arrive with later\n"
          "issues; this command then simulates the job on the configured system.)",
          opts, &pos, args, vm))
    return 0;
  config::JobSpec job = config::load_job(vm["config"].as<std::string>());
  const ModelSpec& m = job.model;
  const WorkloadSpec& w = job.workload;

  std::cout << "job        " << job.file.string() << "\n";
  std::cout << "model      " << describe_model(m) << "\n";
  std::cout << "scheme     " << m.quant.name() << "\n";
  bool prefill = w.phase == Phase::prefill;
  std::cout << "workload   " << w.name << ": "
            << (prefill ? "prefill of " + std::to_string(w.prompt_len) + " tokens"
                        : "decode of " + std::to_string(w.generated_tokens) +
                              " tokens at context " + std::to_string(w.context_len))
            << ", batch " << w.batch << "\n";

  // Work of the whole workload: every step's pass.
  OpTotals all;
  int steps = prefill ? 1 : w.generated_tokens;
  std::int64_t attn_macs = 0;
  for (int s = 0; s < steps; ++s) {
    std::vector<Op> ops = lower_forward(m, w, s);
    for (const Op& o : ops)
      if (o.kind == OpKind::attn_score || o.kind == OpKind::attn_value) attn_macs += o.macs;
    all += totals(ops);
  }
  std::cout << "work       " << steps << " pass(es), " << all.ops << " ops, "
            << human(double(all.macs)) << " MACs (" << human(double(attn_macs))
            << " in attention), " << human(double(all.total_bytes())) << "B moved (weights "
            << human(double(all.weight_bytes)) << "B, KV cache "
            << human(double(all.kv_read_bytes + all.kv_write_bytes)) << "B), intensity "
            << fixed(all.total_bytes() ? double(all.flops) / double(all.total_bytes()) : 0.0, 2)
            << " FLOP/B\n";

  // Functional reference on batch element 0.
  check_reference_memory(m, vm["max-memory-gib"].as<double>());
  int context = prefill ? w.prompt_len : w.context_len;
  int greedy = prefill ? 1 : w.generated_tokens + 1;
  std::vector<int> prompt = workload_tokens(w, m.vocab_size, context);
  auto t0 = std::chrono::steady_clock::now();
  std::cerr << "loading weights...\n";
  Reference ref(m, load_weights(m), context + greedy - 1);
  auto t1 = std::chrono::steady_clock::now();
  int n_pos = 0;
  std::vector<int> out = run_sequence(ref, prompt, greedy, [&](int p, int, std::span<const float>) {
    ++n_pos;
    if (p % 16 == 15)
      std::cerr << "\rreference: position " << (p + 1) << "/" << (context + greedy - 1)
                << std::flush;
  });
  if (n_pos >= 16) std::cerr << "\n";
  auto t2 = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(t2 - t1).count();
  std::cout << "reference  batch element 0: " << n_pos << " positions in " << fixed(secs, 3)
            << " s (" << fixed(secs > 0 ? n_pos / secs : 0.0, 1) << " tokens/s; weights ready in "
            << fixed(std::chrono::duration<double>(t1 - t0).count(), 2) << " s)\n";
  std::cout << "tokens     " << (prefill ? "next after the prompt:" : "generated:");
  for (int t : out)
    std::cout << " " << t;
  std::cout << "\n";
  return 0;
}

}  // namespace qaccel::cli
