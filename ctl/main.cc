// medperfctl: the command-line front end of medperfd.
#include <iostream>
#include <string>
#include <vector>

#include "ctl/cli.h"

int main(int argc, char** argv) {
  return medperf::ctl::RunCli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr,
                              std::cin);
}
