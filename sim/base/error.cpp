#include "sim/base/error.hpp"

#include <sstream>

namespace qaccel {

void internal_failure(const char* expr, const char* file, int line, const std::string& detail) {
  std::ostringstream os;
  os << "internal error (a bug in qaccel): " << expr << " failed at " << file << ":" << line;
  if (!detail.empty()) os << ": " << detail;
  throw InternalError(os.str());
}

}  // namespace qaccel
