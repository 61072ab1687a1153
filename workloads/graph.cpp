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

PassBlock GraphBuilder::add_pass(std::vector<Op> ops, int step) {
  PassBlock b;
  b.first = next_, b.step = step;
  const std::size_t n = ops.size();
  b.preds.assign(n, {}), b.ready_floor_cycles.assign(n, 0);
  b.read_address.assign(n, 0), b.write_address.assign(n, 0);
  using Entry = std::pair<const std::string, TensorState>;
  std::vector<Entry*> fresh;  // tensors this pass lays out, in first-use order
  auto intern = [&](const TensorRef& t) -> Entry& {
    auto [it, is_new] = tensors_.try_emplace(t.name);
    TensorState& x = it->second;
    if (is_new) {
      x.kind = t.kind, x.bytes = t.bytes, x.address = ~std::uint64_t(0);
      fresh.push_back(&*it);
    } else if (t.bytes > x.bytes) {
      // Laid out by an earlier pass, it cannot grow without moving every later tensor.
      QACCEL_ASSERT(x.address == ~std::uint64_t(0),
                    "tensor " + t.name + " grows in step " + std::to_string(step));
      x.bytes = t.bytes;
    }
    x.last_step = step;
    return *it;
  };
  std::vector<std::vector<Entry*>> reads(n), writes(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const TensorRef& t : ops[i].reads)
      reads[i].push_back(&intern(t));
    for (const TensorRef& t : ops[i].writes)
      writes[i].push_back(&intern(t));
  }
  // The edges of build_graph: RAW on the last writer, WAW on it, WAR on the readers since.
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t id = b.first + std::int64_t(i);
    auto& p = b.preds[i];
    std::int64_t& floor = b.ready_floor_cycles[i];
    auto after_writer = [&](const TensorState& x) {
      if (x.writer >= 0)
        p.push_back(x.writer);
      else
        floor = std::max(floor, x.writer_end_cycles);
    };
    for (Entry* e : reads[i]) {
      after_writer(e->second);
      e->second.readers.push_back(id);
    }
    for (Entry* e : writes[i]) {
      TensorState& x = e->second;
      after_writer(x);
      for (std::int64_t r : x.readers)
        if (r != id) p.push_back(r);
      floor = std::max(floor, x.readers_end_cycles);
      x.readers.clear(), x.readers_end_cycles = 0;
      x.writer = id, x.writer_end_cycles = 0;
    }
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
  }
  for (Entry* e : fresh) {
    TensorState& x = e->second;
    x.address = std::uint64_t(cursor_);
    extent_ = std::max(extent_, x.address + std::uint64_t(x.bytes));
    const std::int64_t span = checked::ceil_div(std::max<std::int64_t>(x.bytes, 1), kAlign);
    checked::accumulate(cursor_, checked::mul("the memory map", span, kAlign),
                        "the memory map (every tensor's bytes, 4 KiB aligned)");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Entry* pick = nullptr;
    for (const Entry* e : reads[i])
      if (e->second.kind != TensorKind::activation) {
        pick = e;
        break;
      }
    if (!pick && !reads[i].empty()) pick = reads[i][0];
    if (pick) b.read_address[i] = pick->second.address;
    if (!writes[i].empty()) b.write_address[i] = writes[i][0]->second.address;
  }
  // Activations are named per step: one no op of this pass touched is never seen again.
  for (auto it = tensors_.begin(); it != tensors_.end();)
    if (it->second.kind == TensorKind::activation && it->second.last_step < step)
      it = tensors_.erase(it);
    else
      ++it;
  next_ += std::int64_t(n);
  b.ops = std::move(ops);
  return b;
}

void GraphBuilder::forget(std::int64_t first, const std::vector<std::int64_t>& end_cycles) {
  const std::int64_t end = first + std::int64_t(end_cycles.size());
  auto end_of = [&](std::int64_t id) { return end_cycles[std::size_t(id - first)]; };
  for (auto& [name, x] : tensors_) {
    if (x.writer >= first && x.writer < end) x.writer_end_cycles = end_of(x.writer), x.writer = -1;
    std::size_t kept = 0;
    for (std::int64_t r : x.readers)
      if (r >= first && r < end)
        x.readers_end_cycles = std::max(x.readers_end_cycles, end_of(r));
      else
        x.readers[kept++] = r;
    x.readers.resize(kept);
  }
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
