#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/base/files.hpp"
#include "sim/cli/cli.hpp"
#include "sim/functional.hpp"
#include "sim/report/table.hpp"
#include "workloads/evaluate.hpp"
#include "workloads/reference.hpp"
#include "workloads/tokenizer.hpp"
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

// Texts up to 1 GiB (WikiText-103's training split is 540 MB).
constexpr std::uintmax_t kMaxTextBytes = std::uintmax_t(1) << 30;

void run_perplexity(const ModelSpec& m, const po::variables_map& vm) {
  const std::string text_path = vm["perplexity"].as<std::string>();
  const std::string tok_path = vm["tokenizer"].as<std::string>();
  Tokenizer tok = read_tokenizer(tok_path, m.vocab_size);
  const std::string text = read_regular_file(text_path, kMaxTextBytes, "text");
  if (auto nul = text.find('\0'); nul != std::string::npos)
    throw ConfigError("text " + text_path + ": NUL byte at offset " + std::to_string(nul) +
                      " (not a text file?)");
  Timer enc_t;
  std::vector<int> tokens = tok.encode(text);
  const long long encoded = (long long)tokens.size();
  const long long max_tokens = vm["max-tokens"].as<long long>();
  if (max_tokens > 0 && (long long)tokens.size() > max_tokens)
    tokens.resize(std::size_t(max_tokens));
  if (tokens.size() < 2)
    throw ConfigError("text " + text_path + " gives " + std::to_string(tokens.size()) +
                      " token (BOS only: an empty file?); perplexity needs at least 2");
  const long long n = (long long)tokens.size(), window = m.seq_len;
  check_reference_memory(m, vm["max-memory-gib"].as<double>(), std::min(n, window));

  std::cout << "model      " << describe_model(m) << "\n";
  std::cout << "text       " << text_path << ": " << text.size() << " bytes, " << encoded
            << " tokens (tokenizer " << tok_path << ", " << fixed(enc_t.seconds(), 2) << " s)";
  if (n < encoded) std::cout << "; the first " << n << " evaluated";
  std::cout << "\n";
  Timer load_t;
  FloatWeights w = load_weights(m);
  std::cerr << "weights loaded in " << fixed(load_t.seconds(), 2) << " s\n";

  std::vector<QuantSpec> schemes{QuantSpec{}};
  for (const QuantSpec& q : comparison_schemes(m, vm.count("quant") > 0))
    schemes.push_back(q);
  Table t;
  t.add_column("scheme");
  t.add_column("tokens", true);
  t.add_column("nll", true);
  t.add_column("ppl", true);
  long long windows = 0;
  for (std::size_t k = 0; k < schemes.size(); ++k) {
    ModelSpec qm = m;
    qm.quant = schemes[k];
    const std::string name = qm.quant.name();
    auto problems = qm.problems();
    if (!problems.empty()) {
      std::cerr << "perplexity: skipping " << name << ": " << problems[0] << "\n";
      continue;
    }
    const std::string tag = "perplexity: [" + std::to_string(k + 1) + "/" +
                            std::to_string(schemes.size()) + "] " + name;
    std::cerr << tag << " ...\n";
    Timer run_t;
    double last = 0;
    Perplexity r = perplexity(qm, w, tokens, [&](long long done, long long total) {
      if (run_t.seconds() - last < 10 || done == total) return;
      last = run_t.seconds();
      std::cerr << tag << ": " << done << " / " << total << " positions\n";
    });
    const double secs = run_t.seconds();
    std::cerr << tag << ": " << r.predicted << " positions in " << fixed(secs, 2) << " s ("
              << fixed(secs > 0 ? double(r.predicted) / secs : 0.0, 1) << " tokens/s)\n";
    if (r.nonfinite)
      std::cerr << "perplexity: " << name << ": " << r.nonfinite
                << " positions have non-finite logits\n";
    windows = r.windows;
    const bool ok = r.nonfinite == 0;
    t.add_row({name, std::to_string(r.predicted), ok ? fixed(r.mean_nll(), 4) : "non-finite",
               ok ? fixed(r.ppl(), 3) : "non-finite"});
  }
  std::cout << "\nperplexity, teacher-forced over " << windows << " window"
            << (windows == 1 ? "" : "s") << " of up to " << window
            << " tokens (seq_len; each from position 0); nll in nats per predicted token:\n";
  t.render(std::cout, TableFormat::table);
}

}  // namespace

