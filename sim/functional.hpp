#pragma once
// Functional mode: the reference runs the workload's tokens, and every quantized matmul the
// mapper placed on a unit with a functional path is recomputed on that unit from the
// reference's quantized inputs and compared bit for bit.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/record_log.hpp"
#include "sim/system.hpp"
#include "workloads/spec.hpp"

namespace qaccel {

// The workload's token stream: its explicit prompt_tokens, then ids drawn from prompt_seed.
std::vector<int> workload_tokens(const WorkloadSpec& w, int vocab, int n);

// Refuses, before allocating, a model whose float32 weights and KV cache over `positions`
// positions exceed max_gib (ConfigError): a long context on a small model can need more memory
// than its weights.
void check_reference_memory(const ModelSpec& m, double max_gib, long long positions);

struct Verification {
  std::int64_t matmuls = 0;               // matmul calls recomputed on a unit, bit-exact
  std::int64_t reference_kernel_ops = 0;  // ops of the timing run no unit recomputed
  std::vector<std::string> units;         // the units that recomputed
  // The first mismatch ("op L0.wq at position 32 on unit 'mxu': output 3 is ..."), or empty.
  // Returned as data rather than thrown: SystemC's coroutine stacks are not annotated for
  // AddressSanitizer, so unwinding after a simulation confuses its stack tracking.
  std::string mismatch;
};

// `records` are the timing run's (for the op -> unit mapping). Decode: the context positions
// only fill the KV cache, so the simulated steps' positions are the ones checked. Checking
// stops at the first mismatch.
Verification verify_functional(const System& sys, const ModelSpec& m, const WorkloadSpec& w,
                               const RecordLog& records);

}  // namespace qaccel
