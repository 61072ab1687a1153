#include "sim/report/trace.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "sim/base/error.hpp"
#include "sim/report/table.hpp"

namespace qaccel {

namespace {

using i64 = std::int64_t;

// Shortest fixed-notation decimal that reads back as the same double (no exponent, so every
// JSON reader and the eye take it as it is).
std::string dec(double v) {
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  QACCEL_ASSERT(ec == std::errc(), "number formatting failed");
  return std::string(buf, end);
}

std::string g4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::int64_t DramBuckets::width_of(std::size_t k) const {
  return std::min(width, span - i64(k) * width);
}

DramBuckets bucket_dram(const std::vector<MemoryBusy>& memory, std::int64_t span, int max_buckets) {
  QACCEL_ASSERT(max_buckets > 0, "bucket_dram: no buckets");
  DramBuckets b;
  for (const MemoryBusy& m : memory)
    span = std::max(span, m.end_cycle);
  b.span = std::max<i64>(span, 0);
  if (b.span == 0) {
    // Nothing took a cycle: one one-cycle bucket holds whatever moved at time 0.
    i64 total = 0;
    for (const MemoryBusy& m : memory)
      total += m.bytes;
    if (total) b.bytes.push_back(total), b.span = 1;
    return b;
  }
  b.width = (b.span + max_buckets - 1) / max_buckets;
  b.bytes.assign(std::size_t((b.span + b.width - 1) / b.width), 0);
  const i64 last = i64(b.bytes.size()) - 1;
  for (const MemoryBusy& m : memory) {
    if (m.bytes == 0) continue;
    const i64 len = m.end_cycle - m.begin_cycle;
    if (len <= 0) {
      b.bytes[std::size_t(std::clamp<i64>(m.begin_cycle / b.width, 0, last))] += m.bytes;
      continue;
    }
    // Whole bytes by cumulative rounding: after bucket k the stretch has given
    // floor(bytes * cycles so far / len), so the last bucket it touches completes it.
    i64 given = 0;
    for (i64 k = std::max<i64>(0, m.begin_cycle / b.width); k <= last; ++k) {
      const i64 upto = std::min(m.end_cycle, (k + 1) * b.width) - m.begin_cycle;
      if (upto <= 0) continue;
      const i64 now = i64(__int128(m.bytes) * upto / len);
      b.bytes[std::size_t(k)] += now - given;
      given = now;
      if (upto >= len) break;
    }
  }
  return b;
}

void write_trace_json(std::ostream& os, const System& sys, const SimResult& r,
                      const std::string& title, int max_buckets) {
  const auto& spec = sys.spec();
  const double ghz = spec.clock_ghz;
  // Microseconds from cycles: one division, so whole-nanosecond clocks print exactly.
  const double cycles_per_us = ghz * 1000.0;
  auto us = [&](i64 cycles) { return dec(double(cycles) / cycles_per_us); };
  QACCEL_ASSERT(!r.memory.empty() || r.totals.dram_bytes == 0,
                "trace: the run moved DRAM bytes but kept no memory timeline (record_memory)");
  const i64 makespan = r.totals.cycles;
  const DramBuckets buckets = bucket_dram(r.memory, makespan, max_buckets);
  auto tid_of = [&](const std::string& unit) {
    for (std::size_t u = 0; u < r.units.size(); ++u)
      if (r.units[u].name == unit) return int(u) + 1;
    throw InternalError("trace: op on unit '" + unit + "', which the run does not list");
  };

  os << "{\"displayTimeUnit\": \"ns\",\n\"otherData\": {\"generator\": \"qaccel\", \"title\": "
     << json_escape(title) << ", \"system\": " << json_escape(spec.name)
     << ", \"clock_ghz\": " << dec(ghz) << ", \"schedule\": \"" << to_string(spec.schedule)
     << "\", \"prefetch\": \"" << to_string(spec.prefetch)
     << "\", \"makespan_cycles\": " << makespan << ", \"ops\": " << r.records.size()
     << ", \"dram_bytes\": " << r.totals.dram_bytes << ", \"dram_bucket_cycles\": " << buckets.width
     << "},\n\"traceEvents\": [\n";
  // Events, one per line.
  bool first = true;
  auto event = [&]() -> std::ostream& {
    os << (first ? "" : ",\n");
    first = false;
    return os;
  };
  // Names and order of the tracks: the units' process (a thread per unit), then the memory
  // system's (its bandwidth counter).
  auto meta = [&](const char* what, int pid, int tid, const std::string& arg) {
    event() << "{\"name\": \"" << what << "\", \"ph\": \"M\", \"pid\": " << pid
            << ", \"tid\": " << tid << ", \"args\": {" << arg << "}}";
  };
  meta("process_name", 1, 0, "\"name\": " + json_escape(title));
  meta("process_sort_index", 1, 0, "\"sort_index\": 1");
  for (std::size_t u = 0; u < r.units.size(); ++u) {
    meta("thread_name", 1, int(u) + 1, "\"name\": " + json_escape(r.units[u].name));
    meta("thread_sort_index", 1, int(u) + 1, "\"sort_index\": " + std::to_string(u + 1));
  }
  const double bw = sys.peak_dram_bytes_per_cycle();
  meta("process_name", 2, 0,
       "\"name\": " + json_escape("memory (" + spec.dram.kind + ", " + g4(bw) +
                                  " B/cycle = " + g4(bw * ghz) + " GB/s)"));
  meta("process_sort_index", 2, 0, "\"sort_index\": 2");

  // One slice per op, on its unit's track.
  for (const OpRecord& rec : r.records)
    event() << "{\"name\": " << json_escape(rec.op.name) << ", \"cat\": \""
            << to_string(rec.op.kind)
            << "\", \"ph\": \"X\", \"pid\": 1, \"tid\": " << tid_of(rec.unit)
            << ", \"ts\": " << us(rec.start_cycle)
            << ", \"dur\": " << us(rec.end_cycle - rec.start_cycle)
            << ", \"args\": {\"step\": " << rec.step << ", \"cycles\": " << rec.cost.cycles
            << ", \"compute_cycles\": " << rec.cost.compute_cycles
            << ", \"stall_cycles\": " << rec.cost.stall_cycles
            << ", \"waited_for\": " << json_escape(rec.waited_for)
            << ", \"dram_bytes\": " << rec.cost.dram_read_bytes + rec.cost.dram_write_bytes
            << ", \"start_cycle\": " << rec.start_cycle << ", \"end_cycle\": " << rec.end_cycle
            << ", \"ready_cycle\": " << rec.ready_cycle
            << ", \"memory_cycles\": " << rec.memory_cycles
            << ", \"prefetched_bytes\": " << rec.prefetched_bytes << ", \"bound\": \""
            << (rec.memory_bound ? "memory" : "compute")
            << "\", \"utilization\": " << g4(rec.utilization) << "}}";

  // The memory system: DRAM bandwidth, one sample per bucket (GB/s = bytes per ns), on the
  // memory process's counter track. A sample equal to the previous one is left out (a counter
  // holds its value until the next); a final 0 closes the last bucket.
  auto sample = [&](i64 cycle, const std::string& gbs) {
    event() << "{\"name\": \"DRAM bandwidth\", \"cat\": \"memory\", \"ph\": \"C\", \"pid\": 2, "
               "\"tid\": 0, \"ts\": "
            << us(cycle) << ", \"args\": {\"GB/s\": " << gbs << "}}";
  };
  std::string prev;
  for (std::size_t k = 0; k < buckets.bytes.size(); ++k) {
    const double ns = double(buckets.width_of(k)) / ghz;
    const std::string v = dec(double(buckets.bytes[k]) / ns);
    if (v != prev) sample(i64(k) * buckets.width, v);
    prev = v;
  }
  if (!buckets.bytes.empty()) sample(buckets.span, "0");
  os << "\n]}\n";
}

}  // namespace qaccel
