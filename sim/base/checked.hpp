#pragma once
// Checked 64-bit arithmetic for every shape-derived quantity (MACs, FLOPs, bytes, cycles,
// addresses). Shapes inside the accepted ranges can still multiply past 2^63; a wrapped count
// is a silently wrong result, so it becomes an OverflowError (a ConfigError: the input asks for
// more than can be represented) naming the quantity.
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/base/error.hpp"

namespace qaccel {

class OverflowError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

namespace checked {

[[noreturn]] inline void overflow(std::string_view what) {
  throw OverflowError(std::string(what) +
                      " does not fit in 64 bits; the configuration asks for more than can be "
                      "simulated (shapes, counts or timing values too large)");
}

// a * b * ... (all operands must be >= 0 or the caller accepts signed results).
inline std::int64_t mul(std::string_view what, std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow(what);
  return r;
}
template <class... Rest>
std::int64_t mul(std::string_view what, std::int64_t a, std::int64_t b, std::int64_t c,
                 Rest... rest) {
  return mul(what, mul(what, a, b), c, std::int64_t(rest)...);
}

inline std::int64_t add(std::string_view what, std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow(what);
  return r;
}
template <class... Rest>
std::int64_t add(std::string_view what, std::int64_t a, std::int64_t b, std::int64_t c,
                 Rest... rest) {
  return add(what, add(what, a, b), c, std::int64_t(rest)...);
}

inline std::int64_t sub(std::string_view what, std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow(what);
  return r;
}

// acc += v, checked.
inline void accumulate(std::int64_t& acc, std::int64_t v, std::string_view what) {
  if (__builtin_add_overflow(acc, v, &acc)) overflow(what);
}

// ceil(a / b) for a >= 0, b > 0, without the a + b - 1 that can wrap.
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a / b + (a % b != 0);
}

// A double (a cycle or byte estimate) as int64, refusing values that do not fit (the
// conversion of an out-of-range double is undefined behaviour).
inline std::int64_t to_i64(std::string_view what, double v) {
  if (!(v >= -9.2e18 && v <= 9.2e18)) overflow(what);
  return std::int64_t(v);
}

}  // namespace checked
}  // namespace qaccel
