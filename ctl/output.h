// medperfctl's one output helper: a command answers with a Reply (its --json text and
// its human rendering) and Output::Emit is the only code that looks at --json.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "ctl/render.h"

namespace medperf::ctl {

// What a person reads: written to stdout when --json is not given.
using HumanView = std::function<void(std::ostream&)>;

// A command's answer.
struct Reply {
  // Printed as-is with --json, followed by a newline unless it ends with one; empty
  // prints nothing.
  std::string json;
  // Printed without --json; null prints nothing.
  HumanView human;
  // 0, or 1 when the answer itself is bad news (`status --check` finds damage,
  // `benchmark run` has failed models): scripts must notice without parsing text.
  int exit_code = 0;
};

// `value` as 2-space indented JSON, or `human`.
Reply JsonReply(const nlohmann::json& value, HumanView human);
// A protobuf message as JSON with the proto's field names (see ToJson) and a blank line
// after it (as medperfctl always printed it), or `human`.
Reply ProtoReply(const google::protobuf::Message& message, HumanView human);
// `value` as JSON, or as indented "key: value" lines (PrintKeyValues).
Reply KeyValueReply(const nlohmann::json& value);
// "--json or table": `json` text (an array, usually), or `table` printed aligned.
Reply TableReply(std::string json, Table table);
// The same text in both modes (a completion script; `job watch`'s result JSON).
Reply TextReply(std::string text);

// A proto message as JSON with the proto's field names and every primitive field
// ("{}" if the message cannot be printed, which only a broken descriptor causes).
std::string ToJson(const google::protobuf::Message& message);

class Output {
 public:
  Output(std::ostream& out, std::ostream& err, bool json) : out_(out), err_(err), json_(json) {}
  // Writes `reply` in the form the user asked for, then flushes (`watch --follow`
  // emits one reply per event and a pipe reader must see each at once).
  void Emit(const Reply& reply);
  std::ostream& out() { return out_; }
  // Progress, prompts and errors: never part of the answer.
  std::ostream& err() { return err_; }

 private:
  std::ostream& out_;
  std::ostream& err_;
  bool json_;
};

}  // namespace medperf::ctl
