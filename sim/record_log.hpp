#pragma once
// The op records of a run, in op order. A long decode has millions of them, so they are kept
// serialized: in memory up to a few MiB, the rest in an unnamed temporary file (in $TMPDIR,
// deleted when the log goes). Memory stays bounded however long the run; reading walks them
// back in order, and any number of walks may run at once.
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "sim/engine.hpp"

namespace qaccel {

class RecordLog {
 public:
  RecordLog() = default;
  ~RecordLog();
  RecordLog(RecordLog&& o) noexcept;
  RecordLog& operator=(RecordLog&& o) noexcept;
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Appends a record (its op's tensor lists are not kept). Throws IoError when the temporary
  // file cannot be written.
  void add(const OpRecord& r);
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  // Bytes held in memory (for the tests of the bound).
  std::size_t memory_bytes() const { return buf_.capacity(); }
  std::int64_t file_bytes() const { return file_bytes_; }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = OpRecord;
    using difference_type = std::ptrdiff_t;
    using pointer = const OpRecord*;
    using reference = const OpRecord&;
    iterator() = default;
    const OpRecord& operator*() const { return rec_; }
    const OpRecord* operator->() const { return &rec_; }
    iterator& operator++();
    bool operator==(const iterator& o) const { return index_ == o.index_; }
    bool operator!=(const iterator& o) const { return index_ != o.index_; }

   private:
    friend class RecordLog;
    iterator(const RecordLog* log, std::size_t index);
    void load();
    void get(void* dst, std::size_t n);
    const RecordLog* log_ = nullptr;
    std::size_t index_ = 0;
    std::int64_t offset_ = 0;  // of the next byte to read, file then memory
    std::string chunk_;        // file bytes [chunk_at_, chunk_at_ + chunk_.size())
    std::int64_t chunk_at_ = 0;
    OpRecord rec_;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, n_); }
  std::vector<OpRecord> to_vector() const;

 private:
  void spill();
  std::string buf_;  // serialized records after the file's
  int fd_ = -1;
  std::int64_t file_bytes_ = 0;
  std::size_t n_ = 0;
};

}  // namespace qaccel
