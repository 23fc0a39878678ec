// Small string helpers shared by every folder: joining, shape formatting, trimming.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace pg {

// join({"a", "b"}, ", ") == "a, b"; works for anything printable with operator<<.
template <typename Range>
std::string join(const Range& items, const std::string& separator) {
  std::ostringstream out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out << separator;
    out << item;
    first = false;
  }
  return out.str();
}

// format_shape({10, 768}) == "[10, 768]".
std::string format_shape(const std::vector<int64_t>& shape);

// Numbers in messages as people write them (0.002, 1e-05), not std::to_string's fixed six decimals.
std::string format_number(double value);

std::vector<std::string> split(const std::string& text, char separator);
std::string trim(const std::string& text);
bool starts_with(const std::string& text, const std::string& prefix);
bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace pg
