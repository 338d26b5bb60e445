// Human output of medperfctl: aligned tables and key/value blocks.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medperf::ctl {

// A table cell is one line of at most this many bytes: a multi-line value (a job's
// error with the container's stderr, a description) would break the rows apart.
inline constexpr size_t kMaxCellWidth = 80;

// `text` as a table cell: its first line, cut to `max_width` bytes (never inside a UTF-8
// character) with "..." at the end when anything was left out (more lines or a longer
// line). The whole value stays in the --json output and in the `view` commands.
std::string OneLineCell(const std::string& text, size_t max_width = kMaxCellWidth);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  // Each cell goes through OneLineCell.
  void AddRow(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  // Columns padded to their widest cell, a dashed rule under the headers.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints a JSON object as indented "key: value" lines (nested objects indented).
void PrintKeyValues(std::ostream& out, const nlohmann::json& object, int indent = 0);

// A JSON value as a short cell: strings bare, null empty, others as JSON; the wire
// form of NaN/±infinity ("nan", "Infinity", "-Infinity") as nan, inf, -inf.
std::string Cell(const nlohmann::json& value);

// Parses JSON text that came from medperfd; invalid text becomes a JSON string so
// output never fails on it.
nlohmann::json ParseJsonOrString(const std::string& text);

}  // namespace medperf::ctl
