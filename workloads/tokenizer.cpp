#include "workloads/tokenizer.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <queue>

#include "sim/base/error.hpp"
#include "sim/base/files.hpp"

namespace qaccel {

namespace {

// run.c starts its search for the best merge at -1e10 and takes only a strictly better score.
constexpr float kNoMerge = -1e10f;
// Llama 2's tokenizer.bin is 424 KiB, a 256k-piece vocabulary a few MiB.
constexpr std::uintmax_t kMaxTokenizerBytes = std::uintmax_t(1) << 28;

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                     int max_token_length, std::string source)
    : pieces_(std::move(pieces)),
      scores_(std::move(scores)),
      max_token_length_(max_token_length),
      source_(std::move(source)) {
  if (pieces_.size() != scores_.size())
    throw ConfigError(source_ + ": " + std::to_string(pieces_.size()) + " pieces but " +
                      std::to_string(scores_.size()) + " scores");
  if (pieces_.size() < 3)
    throw ConfigError(source_ + ": " + std::to_string(pieces_.size()) +
                      " pieces; a llama2.c vocabulary starts with <unk>, BOS and EOS (ids 0..2)");
  if (max_token_length_ < 0)
    throw ConfigError(source_ + ": max_token_length " + std::to_string(max_token_length_) +
                      " is negative");
  ids_.reserve(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    if (pieces_[i].size() > std::size_t(max_token_length_))
      throw ConfigError(source_ + ": piece " + std::to_string(i) + " has " +
                        std::to_string(pieces_[i].size()) + " bytes, more than max_token_length " +
                        std::to_string(max_token_length_));
    if (!std::isfinite(scores_[i]))
      throw ConfigError(source_ + ": piece " + std::to_string(i) + " has a non-finite score");
    ids_.emplace(cpiece(int(i)), int(i));  // keeps the lowest id of a repeated piece
  }
}

std::string_view Tokenizer::cpiece(int id) const {
  const std::string& p = pieces_[std::size_t(id)];
  return std::string_view(p.data(), std::strlen(p.c_str()));
}

int Tokenizer::lookup(std::string_view s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  text = text.substr(0, text.find('\0'));  // a C string, as run.c reads it
  std::vector<int> tok;
  tok.reserve(text.size() + 3);
  if (bos) tok.push_back(1);
  if (!text.empty()) {
    int space = lookup(" ");
    if (space < 0)
      throw ConfigError(source_ +
                        ": the vocabulary has no \" \" piece (the dummy prefix llama2.c's "
                        "encode() puts before the text)");
    tok.push_back(space);
  }
  // Code points: a byte and the continuation bytes after it, 4 bytes at most.
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = 1;
    while (n < 4 && i + n < text.size() && is_continuation(text[i + n]))
      ++n;
    std::string_view unit = text.substr(i, n);
    int id = lookup(unit);
    if (id >= 0) {
      tok.push_back(id);
    } else {
      for (char c : unit) {
        int b = static_cast<unsigned char>(c) + 3;
        if (b >= vocab_size())
          throw ConfigError(source_ + ": byte 0x" + "0123456789abcdef"[(b - 3) >> 4] +
                            "0123456789abcdef"[(b - 3) & 15] + " of the text (offset " +
                            std::to_string(i) + ") falls back to token " + std::to_string(b) +
                            ", past the vocabulary of " + std::to_string(vocab_size()) + " pieces");
        tok.push_back(b);
      }
    }
    i += n;
  }

  // Greedy merges. run.c rescans every adjacent pair after each merge and takes the best score,
  // the leftmost among equals; here the pairs wait in a heap ordered the same way (position =
  // the left token's original index, which keeps the sequence's order). A pair's entry is
  // current while its left token's version is unchanged: merging bumps the versions of the
  // merged token and of its left neighbour, whose right partner changed.
  const int n = int(tok.size());
  std::vector<int> next(tok.size()), prev(tok.size());
  std::vector<std::uint32_t> ver(tok.size(), 0);
  for (int i = 0; i < n; ++i)
    next[std::size_t(i)] = i + 1 < n ? i + 1 : -1, prev[std::size_t(i)] = i - 1;
  struct Cand {
    float score;
    int pos, id;
    std::uint32_t ver;
  };
  auto lower = [](const Cand& a, const Cand& b) {
    return a.score < b.score || (a.score == b.score && a.pos > b.pos);
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(lower)> heap(lower);
  std::string pair;
  auto consider = [&](int i) {
    int j = next[std::size_t(i)];
    if (j < 0) return;
    pair.assign(cpiece(tok[std::size_t(i)]));
    pair.append(cpiece(tok[std::size_t(j)]));
    int id = lookup(pair);
    if (id >= 0 && scores_[std::size_t(id)] > kNoMerge)
      heap.push({scores_[std::size_t(id)], i, id, ver[std::size_t(i)]});
  };
  for (int i = 0; i < n; ++i)
    consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    const std::size_t i = std::size_t(c.pos);
    if (c.ver != ver[i]) continue;  // stale: a merged or dead token, or a changed partner
    const int j = next[i];
    tok[i] = c.id;
    ver[std::size_t(j)] = ~std::uint32_t(0);  // j is gone; no entry can match it again
    next[i] = next[std::size_t(j)];
    if (next[i] >= 0) prev[std::size_t(next[i])] = int(i);
    ++ver[i];
    if (prev[i] >= 0) {
      ++ver[std::size_t(prev[i])];
      consider(prev[i]);
    }
    consider(int(i));
  }
  std::vector<int> out;
  out.reserve(tok.size() + 1);
  for (int i = n > 0 ? 0 : -1; i >= 0; i = next[std::size_t(i)])
    out.push_back(tok[std::size_t(i)]);
  if (eos) out.push_back(2);
  return out;
}

