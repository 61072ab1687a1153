#include "workloads/graph.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>

#include "sim/base/checked.hpp"
#include "sim/base/error.hpp"

namespace qaccel {

namespace {

constexpr std::int64_t kAlign = 4096;

void sort_unique(std::vector<int>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Interns the ops' tensors, lays them out in the memory map and fills the per-op addresses.
// Returns per op the tensor ids it reads and writes.
void index_tensors(OpGraph& g, std::vector<std::vector<int>>& reads,
                   std::vector<std::vector<int>>& writes) {
  std::unordered_map<std::string, int> id;
  auto intern = [&](const TensorRef& t) {
    auto [it, fresh] = id.try_emplace(t.name, int(g.tensors.size()));
    if (fresh) g.tensors.push_back({t.name, t.kind, t.bytes, 0});
    Tensor& x = g.tensors[std::size_t(it->second)];
    x.bytes = std::max(x.bytes, t.bytes);
    return it->second;
  };
  const std::size_t n = g.ops.size();
  reads.assign(n, {}), writes.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    for (const TensorRef& t : g.ops[i].reads)
      reads[i].push_back(intern(t));
    for (const TensorRef& t : g.ops[i].writes)
      writes[i].push_back(intern(t));
  }
  // Checked: the tensors of a huge workload can span more than 2^63 bytes of address space.
  std::int64_t cursor = 0;
  for (Tensor& t : g.tensors) {
    t.address = std::uint64_t(cursor);
    const std::int64_t span = checked::ceil_div(std::max<std::int64_t>(t.bytes, 1), kAlign);
    checked::accumulate(cursor, checked::mul("the memory map", span, kAlign),
                        "the memory map (every tensor's bytes, 4 KiB aligned)");
  }
  g.read_address.assign(n, 0), g.write_address.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    int pick = -1;
    for (int t : reads[i])
      if (g.tensors[std::size_t(t)].kind != TensorKind::activation) {
        pick = t;
        break;
      }
    if (pick < 0 && !reads[i].empty()) pick = reads[i][0];
    if (pick >= 0) g.read_address[i] = g.tensors[std::size_t(pick)].address;
    if (!writes[i].empty()) g.write_address[i] = g.tensors[std::size_t(writes[i][0])].address;
  }
}

void fill_succs(OpGraph& g) {
  g.succs.assign(g.ops.size(), {});
  for (std::size_t i = 0; i < g.ops.size(); ++i)
    for (int p : g.preds[i])
      g.succs[std::size_t(p)].push_back(int(i));
}

}  // namespace

std::vector<int> OpGraph::serial_order() const {
  const std::size_t n = ops.size();
  bool topological = true;
  for (std::size_t i = 0; i < n && topological; ++i)
    for (int p : preds[i])
      topological = topological && std::size_t(p) < i;
  std::vector<int> order;
  order.reserve(n);
  if (topological) {
    for (std::size_t i = 0; i < n; ++i)
      order.push_back(int(i));
    return order;
  }
  std::vector<int> missing(n);
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (!(missing[i] = int(preds[i].size()))) ready.push(int(i));
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int s : succs[std::size_t(i)])
      if (--missing[std::size_t(s)] == 0) ready.push(s);
  }
  QACCEL_ASSERT(order.size() == n, "serial order of a cyclic graph");
  return order;
}

OpGraph build_graph(std::vector<std::vector<Op>> passes) {
  OpGraph g;
  std::size_t n_ops = 0;
  for (const auto& p : passes)
    n_ops += p.size();
  g.ops.reserve(n_ops), g.step.reserve(n_ops);
  // Moved, pass by pass: a long decode's ops are held once, not twice.
  for (std::size_t s = 0; s < passes.size(); ++s) {
    for (Op& op : passes[s])
      g.ops.push_back(std::move(op)), g.step.push_back(int(s));
    std::vector<Op>().swap(passes[s]);
  }
  std::vector<std::vector<int>> reads, writes;
  index_tensors(g, reads, writes);
  const std::size_t n = g.ops.size();
  std::vector<int> last_writer(g.tensors.size(), -1);
  std::vector<std::vector<int>> readers(g.tensors.size());
  g.preds.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    auto& p = g.preds[i];
    for (int t : reads[i]) {
      if (last_writer[std::size_t(t)] >= 0) p.push_back(last_writer[std::size_t(t)]);
      readers[std::size_t(t)].push_back(int(i));
    }
    for (int t : writes[i]) {
      if (last_writer[std::size_t(t)] >= 0) p.push_back(last_writer[std::size_t(t)]);
      for (int r : readers[std::size_t(t)])
        if (r != int(i)) p.push_back(r);
      readers[std::size_t(t)].clear();
      last_writer[std::size_t(t)] = int(i);
    }
    sort_unique(p);
  }
  fill_succs(g);
  return g;
}

