// Runs medperfctl in-process (RunCli) and keeps what it printed, for tests/ctl.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "ctl/cli.h"

namespace medperf::ctl {

struct CliRun {
  int exit_code;
  std::string out, err;
};

// medperfctl `argv` (without the program name) with an empty stdin.
inline CliRun RunCtl(const std::vector<std::string>& argv) {
  std::ostringstream out, err;
  std::istringstream in;
  int code = RunCli(argv, out, err, in);
  return {code, out.str(), err.str()};
}

}  // namespace medperf::ctl
