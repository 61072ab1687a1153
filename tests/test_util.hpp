#pragma once
// Helpers shared by the tests.
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

#include "workloads/spec.hpp"

namespace qaccel::test {

// A scratch directory unique to this test process, removed at exit of the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("qaccel_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

inline ModelSpec small_model(int n_heads = 4, int n_kv_heads = 2, bool shared = false) {
  ModelSpec m;
  m.name = "small";
  m.dim = 64, m.hidden_dim = 96, m.n_layers = 2, m.n_heads = n_heads, m.n_kv_heads = n_kv_heads;
  m.vocab_size = 97, m.seq_len = 32, m.shared_classifier = shared;
  return m;
}

inline std::string source_dir() {
  return QACCEL_SOURCE_DIR;
}

}  // namespace qaccel::test