int cmd_ref(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("model", po::value<std::string>(), "model config file (YAML)")(
      "checkpoint", po::value<std::string>(), "llama2.c checkpoint (.bin); shapes from its header")(
      "quant", po::value<std::string>(),
      "quantization scheme overriding the model's, e.g. w8a8, w4a16-g128, fp32")(
      "prompt-tokens", po::value<std::string>(), "prompt token ids, e.g. \"1 72 101\"")(
      "greedy", po::value<int>()->default_value(0), "argmax tokens to generate after the prompt")(
      "dump-logits", po::value<std::string>(), "write each prompt position's logits to this file")(
      "compare-float", po::bool_switch(),
      "report each scheme's logit error against the float32 path")(
      "perplexity", po::value<std::string>(),
      "perplexity of the model on this text file, per scheme (fp32 and the --compare-float "
      "schemes): non-overlapping windows of seq_len tokens, teacher-forced")(
      "tokenizer", po::value<std::string>(),
      "llama2.c tokenizer.bin of the model (with --perplexity)")(
      "max-tokens", po::value<long long>()->default_value(0),
      "with --perplexity: evaluate only the text's first N tokens (0 = all)")(
      "max-memory-gib", po::value<double>()->default_value(16.0),
      "refuse models whose float weights exceed this");
  po::variables_map vm;
  const std::string synopsis =
      "(--model M.yaml | --checkpoint F.bin) [--quant SCHEME] --prompt-tokens \"T ...\" [--greedy "
      "N]\n"
      "       [--dump-logits FILE] [--compare-float]\n"
      "   or: qaccel ref (--model M.yaml | --checkpoint F.bin) [--quant SCHEME] --perplexity TEXT "
      "--tokenizer tokenizer.bin\n"
      "       [--max-tokens N]";
  const std::string about =
      "Runs the functional reference (llama2.c semantics; the bit-exact quantized contract of\n"
      "workloads/QUANTIZATION.md when the scheme is quantized) on a prompt, or measures its\n"
      "perplexity on a text per quantization scheme.";
  if (!parse("ref", synopsis, about, opts, nullptr, args, vm)) return 0;
  std::string usage = "usage: qaccel ref " + synopsis + "\n";

  if (vm.count("perplexity")) {
    if (!vm.count("tokenizer"))
      throw UsageError("--perplexity needs --tokenizer FILE (the model's llama2.c tokenizer.bin)",
                       usage);
    for (const char* o : {"prompt-tokens", "dump-logits"})
      if (vm.count(o))
        throw UsageError(std::string("--perplexity runs on its own: drop --") + o, usage);
    if (!vm["greedy"].defaulted() || vm["compare-float"].as<bool>())
      throw UsageError("--perplexity runs on its own: drop --greedy and --compare-float", usage);
    if (vm["max-tokens"].as<long long>() < 0) throw UsageError("--max-tokens must be >= 0", usage);
    run_perplexity(model_from_options(vm, usage), vm);
    return 0;
  }
  for (const char* o : {"tokenizer", "max-tokens"})
    if (vm.count(o) && !vm[o].defaulted())
      throw UsageError(std::string("--") + o + " goes with --perplexity TEXT", usage);
  if (!vm.count("prompt-tokens"))
    throw UsageError("give --prompt-tokens \"T ...\" (or --perplexity TEXT)", usage);

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
    std::vector<QuantSpec> schemes = comparison_schemes(m, vm.count("quant") > 0);
    if (schemes.empty())
      throw UsageError("--compare-float needs a quantized scheme (from the model or --quant)",
                       usage);
    compare_float(m, w, prompt, greedy, schemes);
  }
  return 0;
}

}  // namespace qaccel::cli
