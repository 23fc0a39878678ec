// The text cleaning CLIP's reference tokenizer applies before splitting text into words:
// ftfy.fix_text (identity here, see below), html.unescape twice, strip, whitespace runs collapsed to
// one space, strip, then Python's str.lower().
#pragma once

#include <string>
#include <string_view>

namespace pg::text {

std::u32string clean_clip_text(std::u32string_view text);

}  // namespace pg::text
