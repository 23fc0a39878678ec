// Tests of the CLIP tokenizer's text handling pieces: UTF-8, html.unescape, str.lower, the cleaning
// chain and the pre-tokenizer. Expected values are what CPython 3.11 (html.unescape, str.lower,
// bytes.decode) and the `regex` module give for the same input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/html_unescape.h"
#include "text/pre_tokenizer.h"
#include "text/text_cleaning.h"
#include "text/unicode_text.h"

namespace pg::text {
namespace {

TEST(TokenizerText, DecodesStrictUtf8) {
  EXPECT_EQ(decode_utf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\xB6"), std::u32string(U"a\u00e9\u20ac\U0001F436"));
  std::size_t offset = 99;
  EXPECT_FALSE(decode_utf8("ab\xC0\xAF", &offset).has_value());  // overlong
  EXPECT_EQ(offset, 2u);
  EXPECT_FALSE(decode_utf8("\xED\xA0\x80").has_value());      // surrogate
  EXPECT_FALSE(decode_utf8("\xF4\x90\x80\x80").has_value());  // above U+10FFFF
  EXPECT_FALSE(decode_utf8("\xE2\x82").has_value());          // cut short
  EXPECT_FALSE(decode_utf8("\x80").has_value());              // lone continuation byte
  EXPECT_EQ(encode_utf8(U"a\u00e9\u20ac\U0001F436"), "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x90\xB6");
}

TEST(TokenizerText, QuotesTextForMessages) {
  EXPECT_EQ(quote_for_message("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(quote_for_message("a\xFF"
                              "b"),
            "\"a\\xffb\"");
  EXPECT_EQ(quote_for_message("abcdef", 3), "\"abc\"...");
}

TEST(TokenizerText, UnescapesLikePythonsHtmlModule) {
  // Inputs and outputs of html.unescape in CPython 3.11.
  const std::vector<std::pair<std::u32string, std::u32string>> cases = {
      {U"&amp;", U"&"},
      {U"&AMP", U"&"},
      {U"&lt", U"<"},
      {U"&notit;", U"\u00acit;"},
      {U"&notin;", U"\u2209"},
      {U"&ampfoo", U"&foo"},
      {U"&foo;", U"&foo;"},
      {U"&#65;&#x42;&#X63", U"ABc"},
      {U"&#128;", U"\u20ac"},
      {U"&#0;", U"\ufffd"},
      {U"&#13;", U"\r"},
      {U"&#xD800;", U"\ufffd"},
      {U"&#1114112;", U"\ufffd"},
      {U"&#99999999999999999999;", U"\ufffd"},
      {U"&#x110000", U"\ufffd"},
      {U"&#1;x", U"x"},
      {U"&#xFFFE;", U""},
      {U"&#", U"&#"},
      {U"&#x;", U"&#x;"},
      {U"&;", U"&;"},
      {U"& amp;", U"& amp;"},
      {U"&amp;amp;", U"&amp;"},
      {U"&acE;", U"\u223e\u0333"},
      {U"&" + std::u32string(33, U'a') + U";", U"&" + std::u32string(33, U'a') + U";"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(html_unescape(input), expected) << encode_utf8(input);
  }
}

TEST(TokenizerText, LowerCasesLikePythonStrLower) {
  // Outputs of str.lower() in CPython 3.11.
  EXPECT_EQ(python_lower(U"\u039f\u0394\u039f\u03a3"), U"\u03bf\u03b4\u03bf\u03c2");  // final sigma
  EXPECT_EQ(python_lower(U"\u03a3\u0391"), U"\u03c3\u03b1");
  EXPECT_EQ(python_lower(U"\u03a3"), U"\u03c3");  // no cased letter before it
  EXPECT_EQ(python_lower(U"\u0391\u03a3."), U"\u03b1\u03c2.");
  EXPECT_EQ(python_lower(U"\u0391\u03a3'\u0391"), U"\u03b1\u03c3'\u03b1");  // "'" is case-ignorable
  EXPECT_EQ(python_lower(U"\u0130"), U"i\u0307");
  EXPECT_EQ(python_lower(U"\u01c5\u1e9e\u216b\u24b6\u212a"), U"\u01c6\u00df\u217b\u24d0k");
  EXPECT_EQ(python_lower(U"\u041c\u041e\u0421\u041a\u0412\u0410"), U"\u043c\u043e\u0441\u043a\u0432\u0430");
  EXPECT_EQ(python_lower(U"ABC xyz 123"), U"abc xyz 123");
}

TEST(TokenizerText, CleansLikeTheReference) {
  // whitespace_clean(basic_clean(text)).lower() with ftfy as identity.
  EXPECT_EQ(clean_clip_text(U"  A\t\n&amp;nbsp;B\u3000\u3000C  "), U"a b c");  // &amp;nbsp; -> U+00A0
  EXPECT_EQ(clean_clip_text(U"\x1c x\x1c y \x1c"), U"x\x1c y");                // U+001C: stripped, but not \s
  EXPECT_EQ(clean_clip_text(U"\u00a0\u2028"), U"");
}

TEST(TokenizerText, SplitsLikeTheReferenceRegex) {
  // regex.findall(pattern, text) with IGNORECASE.
  using Pieces = std::vector<std::u32string>;
  EXPECT_EQ(split_clip_words(U"don't we'll <|endoftext|>a2b"),
            (Pieces{U"don", U"'t", U"we", U"'ll", U"<|endoftext|>", U"a", U"2", U"b"}));
  EXPECT_EQ(split_clip_words(U"...''s ok!?"), (Pieces{U"...''", U"s", U"ok", U"!?"}));
  EXPECT_EQ(split_clip_words(U"\u00bd\u00b2x"), (Pieces{U"\u00bd", U"\u00b2", U"x"}));  // \p{N}: one each
  EXPECT_EQ(split_clip_words(U"\u65e5\u672c\u8a9e \U0001F436\U0001F436"),
            (Pieces{U"\u65e5\u672c\u8a9e", U"\U0001F436\U0001F436"}));
  // IGNORECASE: LONG S matches the "s" of "'s"; U+0345 matches no alternative at all.
  EXPECT_EQ(split_clip_words(U"'\u017f a\u0345b"), (Pieces{U"'\u017f", U"a", U"b"}));
  EXPECT_EQ(split_clip_words(U"<|\u017ftartoftext|>"), (Pieces{U"<|\u017ftartoftext|>"}));
  EXPECT_EQ(split_clip_words(U"e\u0301"), (Pieces{U"e", U"\u0301"}));  // a mark is no letter
}

}  // namespace
}  // namespace pg::text
