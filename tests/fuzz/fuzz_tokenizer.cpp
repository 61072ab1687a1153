// llama2.c tokenizer.bin files: the reader (at the vocabulary size the records imply, and one
// more and one fewer, the mismatches), then encode and decode of the input's own bytes.
#include <cstring>

#include "fuzz_util.hpp"
#include "sim/base/error.hpp"
#include "workloads/tokenizer.hpp"

using namespace qaccel;

namespace {

// How many whole (score, length, bytes) records follow the 4-byte header, as a reader that
// trusts the lengths would count them (at least 1).
int count_records(const std::uint8_t* data, std::size_t size) {
  std::size_t off = 4;
  int n = 0;
  while (size >= 8 && off <= size - 8 && n < (1 << 20)) {
    std::int32_t len;
    std::memcpy(&len, data + off + 4, 4);
    if (len < 0 || std::size_t(len) > size - off - 8) break;
    off += 8 + std::size_t(len), ++n;
  }
  return n > 0 ? n : 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = fuzz::write_input(data, size, "tokenizer.bin");
  const int n = count_records(data, size);
  for (int vocab : {n, n + 1, n - 1}) {
    if (vocab <= 0) continue;
    try {
      Tokenizer t = read_tokenizer(file, vocab);
      const std::string_view text(reinterpret_cast<const char*>(data), size);
      std::vector<int> ids = t.encode(text, true, true);
      for (int id : ids)
        QACCEL_ASSERT(id >= 0 && id < t.vocab_size(), "encode gave an id outside the vocabulary");
      (void)t.decode(ids);
      (void)t.encode("Once upon a time, caf\xC3\xA9 \xF0\x9F\x99\x82 \x80!");
    } catch (const ConfigError&) {
      // The documented outcome for bad input; anything else escapes and is a finding.
    }
  }
  return 0;
}
