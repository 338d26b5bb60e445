#include "ctl/commands.h"

#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/ascii.h"
#include "ctl/render.h"

namespace medperf::ctl {

const std::vector<Command>& AllCommands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>();
    for (auto group : {DaemonCommands, DataOwnerCommands, CommitteeCommands}) {
      auto cmds = group();
      all->insert(all->end(), cmds.begin(), cmds.end());
    }
    return all;
  }();
  return *commands;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

int PrintAssociationRequested(CommandContext& ctx, const nlohmann::json& result) {
  if (ctx.global.json) {
    ctx.out.out() << result.dump(2) << "\n";
  } else {
    ctx.out.out() << "Association requested: status "
                  << Cell(result["association"]["approval_status"])
                  << ". Check it with: medperfctl association ls\n";
  }
  return 0;
}

int UsageError(Output& out, const absl::Status& status) {
  out.err() << "medperfctl: " << status.message() << "\n";
  return 2;
}

bool Confirm(CommandContext& ctx, const std::string& question) {
  if (ctx.global.yes) return true;
  ctx.out.err() << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(ctx.in, answer)) {
    ctx.out.err() << "\nno answer (pass -y to confirm non-interactively)\n";
    return false;
  }
  answer = absl::AsciiStrToLower(absl::StripAsciiWhitespace(answer));
  return answer == "y" || answer == "yes";
}

}  // namespace medperf::ctl
