// UTF-8 at the edges: every text that enters promptgrid from a user (arguments, file names, strings
// read from files) is checked here, so that invalid bytes are an error naming where they came from
// instead of a failure deep inside (JSON records, the tokenizer) or a silently mangled name.
#pragma once

#include <string>

namespace pg {

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const std::string& text);
// The text for an error message: invalid bytes and control characters as \xNN.
std::string printable(const std::string& text);
// Throws a pg::Error "<what> is not valid UTF-8 (byte 0xff at offset 3 of "ab\xff..."); <fix>".
void require_utf8(const std::string& text, const std::string& what, const std::string& fix);

}  // namespace pg
