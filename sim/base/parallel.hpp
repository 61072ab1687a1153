#pragma once
// A small parallel for over independent indices (one chunk per hardware thread). Results must
// not depend on the split: every caller computes each index the same way in any thread, so the
// output is bit-identical to a serial loop. Exceptions reach the caller.
#include <algorithm>
#include <cstddef>
#include <future>
#include <thread>
#include <vector>

namespace qaccel {

template <class F>
void parallel_for(std::size_t n, F&& body) {
  const std::size_t threads =
      std::min<std::size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i)
      body(i);
    return;
  }
  std::vector<std::future<void>> parts;
  for (std::size_t t = 1; t < threads; ++t)
    parts.push_back(std::async(std::launch::async, [&, t] {
      for (std::size_t i = t * n / threads; i < (t + 1) * n / threads; ++i)
        body(i);
    }));
  for (std::size_t i = 0; i < n / threads; ++i)
    body(i);
  for (auto& p : parts)
    p.get();
}

}  // namespace qaccel
