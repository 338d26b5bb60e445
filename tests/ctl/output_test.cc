// medperfctl's one output helper: --json picks the JSON text, otherwise the human view.
#include "ctl/output.h"

#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "medperf/v1/control.pb.h"

namespace medperf::ctl {
namespace {

std::string Emitted(const Reply& reply, bool json) {
  std::ostringstream out, err;
  Output output(out, err, json);
  output.Emit(reply);
  EXPECT_TRUE(err.str().empty()) << err.str();
  return out.str();
}

TEST(OutputTest, JsonOrHuman) {
  Reply reply = JsonReply({{"id", 3}}, [](std::ostream& o) { o << "Dataset 3\n"; });
  EXPECT_EQ(Emitted(reply, true), "{\n  \"id\": 3\n}\n");
  EXPECT_EQ(Emitted(reply, false), "Dataset 3\n");
}

TEST(OutputTest, TableOrJsonArray) {
  Table t({"UID", "Name"});
  t.AddRow({"1", "chest"});
  Reply reply = TableReply(R"([{"id": 1, "name": "chest"}])", std::move(t));
  EXPECT_EQ(Emitted(reply, true), "[{\"id\": 1, \"name\": \"chest\"}]\n");
  EXPECT_EQ(Emitted(reply, false), "UID  Name\n---  -----\n1    chest\n");
}

// A job whose error carries the container's stderr (many lines) keeps `job ls --all`
// one row per job: the first line, cut with "..." (`job view` and --json keep it whole).
TEST(OutputTest, AMultiLineCellIsItsFirstLineCut) {
  const std::string error =
      "the data preparator failed (exit code 1)\nTraceback (most recent call last):\n  File x";
  Table t({"ID", "State", "Error"});
  t.AddRow({"3", "failed", error});
  t.AddRow({"4", "done", ""});
  Reply reply = TableReply("[]", std::move(t));
  EXPECT_EQ(Emitted(reply, false),
            "ID  State   Error\n"
            "--  ------  -------------------------------------------\n"
            "3   failed  the data preparator failed (exit code 1)...\n"
            "4   done\n");
}

TEST(OutputTest, OneLineCellBoundsTheWidth) {
  EXPECT_EQ(OneLineCell("short"), "short");
  EXPECT_EQ(OneLineCell("ends with a newline\n"), "ends with a newline");
  EXPECT_EQ(OneLineCell("first\r\nsecond"), "first...");
  std::string long_line(200, 'x');
  std::string cell = OneLineCell(long_line);
  EXPECT_EQ(cell.size(), kMaxCellWidth);
  EXPECT_EQ(cell.substr(cell.size() - 3), "...");
  EXPECT_EQ(OneLineCell(std::string(kMaxCellWidth, 'y')), std::string(kMaxCellWidth, 'y'));
  // Never cut inside a UTF-8 character: "é" is two bytes.
  EXPECT_EQ(OneLineCell("ab\xc3\xa9\xc3\xa9"
                        "cd",
                        6),
            "ab...");
  EXPECT_EQ(OneLineCell("", 10), "");
}

TEST(OutputTest, KeyValues) {
  Reply reply = KeyValueReply({{"name", "b"}, {"metrics", {{"auc", 0.5}}}});
  EXPECT_EQ(Emitted(reply, false), "metrics:\n  auc: 0.5\nname: b\n");
  EXPECT_EQ(nlohmann::json::parse(Emitted(reply, true))["name"], "b");
}

TEST(OutputTest, ProtoRepliesUseTheProtoFieldNames) {
  medperf::v1::Job job;
  job.set_id(4);
  job.set_log_path("/l");
  Reply reply = ProtoReply(job, [](std::ostream& o) { o << "job 4\n"; });
  nlohmann::json j = nlohmann::json::parse(Emitted(reply, true));
  EXPECT_EQ(j["log_path"], "/l");
  EXPECT_EQ(Emitted(reply, false), "job 4\n");
}

// A preview (human only) prints nothing with --json; a reply without a human view
// prints nothing without it.
TEST(OutputTest, EmptyPartsPrintNothing) {
  Reply preview{"", [](std::ostream& o) { o << "will send\n"; }};
  EXPECT_EQ(Emitted(preview, true), "");
  EXPECT_EQ(Emitted(preview, false), "will send\n");
  EXPECT_EQ(Emitted(Reply{}, false), "");
  EXPECT_EQ(Emitted(Reply{}, true), "");
}

TEST(OutputTest, TextIsTheSameInBothModes) {
  Reply reply = TextReply("complete -F _x x\n");
  EXPECT_EQ(Emitted(reply, true), "complete -F _x x\n");
  EXPECT_EQ(Emitted(reply, false), "complete -F _x x\n");
}

}  // namespace
}  // namespace medperf::ctl
