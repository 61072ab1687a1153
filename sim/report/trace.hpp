#pragma once
// A run as a Chrome / Perfetto trace (the trace-event "JSON Object Format" that chrome://tracing
// and ui.perfetto.dev open): process 1 is the system, with a thread track per unit holding one
// slice per op; process 2 is the memory system, with a DRAM bandwidth counter track sampled in
// buckets over the run.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "sim/simulate.hpp"
#include "sim/system.hpp"

namespace qaccel {

// DRAM traffic in equal buckets of `width` cycles over [0, span) (the last one may be shorter):
// bytes[k] moved in [k * width, min((k + 1) * width, span)). A stretch spanning buckets is split
// pro rata to its cycles in each, in whole bytes, so the buckets sum exactly to the stretches'.
struct DramBuckets {
  std::int64_t width = 1, span = 0;
  std::vector<std::int64_t> bytes;
  std::int64_t width_of(std::size_t k) const;
};
// span: the run's makespan (extended to the last stretch's end if that is later);
// at most max_buckets buckets.
DramBuckets bucket_dram(const std::vector<MemoryBusy>& memory, std::int64_t span,
                        int max_buckets = 1000);

// Writes the trace of `r`, which must have been simulated with record_memory (the counter is
// made from the memory's busy stretches). `title` names the system's process
// ("qaccel: edge-npu / stories15M / decode-32").
// Timestamps are microseconds (the format's unit): cycles / clock_ghz / 1000, printed with the
// shortest decimals that read back as the same double; the args carry the exact cycles.
// Deterministic: the same run gives the same bytes.
void write_trace_json(std::ostream& os, const System& sys, const SimResult& r,
                      const std::string& title, int max_buckets = 1000);

}  // namespace qaccel
