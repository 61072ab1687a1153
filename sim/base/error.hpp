#pragma once
// Error kinds, kept apart as gem5 does: the user's input is wrong (ConfigError, exit 2) versus
// the simulator has a bug (InternalError via QACCEL_ASSERT, exit 3) versus the environment
// failed (IoError, exit 4). Library code throws; only the CLI maps errors to exit codes.
#include <stdexcept>
#include <string>

namespace qaccel {

// A config file, command-line value or input file (checkpoint, CSV, ...) is wrong. The message
// names the file and the key path or offset, what was found and what was expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A simulation ran but its result is wrong (e.g. the hardware disagreed with the reference).
class CheckError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The environment failed an operation that would otherwise have worked: a full disk, an I/O
// error, a lock held too long (exit 4). Neither the input's fault nor a design's failure, so
// a sweep never records it as a design's result: running the command again retries.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An invariant of the simulator itself failed: a bug in qaccel, never the user's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void internal_failure(const char* expr, const char* file, int line,
                                   const std::string& detail);

}  // namespace qaccel

#define QACCEL_ASSERT(cond, detail)                                             \
  do {                                                                          \
    if (!(cond)) ::qaccel::internal_failure(#cond, __FILE__, __LINE__, detail); \
  } while (0)
