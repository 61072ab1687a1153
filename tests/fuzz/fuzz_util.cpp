#include "fuzz_util.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace qaccel::fuzz {

namespace {
fs::path make_scratch() {
  const fs::path src = fs::path(QACCEL_SOURCE_DIR) / "configs";
  fs::path dir = fs::temp_directory_path() / ("qaccel-fuzz-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "configs" / "fuzz");
  for (const auto& e : fs::directory_iterator(src))
    if (e.is_directory())
      fs::create_directory_symlink(e.path(), dir / "configs" / e.path().filename());
  return dir;
}
}  // namespace

const fs::path& scratch() {
  static const fs::path dir = make_scratch();
  // Registered once `dir` exists, so that it runs before `dir` is destroyed.
  static const bool cleanup = (std::atexit([] {
                                 std::error_code ec;
                                 fs::remove_all(scratch(), ec);
                               }),
                               true);
  (void)cleanup;
  return dir;
}

fs::path write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  fs::path p = scratch() / "configs" / "fuzz" / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  out.close();
  // Not an input problem: the harness itself cannot work.
  if (!out) throw std::runtime_error("fuzz: cannot write " + p.string());
  return p;
}

fs::path shipped(const std::string& under_configs) {
  return fs::path(QACCEL_SOURCE_DIR) / "configs" / under_configs;
}

}  // namespace qaccel::fuzz
