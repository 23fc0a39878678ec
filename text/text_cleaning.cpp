#include "text/text_cleaning.h"

#include "text/html_unescape.h"
#include "text/unicode_text.h"

namespace pg::text {
namespace {

// Python's str.strip(): removes str.isspace() characters at both ends.
std::u32string_view python_strip(std::u32string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_python_space(text[begin])) ++begin;
  while (end > begin && is_python_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// re.sub(r"\s+", " ", text) with the `regex` module's \s.
std::u32string collapse_white_space(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (is_white_space(text[i])) {
      out.push_back(U' ');
      while (i < text.size() && is_white_space(text[i])) ++i;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace

std::u32string clean_clip_text(std::u32string_view text) {
  // The reference first runs ftfy.fix_text, which would also straighten curly quotes, expand
  // ligatures, narrow full-width forms and NFC-normalize. It is left out on purpose (the identity):
  // the golden token ids this tokenizer is checked against were generated with ftfy stubbed that way.
  const std::u32string unescaped = html_unescape(html_unescape(text));
  const std::u32string collapsed = collapse_white_space(python_strip(unescaped));
  return python_lower(python_strip(collapsed));
}

}  // namespace pg::text
