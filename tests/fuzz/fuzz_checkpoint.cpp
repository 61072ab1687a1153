// llama2.c checkpoints (.bin): the header checks, the weight reader, and one token of the
// functional reference on what was read.
#include "fuzz_util.hpp"
#include "sim/base/error.hpp"
#include "workloads/reference.hpp"
#include "workloads/weights.hpp"

using namespace qaccel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = fuzz::write_input(data, size, "input.bin");
  try {
    ModelSpec m = spec_from_checkpoint(file);
    FloatWeights w = load_checkpoint(file, m);
    Reference ref(m, std::move(w), 1);
    ref.forward(0, 0);
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
