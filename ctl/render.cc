#include "ctl/render.h"

#include <algorithm>

#include "core/entities.h"

namespace medperf::ctl {

std::string OneLineCell(const std::string& text, size_t max_width) {
  const size_t newline = text.find_first_of("\r\n");
  std::string line = text.substr(0, newline);
  // Trailing blank lines (a message ending in "\n") leave nothing out.
  const bool more_lines = newline != std::string::npos &&
                          text.find_first_not_of(" \t\r\n", newline) != std::string::npos;
  const std::string ellipsis = "...";
  if (line.size() <= max_width && !more_lines) return line;
  if (max_width < ellipsis.size()) max_width = ellipsis.size();
  size_t keep = std::min(line.size(), max_width - ellipsis.size());
  if (keep < line.size()) {
    // Back off to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
    while (keep > 0 && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80) --keep;
  }
  line.resize(keep);
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + ellipsis;
}

void Table::AddRow(std::vector<std::string> row) {
  for (std::string& cell : row) cell = OneLineCell(cell);
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < width.size(); ++c) {
      std::string cell = c < row.size() ? row[c] : "";
      line += cell;
      if (c + 1 < width.size()) line += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(headers_);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  print_row(rule);
  for (const auto& row : rows_) print_row(row);
}

std::string Cell(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (auto text = NonFiniteText(value)) return *text;  // "Infinity" (wire form) → inf
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  return value.dump();
}

void PrintKeyValues(std::ostream& out, const nlohmann::json& object, int indent) {
  if (!object.is_object()) {
    out << std::string(indent, ' ') << Cell(object) << "\n";
    return;
  }
  for (const auto& [key, value] : object.items()) {
    out << std::string(indent, ' ') << key << ":";
    if (value.is_object() && !value.empty()) {
      out << "\n";
      PrintKeyValues(out, value, indent + 2);
    } else {
      out << " " << Cell(value) << "\n";
    }
  }
}

nlohmann::json ParseJsonOrString(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return text;
  return j;
}

}  // namespace medperf::ctl
