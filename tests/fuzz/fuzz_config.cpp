// The YAML config loader: model, workload, job, system, tech and layer-list files, as
// `qaccel validate` and `qaccel run` read them. What loads is also used as the command line
// would: a model or workload is lowered to ops against a shipped partner, a system builds its
// units and plans a small model's ops on them, a layer list is planned on a shipped system.
#include <memory>

#include "fuzz_util.hpp"
#include "sim/base/error.hpp"
#include "sim/config/config.hpp"
#include "sim/system.hpp"
#include "workloads/graph.hpp"

using namespace qaccel;

namespace {

const ModelSpec& tiny_model() {
  static const ModelSpec m = config::load_model(fuzz::shipped("models/tiny.yaml"));
  return m;
}
const WorkloadSpec& one_step() {
  static const WorkloadSpec w = config::load_workload(fuzz::shipped("workloads/decode-1.yaml"));
  return w;
}
// Plans every op on `sys` as `qaccel run` does before it simulates (mapping and unit models).
void plan(const System& sys, const std::vector<Op>& ops) {
  for (const Op& op : ops)
    sys.map(op).plan(op);
}
System& duplex() {  // two units and the intensity mapping policy
  static System s(config::load_system(fuzz::shipped("systems/duplex.yaml")));
  return s;
}

void run(const std::filesystem::path& file) {
  const std::string kind = config::detect_kind(file);
  if (kind == "model") {
    ModelSpec m = config::load_model(file);
    if (one_step().problems(m).empty()) plan(duplex(), lower_forward(m, one_step()));
  } else if (kind == "workload") {
    WorkloadSpec w = config::load_workload(file);
    if (w.problems(tiny_model()).empty()) plan(duplex(), lower_forward(tiny_model(), w));
  } else if (kind == "system") {
    System sys(config::load_system(file));
    plan(sys, lower_forward(tiny_model(), one_step()));
  } else if (kind == "job") {
    config::JobSpec j = config::load_job(file);
    if (j.has_system && j.workload.problems(j.model).empty()) {
      System sys(j.system);
      plan(sys, lower_forward(j.model, j.workload));
    }
  } else if (kind == "layers") {
    config::LayerList l = config::load_layers(file);
    plan(duplex(), l.graph.ops);
  } else if (kind != "sweep") {  // sweeps: fuzz_sweep
    config::validate_file(file);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path file = fuzz::write_input(data, size, "input.yaml");
  try {
    run(file);
  } catch (const ConfigError&) {
    // The documented outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
