#include "text/pre_tokenizer.h"

#include "text/unicode_text.h"

namespace pg::text {
namespace {

// The literal alternatives, in the pattern's order, lower case.
constexpr std::u32string_view kLiterals[] = {
    U"<|startoftext|>", U"<|endoftext|>", U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};

// U+0345 COMBINING GREEK YPOGEGRAMMENI is case-equivalent to the letter iota; under IGNORECASE the
// `regex` module (measured with version 2026.5.9) matches it with neither [\p{L}] nor
// [^\s\p{L}\p{N}], so like white space it starts no piece. No other code point is affected.
constexpr char32_t kYpogegrammeni = 0x0345;

// Case folding as IGNORECASE applies it to the ASCII letters of the literals: A-Z, and the two
// non-ASCII characters whose simple case folding is an ASCII letter (LONG S, KELVIN SIGN).
char32_t fold_case(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
  if (c == 0x017F) return U's';
  if (c == 0x212A) return U'k';
  return c;
}

bool literal_at(std::u32string_view text, std::size_t i, std::u32string_view literal) {
  if (text.size() - i < literal.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k) {
    if (fold_case(text[i + k]) != literal[k]) return false;
  }
  return true;
}

bool is_other(char32_t c) {
  return !is_white_space(c) && !is_letter(c) && !is_number(c) && c != kYpogegrammeni;
}

// Length of the piece starting at text[i], or 0 when no alternative matches there.
std::size_t match_at(std::u32string_view text, std::size_t i) {
  for (std::u32string_view literal : kLiterals) {
    if (literal_at(text, i, literal)) return literal.size();
  }
  std::size_t j = i;
  if (is_letter(text[i])) {
    while (j < text.size() && is_letter(text[j])) ++j;
  } else if (is_number(text[i])) {
    j = i + 1;  // digits are single pieces
  } else {
    while (j < text.size() && is_other(text[j])) ++j;
  }
  return j - i;
}

}  // namespace

std::vector<std::u32string> split_clip_words(std::u32string_view text) {
  std::vector<std::u32string> pieces;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = match_at(text, i);
    if (length == 0) {
      ++i;
    } else {
      pieces.emplace_back(text.substr(i, length));
      i += length;
    }
  }
  return pieces;
}

}  // namespace pg::text
