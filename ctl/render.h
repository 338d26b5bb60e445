// Human output of medperfctl: aligned tables and key/value blocks.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medperf::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
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
