#include "sim/record_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sim/base/error.hpp"

namespace qaccel {

namespace {

// Memory kept before the records go to the file, and the size of a read from it.
constexpr std::size_t kMemoryBytes = std::size_t(4) << 20;
constexpr std::size_t kChunkBytes = std::size_t(64) << 10;

template <class T>
void put(std::string& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(std::string& b, const std::string& s) {
  put(b, std::uint32_t(s.size()));
  b.append(s);
}

// Every field a report reads, in one fixed order (read back by iterator::load).
void serialize(std::string& b, const OpRecord& r) {
  const Op& o = r.op;
  put_str(b, o.name);
  put(b, std::int32_t(o.kind)), put(b, std::int32_t(o.layer));
  for (std::int64_t v : {o.m, o.n, o.k, o.count, o.elements})
    put(b, v);
  put_str(b, o.dtype);
  put(b, std::int32_t(o.weight_bits)), put(b, std::int32_t(o.act_bits));
  put(b, std::int32_t(o.kv_bits));
  put(b, std::int32_t(o.wformat)), put(b, std::int32_t(o.aformat));
  for (std::int64_t v : {o.group, o.macs, o.flops, o.weight_bytes, o.act_read_bytes,
                         o.act_write_bytes, o.kv_read_bytes, o.kv_write_bytes})
    put(b, v);
  put(b, std::int32_t(r.step));
  put_str(b, r.unit), put_str(b, r.mapped_by), put_str(b, r.waited_for);
  const OpCost& c = r.cost;
  for (std::int64_t v :
       {c.cycles, c.compute_cycles, c.stall_cycles, c.macs, c.flops, c.dram_read_bytes,
        c.dram_write_bytes, c.sram_read_bytes, c.sram_write_bytes, r.ready_cycle, r.start_cycle,
        r.end_cycle, r.memory_cycles, r.hidden_memory_cycles, r.prefetched_bytes})
    put(b, v);
  for (double v : {c.compute_pj, c.sram_pj, c.dram_pj, r.intensity, r.attained_flops_per_cycle,
                   r.peak_flops_per_cycle, r.utilization})
    put(b, v);
  put(b, std::uint8_t(r.memory_bound));
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

RecordLog::~RecordLog() {
  if (fd_ >= 0) ::close(fd_);
}

RecordLog::RecordLog(RecordLog&& o) noexcept
    : buf_(std::move(o.buf_)), fd_(o.fd_), file_bytes_(o.file_bytes_), n_(o.n_) {
  o.fd_ = -1, o.file_bytes_ = 0, o.n_ = 0, o.buf_.clear();
}

RecordLog& RecordLog::operator=(RecordLog&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    buf_ = std::move(o.buf_), fd_ = o.fd_, file_bytes_ = o.file_bytes_, n_ = o.n_;
    o.fd_ = -1, o.file_bytes_ = 0, o.n_ = 0, o.buf_.clear();
  }
  return *this;
}

void RecordLog::add(const OpRecord& r) {
  serialize(buf_, r);
  ++n_;
  if (buf_.size() >= kMemoryBytes) spill();
}

void RecordLog::spill() {
  if (fd_ < 0) {
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/qaccel-records-XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0)
      throw IoError("cannot create a temporary file for the op records in " +
                    path.substr(0, path.rfind('/')) + ": " + errno_text() +
                    " (set TMPDIR to a writable directory)");
    ::unlink(path.c_str());  // unnamed from now on: it goes when the descriptor closes
  }
  std::size_t done = 0;
  while (done < buf_.size()) {
    const ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      throw IoError("cannot write the op records to their temporary file: " +
                    (w < 0 ? errno_text() : std::string("no space written")));
    done += std::size_t(w);
  }
  file_bytes_ += std::int64_t(buf_.size());
  buf_.clear();
}

std::vector<OpRecord> RecordLog::to_vector() const {
  std::vector<OpRecord> v;
  v.reserve(n_);
  for (const OpRecord& r : *this)
    v.push_back(r);
  return v;
}

RecordLog::iterator::iterator(const RecordLog* log, std::size_t index) : log_(log), index_(index) {
  if (index_ < log_->n_) load();
}

RecordLog::iterator& RecordLog::iterator::operator++() {
  if (++index_ < log_->n_) load();
  return *this;
}

void RecordLog::iterator::get(void* dst, std::size_t n) {
  char* out = static_cast<char*>(dst);
  while (n > 0) {
    std::size_t took = 0;
    if (offset_ < log_->file_bytes_) {
      if (offset_ < chunk_at_ || offset_ >= chunk_at_ + std::int64_t(chunk_.size())) {
        chunk_.resize(
            std::size_t(std::min<std::int64_t>(kChunkBytes, log_->file_bytes_ - offset_)));
        std::size_t got = 0;
        while (got < chunk_.size()) {
          const ssize_t r = ::pread(log_->fd_, chunk_.data() + got, chunk_.size() - got,
                                    off_t(offset_ + std::int64_t(got)));
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0)
            throw IoError("cannot read the op records back from their temporary file: " +
                          (r < 0 ? errno_text() : std::string("it ends early")));
          got += std::size_t(r);
        }
        chunk_at_ = offset_;
      }
      const std::size_t at = std::size_t(offset_ - chunk_at_);
      took = std::min(n, chunk_.size() - at);
      std::memcpy(out, chunk_.data() + at, took);
    } else {
      const std::size_t at = std::size_t(offset_ - log_->file_bytes_);
      QACCEL_ASSERT(at + n <= log_->buf_.size(), "op record log read past its end");
      took = n;
      std::memcpy(out, log_->buf_.data() + at, took);
    }
    out += took, n -= took, offset_ += std::int64_t(took);
  }
}

void RecordLog::iterator::load() {
  auto i64 = [&] {
    std::int64_t v;
    get(&v, sizeof v);
    return v;
  };
  auto i32 = [&] {
    std::int32_t v;
    get(&v, sizeof v);
    return v;
  };
  auto f64 = [&] {
    double v;
    get(&v, sizeof v);
    return v;
  };
  auto str = [&] {
    std::uint32_t n;
    get(&n, sizeof n);
    std::string s(n, '\0');
    get(s.data(), n);
    return s;
  };
  OpRecord r;
  Op& o = r.op;
  o.name = str();
  o.kind = OpKind(i32()), o.layer = i32();
  o.m = i64(), o.n = i64(), o.k = i64(), o.count = i64(), o.elements = i64();
  o.dtype = str();
  o.weight_bits = i32(), o.act_bits = i32();
  o.kv_bits = i32();
  o.wformat = WeightFormat(i32()), o.aformat = ActFormat(i32());
  o.group = i64(), o.macs = i64(), o.flops = i64(), o.weight_bytes = i64();
  o.act_read_bytes = i64(), o.act_write_bytes = i64(), o.kv_read_bytes = i64();
  o.kv_write_bytes = i64();
  r.step = i32();
  r.unit = str(), r.mapped_by = str(), r.waited_for = str();
  OpCost& c = r.cost;
  c.cycles = i64(), c.compute_cycles = i64(), c.stall_cycles = i64(), c.macs = i64();
  c.flops = i64(), c.dram_read_bytes = i64(), c.dram_write_bytes = i64();
  c.sram_read_bytes = i64(), c.sram_write_bytes = i64();
  r.ready_cycle = i64(), r.start_cycle = i64(), r.end_cycle = i64();
  r.memory_cycles = i64(), r.hidden_memory_cycles = i64(), r.prefetched_bytes = i64();
  c.compute_pj = f64(), c.sram_pj = f64(), c.dram_pj = f64();
  r.intensity = f64(), r.attained_flops_per_cycle = f64(), r.peak_flops_per_cycle = f64();
  r.utilization = f64();
  std::uint8_t b;
  get(&b, 1);
  r.memory_bound = b != 0;
  rec_ = std::move(r);
}

}  // namespace qaccel
