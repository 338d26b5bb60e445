// Fuzzes the container contract parsers: container_config.yaml (YAML or JSON text) and
// the legacy mlcube.yaml, plus the shlex splitter they use for string commands.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runners/container_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace medperf;
  std::string_view text = fuzz::AsText(data, size);
  auto config = ParseContainerConfig(text, "fuzz.yaml");
  if (config.ok()) {
    // What the runners rely on after a successful parse.
    for (const auto& [name, task] : config->tasks) {
      if (name != task.name) fuzz::Violation("task key differs from TaskSpec::name");
      for (const auto* volumes : {&task.input_volumes, &task.output_volumes}) {
        for (const Volume& v : *volumes) {
          if (v.mount_path.empty() || v.mount_path[0] != '/') {
            fuzz::Violation("mount path not absolute: '" + v.mount_path + "'");
          }
        }
      }
    }
  }
  (void)LooksLikeLegacyMlcube(text);
  // Without a workspace dir nothing is resolved against the file system.
  auto legacy = ParseLegacyMlcube(text, "mlcube.yaml", "");
  if (legacy.ok()) {
    for (const auto& [name, task] : legacy->tasks) {
      for (const auto* volumes : {&task.input_volumes, &task.output_volumes}) {
        for (const Volume& v : *volumes) {
          if (v.mount_path.empty() || v.mount_path[0] != '/') {
            fuzz::Violation("legacy mount path not absolute: '" + v.mount_path + "'");
          }
        }
      }
    }
  }
  if (size < 4096) (void)ShlexSplit(text);
  return 0;
}
