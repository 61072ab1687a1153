#pragma once
// Input files: a path given where a file is expected must name a regular file. A FIFO would
// block the open or the read forever, /dev/zero or /dev/urandom would be read without end, a
// directory reads as empty; each is refused up front with a ConfigError naming the path.
#include <cstdint>
#include <filesystem>
#include <string>

namespace qaccel {

// The file's size; throws ConfigError "<what> <path>: no such file" or "...: not a regular file
// (a directory / FIFO / device ...)". `what` names the role ("checkpoint", "layer list").
std::uintmax_t regular_file_size(const std::filesystem::path& file, const std::string& what);

// The whole file as bytes, refusing (before reading) a non-regular file or one larger than
// max_bytes, and a file that grows past max_bytes while read.
std::string read_regular_file(const std::filesystem::path& file, std::uintmax_t max_bytes,
                              const std::string& what);

}  // namespace qaccel