std::vector<int> find_cycle(std::size_t n, const std::vector<std::vector<int>>& preds) {
  std::vector<int> missing(n);
  std::vector<std::vector<int>> succs(n);
  for (std::size_t i = 0; i < n; ++i) {
    missing[i] = int(preds[i].size());
    for (int p : preds[i])
      succs[std::size_t(p)].push_back(int(i));
  }
  std::vector<int> stack;
  for (std::size_t i = 0; i < n; ++i)
    if (!missing[i]) stack.push_back(int(i));
  while (!stack.empty()) {
    int i = stack.back();
    stack.pop_back();
    for (int s : succs[std::size_t(i)])
      if (--missing[std::size_t(s)] == 0) stack.push_back(s);
  }
  // Every op left waits for another op left: walk back along such preds until one repeats.
  int start = -1;
  for (std::size_t i = 0; i < n && start < 0; ++i)
    if (missing[i]) start = int(i);
  if (start < 0) return {};
  std::vector<int> seen(n, -1), path;
  int i = start;
  while (seen[std::size_t(i)] < 0) {
    seen[std::size_t(i)] = int(path.size());
    path.push_back(i);
    for (int p : preds[std::size_t(i)])
      if (missing[std::size_t(p)]) {
        i = p;
        break;
      }
  }
  std::vector<int> cycle(path.begin() + seen[std::size_t(i)], path.end());
  std::reverse(cycle.begin(), cycle.end());  // in dependency order: each waits for the previous
  return cycle;
}

OpGraph build_graph_with_edges(std::vector<Op> ops, const std::vector<std::vector<int>>& preds,
                               const std::string& what) {
  QACCEL_ASSERT(preds.size() == ops.size(), "one pred list per op");
  // Loaders reject cycles with the key path that made them; one here is a bug.
  QACCEL_ASSERT(find_cycle(ops.size(), preds).empty(), what + ": a dependency cycle");
  OpGraph g;
  g.ops = std::move(ops);
  g.step.assign(g.ops.size(), 0);
  std::vector<std::vector<int>> reads, writes;
  index_tensors(g, reads, writes);
  g.preds = preds;
  for (auto& p : g.preds)
    sort_unique(p);
  fill_succs(g);
  return g;
}

OpGraph lower_workload(const ModelSpec& m, const WorkloadSpec& w, AttentionOps attention) {
  const std::int64_t n = count_ops(m, w, attention);
  if (n > kMaxOps)
    throw ConfigError("model '" + m.name + "', workload '" + w.name + "': " + std::to_string(n) +
                      " ops to simulate, more than one run may hold (" + std::to_string(kMaxOps) +
                      "); use fewer generated tokens or layers, or per_layer attention");
  std::vector<std::vector<Op>> passes;
  for (int s = 0; s < w.passes(); ++s)
    passes.push_back(lower_forward(m, w, s, attention));
  return build_graph(std::move(passes));
}

void write_dot(std::ostream& os, const OpGraph& g, const std::string& title) {
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s)
      q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  const bool steps = !g.step.empty() && g.step.back() > 0;
  os << "digraph " << quote(title) << " {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n";
  for (std::size_t i = 0; i < g.size(); ++i) {
    const Op& o = g.ops[i];
    std::string label = (steps ? "s" + std::to_string(g.step[i]) + " " : "") + o.name + "\\n" +
                        std::string(to_string(o.kind));
    os << "  n" << i << " [label=\"";
    for (char c : label)
      os << (c == '"' ? std::string("\\\"") : std::string(1, c));
    os << "\"" << (has_weights(o.kind) ? ", style=filled, fillcolor=\"#dde8f7\"" : "") << "];\n";
  }
  for (std::size_t i = 0; i < g.size(); ++i)
    for (int p : g.preds[i])
      os << "  n" << p << " -> n" << i << ";\n";
  os << "}\n";
}

}  // namespace qaccel
