#include "text/html_unescape.h"

#include <algorithm>
#include <cstring>

#include "text/html_entities.h"
#include "text/unicode_text.h"

namespace pg::text {
namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;
constexpr char32_t kMaxCodePoint = 0x10FFFF;
// Python's reference pattern allows 1 to 32 name characters after '&' (plus an optional ';').
constexpr std::size_t kMaxNameLength = 32;

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char32_t c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  return static_cast<int>(c - 'A' + 10);
}
// Characters that end a named reference in the reference pattern `[^\t\n\f <&#;]`.
bool ends_name(char32_t c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';';
}

// What a numeric reference unescapes to. `number` saturates above U+10FFFF, where every value means
// U+FFFD. (Python also raises for a decimal reference of more than 4300 digits; that is U+FFFD here.)
std::u32string numeric_reference(char32_t number) {
  const auto& replacements = html_entities::kCharrefReplacements;
  const auto* end = replacements.replacements + replacements.size;
  const auto* it = std::lower_bound(replacements.replacements, end, number,
                                    [](const auto& r, char32_t value) { return r.number < value; });
  if (it != end && it->number == number) return std::u32string(1, it->replacement);
  if ((number >= 0xD800 && number <= 0xDFFF) || number > kMaxCodePoint) {
    return std::u32string(1, kReplacementCharacter);
  }
  const auto& dropped = html_entities::kDroppedCharrefs;
  for (std::size_t k = 0; k < dropped.size; ++k) {
    if (number >= dropped.ranges[k].first && number <= dropped.ranges[k].last) return {};
  }
  return std::u32string(1, number);
}

// The value of the named reference `name` (UTF-8, ';' included when written), or nullptr.
const char* named_reference(const std::string& name) {
  const auto& table = html_entities::kNamedEntities;
  const auto* end = table.entities + table.size;
  const auto* it =
      std::lower_bound(table.entities, end, name, [](const auto& entity, const std::string& value) {
        return std::strcmp(entity.name, value.c_str()) < 0;
      });
  return it != end && name == it->name ? it->value : nullptr;
}

// Parses a numeric reference at text[i] == '&', text[i + 1] == '#'. Returns false when none starts
// there; otherwise appends its value and advances i past it.
bool unescape_numeric(std::u32string_view text, std::size_t& i, std::u32string& out) {
  std::size_t j = i + 2;
  const bool hex = j < text.size() && (text[j] == 'x' || text[j] == 'X');
  if (hex) ++j;
  const std::size_t digits_begin = j;
  char32_t number = 0;
  while (j < text.size() && (hex ? is_hex_digit(text[j]) : is_ascii_digit(text[j]))) {
    const char32_t digit = hex ? hex_value(text[j]) : text[j] - '0';
    number = std::min<char32_t>(number * (hex ? 16 : 10) + digit, kMaxCodePoint + 1);
    ++j;
  }
  if (j == digits_begin) return false;
  if (j < text.size() && text[j] == ';') ++j;
  out += numeric_reference(number);
  i = j;
  return true;
}

// Parses a named reference at text[i] == '&'. Returns false when none starts there; otherwise
// appends what Python's html.unescape gives for it (possibly the text unchanged) and advances i.
bool unescape_named(std::u32string_view text, std::size_t& i, std::u32string& out) {
  std::size_t j = i + 1;
  while (j < text.size() && j - (i + 1) < kMaxNameLength && !ends_name(text[j])) ++j;
  if (j == i + 1) return false;
  if (j < text.size() && text[j] == ';') ++j;
  const std::u32string_view name = text.substr(i + 1, j - (i + 1));
  i = j;
  if (const char* value = named_reference(encode_utf8(name))) {
    out += *decode_utf8(value);
    return true;
  }
  // The longest known prefix of at least two characters (legacy names need no ';').
  for (std::size_t length = name.size() - 1; length >= 2; --length) {
    if (const char* value = named_reference(encode_utf8(name.substr(0, length)))) {
      out += *decode_utf8(value);
      out += name.substr(length);
      return true;
    }
  }
  out += U'&';
  out += name;
  return true;
}

}  // namespace

std::u32string html_unescape(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '&') {
      const bool numeric = i + 1 < text.size() && text[i + 1] == '#';
      if (numeric ? unescape_numeric(text, i, out) : unescape_named(text, i, out)) continue;
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

}  // namespace pg::text