std::string Tokenizer::decode(int prev, int token) const {
  if (token < 0 || token >= vocab_size())
    throw ConfigError(source_ + ": token id " + std::to_string(token) +
                      " is outside the vocabulary of " + std::to_string(vocab_size()) + " pieces");
  std::string_view p = cpiece(token);
  if (prev == 1 && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  if (p.size() == 6 && p.substr(0, 3) == "<0x" && p[5] == '>') {
    int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, char(hi * 16 + lo));
  }
  return std::string(p);
}

std::string Tokenizer::decode(std::span<const int> tokens) const {
  std::string out;
  int prev = -1;
  for (int t : tokens) {
    if (t != 1) out += decode(prev, t);
    prev = t;
  }
  return out;
}

Tokenizer read_tokenizer(const std::filesystem::path& path, int vocab_size) {
  const std::string name = "tokenizer " + path.string();
  auto bad = [&](const std::string& what) { return ConfigError(name + ": " + what); };
  if (vocab_size <= 0)
    throw bad("the model's vocab_size " + std::to_string(vocab_size) + " is not positive");
  const std::string bytes = read_regular_file(path, kMaxTokenizerBytes, "tokenizer");
  const std::size_t size = bytes.size();
  auto i32 = [&](std::size_t off) {
    std::int32_t v;
    std::memcpy(&v, bytes.data() + off, sizeof v);
    return v;
  };
  if (size == 0) throw bad("empty file (expected llama2.c's tokenizer.bin)");
  if (size < 4)
    throw bad("truncated: " + std::to_string(size) +
              " bytes, shorter than the 4-byte header (max_token_length)");
  const std::int32_t max_len = i32(0);
  if (max_len < 0 || std::uintmax_t(max_len) > size)
    throw bad("header max_token_length = " + std::to_string(max_len) +
              " is not a plausible length (is this a llama2.c tokenizer.bin?)");

  // One record at `off`: 0 when it reads cleanly (off moves past it), else what is wrong.
  enum class Rec { ok, short_head, bad_len, short_body };
  float score = 0;
  std::int32_t len = 0;
  auto record = [&](std::size_t& off) {
    if (size - off < 8) return Rec::short_head;
    std::memcpy(&score, bytes.data() + off, sizeof score);
    len = i32(off + 4);
    if (len < 0 || len > max_len) return Rec::bad_len;
    if (size - off - 8 < std::size_t(len)) return Rec::short_body;
    off += 8 + std::size_t(len);
    return Rec::ok;
  };

  std::vector<std::string> pieces;
  std::vector<float> scores;
  // Never trust vocab_size for the allocation: every piece takes at least 8 bytes.
  const std::size_t cap = std::min<std::size_t>(std::size_t(vocab_size), size / 8);
  pieces.reserve(cap), scores.reserve(cap);
  std::size_t off = 4;
  for (int i = 0; i < vocab_size; ++i) {
    const std::size_t at = off;
    const std::string where =
        "piece " + std::to_string(i) + " (byte offset " + std::to_string(at) + ")";
    if (off == size)
      throw bad("has only " + std::to_string(i) + " pieces, the model's vocab_size is " +
                std::to_string(vocab_size) + " (a tokenizer of another model?)");
    switch (record(off)) {
      case Rec::ok:
        break;
      case Rec::short_head:
        throw bad("truncated in " + where + ": " + std::to_string(size - at) +
                  " bytes left, a piece needs 8 for its score and length");
      case Rec::bad_len:
        throw bad(where + " has length " + std::to_string(len) + ", outside 0..max_token_length " +
                  std::to_string(max_len) + " (a damaged file?)");
      case Rec::short_body:
        throw bad("truncated in " + where + ": its length is " + std::to_string(len) + ", only " +
                  std::to_string(size - at - 8) + " bytes left");
    }
    if (!std::isfinite(score))
      throw bad(where + " has a non-finite score (" + std::to_string(score) + ")");
    pieces.emplace_back(bytes.data() + at + 8, std::size_t(len));
    scores.push_back(score);
  }
  if (off != size) {
    // More pieces than the model has (a tokenizer of a larger vocabulary), or garbage.
    std::size_t more = 0, o = off;
    while (o < size && record(o) == Rec::ok)
      ++more;
    if (o == size)
      throw bad("has " + std::to_string(std::size_t(vocab_size) + more) +
                " pieces, the model's vocab_size is " + std::to_string(vocab_size) +
                " (a tokenizer of another model?)");
    throw bad(std::to_string(size - off) + " trailing bytes after the " +
              std::to_string(vocab_size) + " pieces of the model's vocabulary");
  }
  return Tokenizer(std::move(pieces), std::move(scores), max_len, name);
}

void write_tokenizer(const std::filesystem::path& path, const std::vector<std::string>& pieces,
                     const std::vector<float>& scores, int max_token_length) {
  if (pieces.size() != scores.size())
    throw ConfigError("write_tokenizer " + path.string() + ": " + std::to_string(pieces.size()) +
                      " pieces but " + std::to_string(scores.size()) + " scores");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ConfigError("cannot write tokenizer " + path.string());
  auto put = [&](const void* p, std::size_t n) {
    out.write(static_cast<const char*>(p), std::streamsize(n));
  };
  const std::int32_t m = max_token_length;
  put(&m, sizeof m);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::int32_t len = std::int32_t(pieces[i].size());
    put(&scores[i], sizeof(float));
    put(&len, sizeof len);
    put(pieces[i].data(), pieces[i].size());
  }
  out.close();
  if (!out) throw ConfigError("write failed for tokenizer " + path.string());
}

}  // namespace qaccel
