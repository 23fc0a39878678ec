// Unicode helpers for the CLIP tokenizer: strict UTF-8 decoding and encoding, and the character
// classes and lower-casing of the Python reference (the `regex` module's \s, \p{L}, \p{N};
// str.isspace(); str.lower()). Deterministic: nothing here depends on the process locale.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pg::text {

// Decodes UTF-8 as strictly as Python's bytes.decode("utf-8"): no overlong forms, surrogates or code
// points above U+10FFFF. Returns nullopt for invalid input and, when error_offset is given, stores
// the byte offset of the first invalid sequence there.
std::optional<std::u32string> decode_utf8(std::string_view bytes, std::size_t* error_offset = nullptr);
std::string encode_utf8(std::u32string_view text);

// `text` quoted for an error message: at most max_characters code points (then "..."), and bytes
// that are not valid UTF-8 written as \xNN.
std::string quote_for_message(std::string_view text, std::size_t max_characters = 80);

bool is_letter(char32_t c);        // \p{L}
bool is_number(char32_t c);        // \p{N}
bool is_white_space(char32_t c);   // the `regex` module's \s (Unicode White_Space)
bool is_python_space(char32_t c);  // str.isspace(): White_Space plus U+001C..U+001F

// Python's str.lower(): full lower-case mapping (U+0130 becomes "i\u0307") and the Final_Sigma rule
// (U+03A3 becomes U+03C2 at the end of a word, U+03C3 elsewhere).
std::u32string python_lower(std::u32string_view text);

}  // namespace pg::text
