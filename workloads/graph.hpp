#pragma once
// The op graph: ops in program order (a valid topological order), the tensors they read and
// write, and the dependency edges that follow from them. Schedulers run it in any order the
// edges allow; `serial` runs it in program order.
#include <cstdint>
#include <ostream>
#include <string>
#include <unordered_map>
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

// One pass of ops with the edges, tensors and addresses build_graph gives them among all the
// passes, built as the passes come: GraphBuilder keeps only what a later pass can still refer
// to, so a long decode is built in bounded memory. Ops are numbered globally in program order.
struct PassBlock {
  std::int64_t first = 0;  // the global index of ops[0]
  int step = 0;
  std::vector<Op> ops;
  // Per op: the ops it waits for (global, ascending) that the builder has not forgotten, and
  // the latest end cycle of those it has (0 when none): a forgotten op has finished.
  std::vector<std::vector<std::int64_t>> preds;
  std::vector<std::int64_t> ready_floor_cycles;
  std::vector<std::uint64_t> read_address, write_address;
};

class GraphBuilder {
 public:
  // The next pass. Its tensors take the addresses build_graph would give them: new tensors are
  // laid out in first-use order after the pass, so a tensor may not grow in a later pass (the
  // lowering never does that; it is checked). Throws OverflowError when the map passes 2^63.
  PassBlock add_pass(std::vector<Op> ops, int step);
  // Ops [first, first + n) have finished, ending at `end_cycles[i]`: forget them.
  void forget(std::int64_t first, const std::vector<std::int64_t>& end_cycles);
  // The bytes the memory map so far spans: the furthest end of a tensor laid out.
  std::uint64_t extent() const { return extent_; }
  std::int64_t ops() const { return next_; }
  std::size_t tensors() const { return tensors_.size(); }  // held now

 private:
  struct TensorState {
    TensorKind kind = TensorKind::activation;
    std::int64_t bytes = 0;
    std::uint64_t address = 0;
    int last_step = 0;
    std::int64_t writer = -1;             // the last writer, while remembered
    std::int64_t writer_end_cycles = 0;   // ... or its end once forgotten
    std::vector<std::int64_t> readers;    // readers since the last write, remembered
    std::int64_t readers_end_cycles = 0;  // the latest end of those forgotten
  };
  std::unordered_map<std::string, TensorState> tensors_;
  std::int64_t next_ = 0, cursor_ = 0;
  std::uint64_t extent_ = 0;
};

// Every pass of a workload: one prefill pass, or one pass per generated token. Throws
// ConfigError above kMaxOps ops.
OpGraph lower_workload(const ModelSpec& m, const WorkloadSpec& w,
                       AttentionOps attention = AttentionOps::per_layer);

// A cycle among the edges, as op indices in order (empty when the graph is acyclic).
std::vector<int> find_cycle(std::size_t n, const std::vector<std::vector<int>>& preds);

// Graphviz: one node per op (name, kind, unit-independent), one edge per dependency.
void write_dot(std::ostream& os, const OpGraph& g, const std::string& title);

}  // namespace qaccel
