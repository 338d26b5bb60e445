#include "ctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <memory>
#include <utility>

namespace medperf::ctl {

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

Reply JsonReply(const nlohmann::json& value, HumanView human) {
  return {value.dump(2), std::move(human)};
}

Reply ProtoReply(const google::protobuf::Message& message, HumanView human) {
  // ToJson's text ends with a newline; medperfctl has always printed one more after it.
  return {ToJson(message) + "\n", std::move(human)};
}

Reply KeyValueReply(const nlohmann::json& value) {
  return {value.dump(2), [value](std::ostream& o) { PrintKeyValues(o, value); }};
}

Reply TableReply(std::string json, Table table) {
  auto shared = std::make_shared<Table>(std::move(table));
  return {std::move(json), [shared](std::ostream& o) { shared->Print(o); }};
}

Reply TextReply(std::string text) {
  return {text, [text](std::ostream& o) { o << text; }};
}

void Output::Emit(const Reply& reply) {
  if (json_) {
    if (!reply.json.empty()) {
      out_ << reply.json;
      if (reply.json.back() != '\n') out_ << "\n";
    }
  } else if (reply.human) {
    reply.human(out_);
  }
  out_.flush();
}

}  // namespace medperf::ctl
