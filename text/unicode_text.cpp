#include "text/unicode_text.h"

#include <algorithm>

#include "text/unicode_tables.h"

namespace pg::text {
namespace {

using unicode_tables::RangeTable;

constexpr char32_t kCapitalSigma = 0x03A3;
constexpr char32_t kSmallSigma = 0x03C3;
constexpr char32_t kFinalSigma = 0x03C2;

bool in_ranges(const RangeTable& table, char32_t c) {
  const auto* end = table.ranges + table.size;
  const auto* it = std::upper_bound(table.ranges, end, c,
                                    [](char32_t value, const auto& range) { return value < range.first; });
  return it != table.ranges && c <= (it - 1)->last;
}

// CPython's Final_Sigma test for the capital sigma at `i`: a cased letter before it and none after it,
// skipping case-ignorable characters on both sides.
bool is_final_sigma(std::u32string_view text, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && in_ranges(unicode_tables::kCaseIgnorableRanges, text[j - 1])) --j;
  if (j == 0 || !in_ranges(unicode_tables::kCasedRanges, text[j - 1])) return false;
  j = i + 1;
  while (j < text.size() && in_ranges(unicode_tables::kCaseIgnorableRanges, text[j])) ++j;
  return j == text.size() || !in_ranges(unicode_tables::kCasedRanges, text[j]);
}

void append_lower(char32_t c, std::u32string& out) {
  const auto& special = unicode_tables::kSpecialLowerCaseMappings;
  const auto* special_end = special.mappings + special.size;
  const auto* s = std::lower_bound(special.mappings, special_end, c,
                                   [](const auto& m, char32_t value) { return m.code_point < value; });
  if (s != special_end && s->code_point == c) {
    for (char32_t lower : s->lower) {
      if (lower != 0) out.push_back(lower);
    }
    return;
  }
  const auto& single = unicode_tables::kLowerCaseMappings;
  const auto* single_end = single.mappings + single.size;
  const auto* m = std::lower_bound(single.mappings, single_end, c, [](const auto& entry, char32_t value) {
    return entry.code_point < value;
  });
  out.push_back(m != single_end && m->code_point == c ? m->lower : c);
}

}  // namespace

std::optional<std::u32string> decode_utf8(std::string_view bytes, std::size_t* error_offset) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  const auto fail = [&]() -> std::optional<std::u32string> {
    if (error_offset != nullptr) *error_offset = i;
    return std::nullopt;
  };
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    // Sequence length, payload bits of the lead byte, and the smallest code point of that length
    // (anything less is an overlong form).
    std::size_t length = 0;
    char32_t code_point = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
      minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
      minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
      minimum = 0x10000;
    } else {
      return fail();
    }
    if (i + length > bytes.size()) return fail();
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(bytes[i + k]);
      if ((next & 0xC0) != 0x80) return fail();
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return fail();
    }
    out.push_back(code_point);
    i += length;
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string quote_for_message(std::string_view text, std::size_t max_characters) {
  std::string out = "\"";
  std::size_t characters = 0;
  std::size_t i = 0;
  while (i < text.size() && characters < max_characters) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    // One code point when it decodes as such, otherwise its first byte escaped.
    if (lead < 0x80 || (i + length <= text.size() && decode_utf8(text.substr(i, length)).has_value())) {
      out.append(text.substr(i, length));
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[lead >> 4];
      out += kHex[lead & 0xF];
      length = 1;
    }
    i += length;
    ++characters;
  }
  out += i < text.size() ? "\"..." : "\"";
  return out;
}

bool is_letter(char32_t c) { return in_ranges(unicode_tables::kLetterRanges, c); }
bool is_number(char32_t c) { return in_ranges(unicode_tables::kNumberRanges, c); }
bool is_white_space(char32_t c) { return in_ranges(unicode_tables::kWhiteSpaceRanges, c); }
bool is_python_space(char32_t c) { return in_ranges(unicode_tables::kPythonSpaceRanges, c); }

std::u32string python_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == kCapitalSigma) {
      out.push_back(is_final_sigma(text, i) ? kFinalSigma : kSmallSigma);
    } else {
      append_lower(text[i], out);
    }
  }
  return out;
}

}  // namespace pg::text
