#pragma once
// The op graph: ops in program order (a valid topological order), the tensors they read and
// write, and the dependency edges that follow from them. Schedulers run it in any order the
// edges allow; `serial` runs it in program order.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "workloads/ops.hpp"
#include "workloads/spec.hpp"

namespace qaccel {

struct Tensor {
  std::string name;
  TensorKind kind = TensorKind::activation;
  std::int64_t bytes = 0;     // the largest size any op gave it
  std::uint64_t address = 0;  // base in the flat memory map (4 KiB aligned, in first-use order)
};

struct OpGraph {
  std::vector<Op> ops;    // program order
  std::vector<int> step;  // the pass each op belongs to
  std::vector<Tensor> tensors;
  std::vector<std::vector<int>> preds;  // per op, ascending op indices
  std::vector<std::vector<int>> succs;  // per op, ascending
  // Per op: where its DRAM reads and writes start in the memory map (its first weight or KV
  // tensor, else its first activation; its first written tensor).
  std::vector<std::uint64_t> read_address, write_address;

  std::size_t size() const { return ops.size(); }
  // Program order if it is topological, else the smallest-index-first topological order.
  std::vector<int> serial_order() const;
};

// Builds the graph of `passes` run one after another: a read depends on the last writer of its
// tensor (RAW), a write on the last writer (WAW) and on every reader since (WAR).
OpGraph build_graph(std::vector<std::vector<Op>> passes);

// The same with explicit edges (layer lists): preds[i] lists the ops op i waits for, in any
// order, and no cycle among them (the caller has checked; `what` names the source).
OpGraph build_graph_with_edges(std::vector<Op> ops, const std::vector<std::vector<int>>& preds,
                               const std::string& what);

// Every pass of a workload: one prefill pass, or one pass per generated token. Throws
// ConfigError above kMaxOps ops.
OpGraph lower_workload(const ModelSpec& m, const WorkloadSpec& w,
                       AttentionOps attention = AttentionOps::per_layer);

// A cycle among the edges, as op indices in order (empty when the graph is acyclic).
std::vector<int> find_cycle(std::size_t n, const std::vector<std::vector<int>>& preds);

// Graphviz: one node per op (name, kind, unit-independent), one edge per dependency.
void write_dot(std::ostream& os, const OpGraph& g, const std::string& title);

}  // namespace qaccel
