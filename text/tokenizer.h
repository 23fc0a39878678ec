// CLIP's byte-pair-encoding tokenizer, exact to openai/CLIP's simple_tokenizer + clip.tokenize.
//
// Text is cleaned (HTML-unescaped, whitespace collapsed, stripped), lower-cased, split with CLIP's
// pre-tokenizer regex, each piece mapped through the byte-to-unicode table and BPE-merged.
// Ids: 256 byte tokens, 256 byte+"</w>" tokens, one per merge, then <|startoftext|>, <|endoftext|>.
// A vocabulary file with no merge lines gives the byte-level mode used by toy models.
// A Tokenizer is immutable once built: its const methods may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pg::text {

class Tokenizer {
 public:
  // Reads CLIP's `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text): a header line, then one merge
  // per line. Like the reference, at most 48894 merges are used. Errors (missing, unreadable,
  // corrupt or malformed file) are pg::Error naming the file and line.
  static Tokenizer from_vocab_file(const std::string& path);
  // No merges: vocabulary of 514 (512 byte tokens, SOT 512, EOT 513).
  static Tokenizer byte_level();

  // BPE ids of `text`, without SOT/EOT.
  std::vector<int64_t> encode(const std::string& text) const;
  // [SOT, encode(text)..., EOT], unpadded. Longer than context_length is a pg::Error naming the text.
  std::vector<int64_t> tokenize(const std::string& text, int64_t context_length = 77) const;

  int64_t sot_token() const;
  int64_t eot_token() const;
  int64_t vocab_size() const;  // 49408 for CLIP's file
  int64_t num_merges() const;

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg::text
