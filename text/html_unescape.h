// Python's html.unescape for the CLIP tokenizer's text cleaning: numeric references (&#65; &#x41;,
// with HTML's replacements for invalid numbers) and the HTML5 named references, including the legacy
// ones written without ';' and the longest-prefix rule for unknown names ("&notit;" -> "¬it;").
#pragma once

#include <string>
#include <string_view>

namespace pg::text {

std::u32string html_unescape(std::u32string_view text);

}  // namespace pg::text
