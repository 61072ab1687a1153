#include <iostream>
#include <map>

#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/report/table.hpp"
#include "workloads/graph.hpp"

namespace qaccel::cli {

namespace {

std::string describe_pass(const WorkloadSpec& w, int step) {
  std::string s = w.prefill_pass(step) ? "prefill of " + std::to_string(w.prompt_len) + " tokens"
                                       : "decode step " + std::to_string(step) + " at context " +
                                             std::to_string(w.pass_context(step));
  return s + ", batch " + std::to_string(w.batch);
}

}  // namespace

int cmd_ops(const std::vector<std::string>& args) {
  po::options_description opts("options");
  opts.add_options()("model", po::value<std::string>(), "model config file")(
      "checkpoint", po::value<std::string>(), "llama2.c checkpoint instead of a model file")(
      "quant", po::value<std::string>(), "quantization scheme overriding the model's")(
      "workload", po::value<std::string>()->required(), "workload config file")(
      "step", po::value<int>()->default_value(0),
      "pass to lower: decode step N runs at context context_len + N; a prefill's pass 0 is the "
      "prompt, pass N > 0 the decode step at context prompt_len + N - 1")(
      "attention", po::value<std::string>()->default_value("per_layer"),
      "per_layer | per_head (one attention op per sequence and KV head)")(
      "format", po::value<std::string>()->default_value("table"), "table | csv | json | dot");
  po::variables_map vm;
  const std::string synopsis =
      "(--model M.yaml | --checkpoint F.bin) --workload W.yaml [--step N]\n"
      "       [--attention per_layer|per_head] [--format table|csv|json|dot]";
  if (!parse(
          "ops", synopsis,
          "Lowers one forward pass (a prefill, or one decode step) to its op graph: each op with\n"
          "shapes, MACs, FLOPs, bytes of weights, activations and KV cache, and the ops it waits\n"
          "for (from the tensors it reads and writes); totals at the end. --format dot writes the\n"
          "graph for Graphviz (dot -Tsvg).",
          opts, nullptr, args, vm))
    return 0;
  std::string usage = "usage: qaccel ops " + synopsis + "\n";
  const std::string format = vm["format"].as<std::string>();
  const bool dot = format == "dot";
  if (!dot && format != "table" && format != "csv" && format != "json")
    throw UsageError("--format: expected table, csv, json or dot, found '" + format + "'", usage);
  TableFormat fmt = dot ? TableFormat::table : parse_table_format(format);
  const std::string att = vm["attention"].as<std::string>();
  if (att != "per_layer" && att != "per_head")
    throw UsageError("--attention: expected per_layer or per_head, found '" + att + "'", usage);
  ModelSpec m = model_from_options(vm, usage);
  WorkloadSpec w = config::load_workload(vm["workload"].as<std::string>());
  auto problems = w.problems(m);
  if (!problems.empty()) throw ConfigError(vm["workload"].as<std::string>() + ": " + problems[0]);
  int step = vm["step"].as<int>();
  int max_step = w.passes() - 1;
  if (step < 0 || step > max_step)
    throw UsageError("--step must be in [0, " + std::to_string(max_step) + "] for this workload",
                     usage);

  OpGraph g = build_graph({lower_forward(
      m, w, step, att == "per_head" ? AttentionOps::per_head : AttentionOps::per_layer)});
  if (dot) {
    write_dot(std::cout, g, m.name + " " + describe_pass(w, step));
    return 0;
  }
  const std::vector<Op>& ops = g.ops;
  OpTotals t = totals(ops);
  Table tab;
  for (const char* c : {"op", "kind", "dtype"})
    tab.add_column(c);
  for (const char* c :
       {"layer", "m", "n", "k", "count", "elements", "macs", "flops", "weight_bytes",
        "act_read_bytes", "act_write_bytes", "kv_read_bytes", "kv_write_bytes", "intensity"})
    tab.add_column(c, true);
  tab.add_column("after");
  auto s = [](std::int64_t v) { return std::to_string(v); };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& o = ops[i];
    std::string after;
    for (int p : g.preds[i])
      after += (after.empty() ? "" : " ") + ops[std::size_t(p)].name;
    tab.add_row({o.name, std::string(to_string(o.kind)), o.dtype, s(o.layer), s(o.m), s(o.n),
                 s(o.k), s(o.count), s(o.elements), s(o.macs), s(o.flops), s(o.weight_bytes),
                 s(o.act_read_bytes), s(o.act_write_bytes), s(o.kv_read_bytes), s(o.kv_write_bytes),
                 fixed(o.intensity(), 4), after});
  }
  double intensity = t.total_bytes() ? double(t.flops) / double(t.total_bytes()) : 0.0;
  if (fmt == TableFormat::csv) {
    tab.add_row({"TOTAL", "", "", "", "", "", "", "", "", s(t.macs), s(t.flops), s(t.weight_bytes),
                 s(t.act_read_bytes), s(t.act_write_bytes), s(t.kv_read_bytes), s(t.kv_write_bytes),
                 fixed(intensity, 4), ""});
    tab.render(std::cout, fmt);
    return 0;
  }
  if (fmt == TableFormat::json) {
    std::cout << "{\"model\": " << json_escape(m.name)
              << ", \"scheme\": " << json_escape(m.quant.name())
              << ", \"workload\": " << json_escape(w.name)
              << ", \"pass\": " << json_escape(describe_pass(w, step)) << ",\n\"ops\": ";
    tab.render(std::cout, fmt);
    std::cout << ", \"totals\": {\"ops\": " << t.ops << ", \"macs\": " << t.macs
              << ", \"flops\": " << t.flops << ", \"weight_bytes\": " << t.weight_bytes
              << ", \"act_read_bytes\": " << t.act_read_bytes
              << ", \"act_write_bytes\": " << t.act_write_bytes
              << ", \"kv_read_bytes\": " << t.kv_read_bytes
              << ", \"kv_write_bytes\": " << t.kv_write_bytes
              << ", \"total_bytes\": " << t.total_bytes()
              << ", \"intensity\": " << fixed(intensity, 6) << "}}\n";
    return 0;
  }
  std::cout << "model " << m.name << " (" << m.quant.name() << "), workload " << w.name << ": "
            << describe_pass(w, step) << "\n\n";
  tab.render(std::cout, fmt);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_kind;  // macs, bytes
  for (const Op& o : ops) {
    auto& e = by_kind[std::string(to_string(o.kind))];
    e.first += o.macs, e.second += o.total_bytes();
  }
  std::cout << "\nby kind:\n";
  Table k;
  k.add_column("kind");
  k.add_column("macs", true);
  k.add_column("bytes", true);
  for (const auto& [name, v] : by_kind)
    k.add_row({name, s(v.first), s(v.second)});
  k.render(std::cout, TableFormat::table);
  std::cout << "\ntotals: " << t.ops << " ops, " << t.macs << " MACs (" << human(double(t.macs))
            << "), " << t.flops << " FLOPs, " << t.total_bytes() << " bytes ("
            << human(double(t.total_bytes())) << "B: weights " << human(double(t.weight_bytes))
            << "B, activations " << human(double(t.act_read_bytes + t.act_write_bytes))
            << "B, KV cache " << human(double(t.kv_read_bytes + t.kv_write_bytes))
            << "B), intensity " << fixed(intensity, 3) << " FLOP/B\n";
  return 0;
}

}  // namespace qaccel::cli
