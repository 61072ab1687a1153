#include "sim/base/files.hpp"

#include <fstream>

#include "sim/base/error.hpp"

namespace qaccel {

namespace fs = std::filesystem;

std::uintmax_t regular_file_size(const fs::path& file, const std::string& what) {
  const std::string name = (what.empty() ? "" : what + " ") + file.string();
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);  // follows symlinks
  if (ec || !fs::exists(st)) throw ConfigError(name + ": no such file");
  if (!fs::is_regular_file(st)) {
    const char* kind = fs::is_directory(st)        ? "a directory"
                       : fs::is_fifo(st)           ? "a FIFO"
                       : fs::is_character_file(st) ? "a character device"
                       : fs::is_block_file(st)     ? "a block device"
                       : fs::is_socket(st)         ? "a socket"
                                                   : "not a plain file";
    throw ConfigError(name + ": not a regular file (" + kind + "); give a file's path");
  }
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec) throw ConfigError(name + ": cannot read: " + ec.message());
  return size;
}

std::string read_regular_file(const fs::path& file, std::uintmax_t max_bytes,
                              const std::string& what) {
  const std::string name = (what.empty() ? "" : what + " ") + file.string();
  const std::uintmax_t size = regular_file_size(file, what);
  auto too_large = [&] {
    return ConfigError(name + ": larger than " + std::to_string(max_bytes) + " bytes; not a " +
                       (what.empty() ? "qaccel input" : what));
  };
  if (size > max_bytes) throw too_large();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(name + ": cannot open");
  // Chunks up to one byte past the limit: the file may have grown since it was measured.
  std::string text;
  text.reserve(std::size_t(size));
  char chunk[65536];
  while (text.size() <= max_bytes && in.read(chunk, sizeof chunk).gcount() > 0)
    text.append(chunk, std::size_t(in.gcount()));
  if (text.size() > max_bytes) throw too_large();
  if (in.bad()) throw ConfigError(name + ": read failed");
  return text;
}

}  // namespace qaccel
