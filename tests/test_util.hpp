#pragma once
// Helpers shared by the tests.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
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

// Runs `fn` in a forked child and returns what it returned. SystemC elaborates once per
// process, so a test that compares several simulations runs each in a child of its own.
inline std::string in_child(const std::function<std::string()>& fn) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    int code = 0;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("child threw: ") + e.what(), code = 1;
    }
    for (std::size_t done = 0; done < out.size();) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += std::size_t(n);
    }
    ::close(fds[1]);
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, std::size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("child failed (status " + std::to_string(status) + "): " + out);
  return out;
}

}  // namespace qaccel::test
