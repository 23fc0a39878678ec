// CLIP's BPE vocabulary: the byte alphabet (GPT-2's bytes_to_unicode) and the merges file
// (`bpe_simple_vocab_16e6.txt.gz`). Used by the tokenizer only.
//
// Every byte is a token: the 188 printable bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for
// themselves, the other 68 bytes for U+0100..U+0143 in byte order. Token ids follow the reference:
// the printable bytes first, then the others; the same 256 again with "</w>" (end of word) appended.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::text {

// The reference reads the lines after the header up to this many (its slice `lines[1:48895]`): CLIP's
// vocabulary of 49408 = 512 byte tokens + 48894 merges + 2 special tokens.
constexpr int64_t kMaxBpeMerges = 49152 - 256 - 2;
constexpr int64_t kByteTokens = 256;
inline constexpr char kEndOfWord[] = "</w>";

struct BpeMerge {
  std::string first;  // UTF-8 over the byte alphabet, possibly ending in "</w>"
  std::string second;
};

// Vocabulary id (0..255) of the token of `byte`; its end-of-word variant is id + kByteTokens.
int64_t byte_token_id(uint8_t byte);
// The token string of `byte`: its byte-alphabet code point, UTF-8 encoded.
std::string byte_token(uint8_t byte);

// Reads the merges of a vocabulary file, gzip-compressed or plain UTF-8 text: a header line, then
// one merge per line, two tokens separated by a space. Only the kMaxBpeMerges lines after the header
// are read; empty lines among them are skipped. Throws pg::Error naming the file (and line) when it
// is missing, unreadable, corrupt, empty, not UTF-8 or has a malformed merge line.
std::vector<BpeMerge> read_bpe_merges(const std::string& path);

}  // namespace pg::text
