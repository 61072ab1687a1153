#pragma once
// The RDU fabric simulated (issue 15): a placed, routed section of tiles whose streams run
// through credit-based links (arch/rdu/link.hpp's rule, unchanged), cycle by cycle.
//
// TILES. Each node runs one or more sequential programs ("contexts"); a context moves one
// vector at a time and waits for the link (or the buffer) when it cannot.
//  - A PCU (maps, reductions, matmul tiles) is ONE context working in steps, one input vector
//    per step (N = its input vectors; N = its output vectors when it has no input; one step of
//    its whole work when it has no live stream at all).
//    Inputs: before step i it has dequeued ceil((i+1) v_e / N) vectors of each in-edge e (v_e
//    its vectors; in-edges in index order), so a step has the inputs it uses -- a scale map
//    waits for its one reciprocal vector before its first row vector. It dequeues step i's
//    inputs no earlier than the end of step i - 1 (no prefetch while busy).
//    Work: step i starts at s_i = max(free cycle, its latest link event) and keeps the PCU busy
//    floor((i+1) B / N) - floor(i B / N) cycles (B = busy_cycles).
//    Outputs of a STREAMING PCU (maps): after step i it has sent floor((i+1) w_e / N) vectors on
//    each out-edge e (w_e its vectors), each from s_i on; one output vector goes to every
//    consumer, so the slowest consumer paces it. A BLOCKING PCU (reductions and matmul tiles,
//    place.hpp's blocking()) sends nothing before its last step ends, then its outputs in
//    Mo = max w_e rounds, round k bringing edge e to floor((k+1) w_e / Mo).
//  - A PMU buffer is a scratchpad: one WRITER context per in-edge takes that stream's vectors
//    as they come, W writers sharing the one write port (a vector every W cycles each, the
//    rate rule below), and one READER context per out-edge sends that consumer its
//    w_e vectors on its own; vector j of a reader needs ceil((j+1) F / w_e) of the buffer's F
//    input vectors written, one cycle earlier at least (written in cycle t, readable in t + 1).
//    R readers share `addresses_per_cycle` A reads per cycle: a reader's vectors come
//    max(R, A) / A cycles apart on average (the same rate rule as an AGCU's, below).
//  - An AGCU is one context per stream, paced by its node's busy cycles B (the lowering's) as a
//    rate: move j of a stream of w vectors holds its port floor((j+1) B / w) - floor(j B / w)
//    cycles, so the next move comes no earlier (a stalled stream does not burst to catch up).
//  A send that waits for a credit stalls its whole context (a PCU's every stream with it).
// STAGE BUFFERS. A PCU with several in-edges joins streams that may have left one producer
// together and come back over paths of different delay (the residual add: x straight on, and
// x through a norm and a blocking matmul); with link-sized buffers that wait cycle is a
// deadlock, and a dataflow compiler breaks it by putting a stage buffer on the short path. Here
// every in-edge of a joining PCU whose producer is another PCU, and that carries more vectors
// than its link holds (capacity + the producer's fill), gets a buffer for its whole stream.
// The PMUs these would use are reported (stage_buffer_bytes), not placed. Why no wait cycle
// can form: an AGCU stream or a buffer reader is waited on by its one consumer only, so it
// cannot sit on a cycle; buffer writers and sinks always drain; so a cycle would run through
// PCUs alone, and on a DAG it must turn from waiting downstream (a full link) to waiting
// upstream (an empty one) at a join -- where a PCU's long stream into the join is
// stage-buffered and never full, and a short one holds its whole stream.
// LINKS. A stream from node a to node b over h hops is one link of link.hpp's rule with
//    L = max(1, h x hop_latency_cycles) + latency_cycles(a),  C = link_capacity_vectors +
//    latency_cycles(a),  R = credit_latency_cycles:
//    the producer's pipeline fill is folded into the link (a pipeline of depth d delays a vector
//    by d cycles and holds d vectors). Full rate needs C >= L + R as before.
// NOT MODELLED HERE (the RDU unit bounds them from below, place.hpp's Section::bound_cycles):
// a memory tier's bandwidth shared by its AGCUs, and several streams sharing one mesh link.
// Section cycles = the latest cycle any node is busy or moves a vector, plus one.
//
// Two engines with identical results (tests/test_rdu_fabric.cpp): `plain`, a discrete-event
// loop over LinkModel with a queue of contexts by next move (no SystemC, any number of times per
// process; what the RDU unit uses), and `systemc`, one sc_spawn'd thread per context on
// LinkTiming (elaborates and runs the kernel: once per process).
#include <cstdint>
#include <string>
#include <vector>

#include "arch/rdu/link.hpp"
#include "arch/rdu/place.hpp"
#include "arch/rdu/spec.hpp"

namespace qaccel::rdu {

enum class FabricEngine { plain, systemc };

struct FabricParams {
  i64 hop_latency_cycles = 1;
  i64 credit_latency_cycles = 1;
};

struct FabricNodeStats {
  i64 busy_cycles = 0;   // PCU: the sum of its steps; PMU / AGCU: its node's busy cycles
  i64 end_cycle = 0;     // free again / last vector moved, plus one
  i64 stall_cycles = 0;  // its out-links' producer stalls and in-links' consumer waits
};

struct FabricResult {
  i64 cycles = 0;
  i64 vectors_moved = 0;             // vectors dequeued over all links
  i64 vector_hops = 0;               // vectors moved x hops of their route
  i64 stage_buffers = 0;             // joining in-edges given a whole-stream buffer
  i64 stage_buffer_bytes = 0;        // and the bytes those buffers hold
  std::vector<LinkCounters> links;   // per section edge
  std::vector<LinkSpec> link_specs;  // per section edge
  std::vector<FabricNodeStats> nodes;
};

// The link each edge of `sec` uses (stage buffers included).
std::vector<LinkSpec> section_links(const Section& sec, const RduSpec& s, const FabricParams& p);

// Whether the RDU unit simulates `sec` (at most simulate_max_vectors vectors) rather than take
// the compiler's estimate.
inline bool simulated(const Section& sec, const RduSpec& s) {
  return sec.vectors() <= s.simulate_max_vectors;
}

FabricResult simulate_section(const Section& sec, const RduSpec& s, FabricEngine engine,
                              const FabricParams& p = {});

}  // namespace qaccel::rdu
