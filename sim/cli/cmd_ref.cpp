#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/report/table.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

namespace qaccel::cli {

namespace {

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

void compare_float(const ModelSpec& base, const FloatWeights& weights,
                   const std::vector<int>& prompt, int greedy,
                   const std::vector<QuantSpec>& schemes) {
  // Float path first: its prompt + greedy continuation is the sequence every scheme is fed.
  ModelSpec fm = base;
  fm.quant = QuantSpec{};
  Reference fref(fm, weights, int(prompt.size()) + greedy);
  std::vector<std::vector<float>> flog;
  std::vector<int> cont = run_sequence(
      fref, prompt, greedy,
      [&](int, int, std::span<const float> l) { flog.emplace_back(l.begin(), l.end()); });
  std::vector<int> seq = prompt;
  if (!cont.empty()) {
    seq.insert(seq.end(), cont.begin(), cont.end());
    seq.pop_back();  // the final continuation token is never fed
  }

  Table t;
  t.add_column("scheme");
  t.add_column("positions", true);
  t.add_column("max_abs_err", true);
  t.add_column("mean_abs_err", true);
  t.add_column("top1_agree", true);
  for (const QuantSpec& q : schemes) {
    ModelSpec qm = base;
    qm.quant = q;
    auto problems = qm.problems();
    if (!problems.empty()) {
      std::cerr << "compare-float: skipping " << q.name() << ": " << problems[0] << "\n";
      continue;
    }
    Reference qref(qm, weights, int(seq.size()));
    double max_err = 0, sum_err = 0;
    long long n = 0, agree = 0, nonfinite = 0;
    run_sequence(qref, seq, 0, [&](int pos, int, std::span<const float> l) {
      const auto& f = flog[pos];
      bool finite = true;
      for (std::size_t i = 0; i < l.size(); ++i) {
        // NaN compares false with everything: std::max would drop it and report agreement.
        if (!std::isfinite(l[i]) || !std::isfinite(f[i])) {
          finite = false;
          continue;
        }
        double e = std::fabs(double(l[i]) - double(f[i]));
        max_err = std::max(max_err, e), sum_err += e, ++n;
      }
      nonfinite += !finite;
      agree += finite && argmax(l) == argmax(f);
    });
    char a[64];
    std::snprintf(a, sizeof a, "%.4g", max_err);
    std::string mx = nonfinite ? "non-finite" : a;
    std::snprintf(a, sizeof a, "%.4g", n ? sum_err / double(n) : 0.0);
    std::string mean = nonfinite ? "non-finite" : a;
    if (nonfinite)
      std::cerr << "compare-float: " << q.name() << ": " << nonfinite
                << " positions have non-finite logits (counted as disagreeing)\n";
    t.add_row({q.name(), std::to_string(seq.size()), mx, mean,
               fixed(100.0 * double(agree) / double(seq.size()), 1)});
  }
  std::cout << "\nlogit error against the float32 path (teacher-forced on its " << seq.size()
            << " positions; top1_agree in %):\n";
  t.render(std::cout, TableFormat::table);
}

}  // namespace

int cmd_ref(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("model", po::value<std::string>(), "model config file (YAML)")(
      "checkpoint", po::value<std::string>(), "llama2.c checkpoint (.bin); shapes from its header")(
      "quant", po::value<std::string>(),
      "quantization scheme overriding the model's, e.g. w8a8, w4a16-g128, fp32")(
      "prompt-tokens", po::value<std::string>()->required(), "prompt token ids, e.g. \"1 72 101\"")(
      "greedy", po::value<int>()->default_value(0), "argmax tokens to generate after the prompt")(
      "dump-logits", po::value<std::string>(), "write each prompt position's logits to this file")(
      "compare-float", po::bool_switch(),
      "report each scheme's logit error against the float32 path")(
      "max-memory-gib", po::value<double>()->default_value(16.0),
      "refuse models whose float weights exceed this");
  po::variables_map vm;
  const std::string synopsis =
      "(--model M.yaml | --checkpoint F.bin) [--quant SCHEME] --prompt-tokens \"T ...\" [--greedy "
      "N]\n"
      "       [--dump-logits FILE] [--compare-float]";
  const std::string about =
      "Runs the functional reference (llama2.c semantics; the bit-exact quantized contract of\n"
      "workloads/QUANTIZATION.md when the scheme is quantized) on a prompt.";
  if (!parse("ref", synopsis, about, opts, nullptr, args, vm)) return 0;
  std::string usage = "usage: qaccel ref " + synopsis + "\n";

  ModelSpec m = model_from_options(vm, usage);
  std::vector<int> prompt =
      parse_tokens(vm["prompt-tokens"].as<std::string>(), m.vocab_size, "--prompt-tokens");
  const int greedy = vm["greedy"].as<int>();
  if (greedy < 0) throw UsageError("--greedy must be >= 0", usage);
  // 64-bit: prompt + greedy can pass INT_MAX (--greedy 2147483647).
  const long long positions = (long long)prompt.size() + std::max(0, greedy - 1);
  if (positions > m.seq_len)
    throw ConfigError("prompt (" + std::to_string(prompt.size()) + ") + greedy tokens need " +
                      std::to_string(positions) + " positions, more than the model's seq_len " +
                      std::to_string(m.seq_len));
  check_reference_memory(m, vm["max-memory-gib"].as<double>(), positions + 1);

  std::cout << "model      " << describe_model(m) << "\n";
  std::cout << "scheme     " << m.quant.name() << "\n";
  Timer load_t;
  FloatWeights w = load_weights(m);
  std::cerr << "weights loaded in " << fixed(load_t.seconds(), 2) << " s\n";

  std::ofstream dump;
  if (vm.count("dump-logits")) {
    dump.open(vm["dump-logits"].as<std::string>(), std::ios::trunc);
    if (!dump)
      throw ConfigError("--dump-logits: cannot write " + vm["dump-logits"].as<std::string>());
  }
  const bool compare = vm["compare-float"].as<bool>();
  Reference ref(m, compare ? w : std::move(w), int(positions));
  Timer run_t;
  int n_pos = 0, next = -1;
  std::vector<int> out =
      run_sequence(ref, prompt, greedy, [&](int pos, int token, std::span<const float> l) {
        ++n_pos;
        if (pos + 1 == int(prompt.size())) next = argmax(l);
        if (!dump.is_open() || pos >= int(prompt.size())) return;
        std::string line = "pos " + std::to_string(pos) + " token " + std::to_string(token);
        char buf[32];
        for (float v : l) {
          std::snprintf(buf, sizeof buf, " %.9g", double(v));
          line += buf;
        }
        dump << line << "\n";
      });
  double secs = run_t.seconds();
  std::cout << "prompt     " << prompt.size() << " tokens; argmax after it: token " << next << "\n";
  if (greedy) {
    std::cout << "greedy:";
    for (int t : out)
      std::cout << " " << t;
    std::cout << "\n";
  }
  std::cout << "reference  " << n_pos << " positions in " << fixed(secs, 3) << " s ("
            << fixed(secs > 0 ? n_pos / secs : 0.0, 1) << " tokens/s)\n";
  if (dump.is_open()) {
    dump.close();
    if (!dump) throw ConfigError("--dump-logits: write failed");
    std::cout << "logits     " << vm["dump-logits"].as<std::string>() << "\n";
  }

  if (compare) {
    std::vector<QuantSpec> schemes;
    if (vm.count("quant") || m.quant.quantized()) {
      if (m.quant.quantized()) schemes.push_back(m.quant);
    }
    if (!vm.count("quant")) {
      int g = m.quant.quantized() && info(m.quant.weights).grouped ? m.quant.group_size : 64;
      std::string gs = g == 0 ? "-pc" : "-g" + std::to_string(g);
      for (const char* s : {"w8a8", "w4a8", "w4a16", "w3a16"}) {
        QuantSpec q = parse_scheme(s + gs);
        if (!(q == m.quant)) schemes.push_back(q);
      }
      for (const std::string& s : {"w8a8" + gs + "-kv8", std::string("fp16")}) {
        QuantSpec q = parse_scheme(s);
        if (!(q == m.quant)) schemes.push_back(q);
      }
    }
    if (schemes.empty())
      throw UsageError("--compare-float needs a quantized scheme (from the model or --quant)",
                       usage);
    compare_float(m, w, prompt, greedy, schemes);
  }
  return 0;
}

}  // namespace qaccel::cli
