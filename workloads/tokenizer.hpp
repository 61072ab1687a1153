#pragma once
// llama2.c's byte-pair tokenizer: its tokenizer.bin format and the encoding of run.c's encode()
// (Llama 2 sentencepiece semantics as llama2.c reproduces them), token for token.
//
// tokenizer.bin (little-endian, as llama2.c's tokenizer.py writes it):
//   int32 max_token_length
//   vocab_size times: float32 score, int32 len, len bytes (the piece, no terminator)
// The file does not record vocab_size: it comes from the model (the checkpoint's header).
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qaccel {

class Tokenizer {
 public:
  // Pieces and scores as given (ids = indices). `source` names them in error messages (the
  // file). Throws ConfigError when the sizes differ, there are fewer than 3 pieces (<unk>, BOS,
  // EOS), a score is not finite or a piece is longer than max_token_length.
  Tokenizer(std::vector<std::string> pieces, std::vector<float> scores, int max_token_length,
            std::string source = "tokenizer");
  // Movable, not copyable (the lookup table points into the pieces).
  Tokenizer(Tokenizer&&) = default;
  Tokenizer& operator=(Tokenizer&&) = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  int vocab_size() const { return int(pieces_.size()); }
  int max_token_length() const { return max_token_length_; }
  const std::string& piece(int id) const { return pieces_.at(std::size_t(id)); }
  float score(int id) const { return scores_.at(std::size_t(id)); }
  const std::string& source() const { return source_; }

  // The token ids of `text` as run.c's encode(t, text, bos, eos) gives them:
  //  - BOS (1) first when `bos`;
  //  - when the text is not empty, the id of the piece " " (sentencepiece's dummy prefix);
  //  - each UTF-8 code point (a lead byte and up to 3 continuation bytes; a stray continuation
  //    byte starts a unit of its own) as its piece's id, or when the vocabulary lacks it, one
  //    token per byte, id = byte + 3 (byte fallback: ids 3..258 are <0x00>..<0xFF>);
  //  - then, while any adjacent pair concatenates to a piece whose score exceeds -1e10, the pair
  //    whose piece scores highest (the leftmost among equal scores) is replaced by that piece;
  //  - EOS (2) last when `eos`.
  // As in run.c, pieces and text are C strings: each ends at its first NUL byte, and a piece
  // that several ids spell is looked up as the lowest of them (run.c's bsearch picks any).
  // Runs in O(n log n) (run.c rescans every pair after each merge, O(n^2)), same result.
  // Throws ConfigError (naming source()) when the vocabulary lacks the " " piece or a fallback
  // byte's id is past the vocabulary.
  std::vector<int> encode(std::string_view text, bool bos = true, bool eos = false) const;

  // The text of `token` as run.c's decode() prints it after `prev`: a leading space is dropped
  // after BOS (1), and a piece of the form <0xHH> is that byte.
  std::string decode(int prev, int token) const;
  // The text of a sequence as run.c prints it: BOS tokens print nothing and each token decodes
  // after its predecessor, so decode(encode(text)) == text when every byte is encodable.
  std::string decode(std::span<const int> tokens) const;

 private:
  int lookup(std::string_view s) const;   // -1 when absent
  std::string_view cpiece(int id) const;  // the piece up to its first NUL

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  int max_token_length_;
  std::string source_;
  std::unordered_map<std::string_view, int> ids_;  // views into pieces_ (C-string extent)
};

// Reads a tokenizer.bin for a model of `vocab_size` tokens. Throws ConfigError naming the file
// and what is wrong: missing or not a regular file, truncated, a negative or implausible length,
// a piece longer than max_token_length, a non-finite score, fewer or more pieces than
// vocab_size (a tokenizer of another model), trailing bytes.
Tokenizer read_tokenizer(const std::filesystem::path& path, int vocab_size);

// Writes a tokenizer.bin (for tests and tools). Throws ConfigError when the sizes differ or the
// file cannot be written.
void write_tokenizer(const std::filesystem::path& path, const std::vector<std::string>& pieces,
                     const std::vector<float>& scores, int max_token_length);

}  // namespace qaccel
