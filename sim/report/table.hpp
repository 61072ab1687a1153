#pragma once
// A plain result table rendered as aligned text, CSV or JSON (one renderer for every command).
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace qaccel {

enum class TableFormat { table, csv, json };
// Parses "table" | "csv" | "json"; throws ConfigError naming the option otherwise.
TableFormat parse_table_format(const std::string& s, const std::string& option = "--format");

class Table {
 public:
  // A column is numeric when its cells are numbers: right-aligned, unquoted in JSON.
  void add_column(std::string name, bool numeric = false);
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }
  void render(std::ostream& os, TableFormat f) const;

 private:
  std::vector<std::string> names_;
  std::vector<bool> numeric_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON string literal; bytes that are not valid UTF-8 become \ufffd.
std::string json_escape(const std::string& s);
std::string csv_escape(const std::string& s);
// One CSV line as Table renders it, for output written row by row.
void write_csv_row(std::ostream& os, const std::vector<std::string>& cells);
// Compact human number: 1234567 -> "1.23M"; exact integers below 10000 as they are.
std::string human(double v);
std::string fixed(double v, int decimals);

}  // namespace qaccel
