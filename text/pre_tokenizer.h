// CLIP's pre-tokenizer: splits cleaned, lower-cased text into the pieces that are BPE-encoded one by
// one. A hand-written scanner equivalent to the reference's `regex` pattern (IGNORECASE)
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// applied with findall: at each position the first alternative that matches wins; positions where
// none matches (white space) are skipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pg::text {

std::vector<std::u32string> split_clip_words(std::u32string_view text);

}  // namespace pg::text
