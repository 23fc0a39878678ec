#include "text/tokenizer.h"

#include <unordered_map>

#include "common/error.h"
#include "text/bpe_vocabulary.h"
#include "text/pre_tokenizer.h"
#include "text/text_cleaning.h"
#include "text/unicode_text.h"

namespace pg::text {
namespace {

constexpr char32_t kStartOfTextPiece[] = U"<|startoftext|>";
constexpr char32_t kEndOfTextPiece[] = U"<|endoftext|>";

// Symbols are vocabulary ids. As in the reference, a token string that occurs twice in the vocabulary
// means its last id, so equal strings are always the same symbol.
using Symbol = int64_t;

uint64_t pair_key(Symbol first, Symbol second) {
  return (static_cast<uint64_t>(first) << 32) | static_cast<uint64_t>(second);
}

struct MergeRule {
  int64_t rank;
  Symbol merged;
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<uint64_t, MergeRule> merge_rules;
  int64_t num_merges = 0;
  int64_t vocab_size = 0;
  Symbol sot = 0;
  Symbol eot = 0;

  explicit Impl(const std::vector<BpeMerge>& merges) {
    std::vector<std::string> vocab(2 * kByteTokens);
    for (int byte = 0; byte < 256; ++byte) {
      const auto id = byte_token_id(static_cast<uint8_t>(byte));
      vocab[id] = byte_token(static_cast<uint8_t>(byte));
      vocab[id + kByteTokens] = vocab[id] + kEndOfWord;
    }
    for (const auto& merge : merges) vocab.push_back(merge.first + merge.second);
    vocab.emplace_back("<|startoftext|>");
    vocab.emplace_back("<|endoftext|>");

    std::unordered_map<std::string, Symbol> ids;
    for (std::size_t id = 0; id < vocab.size(); ++id) ids[vocab[id]] = static_cast<Symbol>(id);
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const auto first = ids.find(merges[rank].first);
      const auto second = ids.find(merges[rank].second);
      // A merge of strings that are not tokens can never apply (the reference keeps it, unused).
      if (first == ids.end() || second == ids.end()) continue;
      merge_rules[pair_key(first->second, second->second)] = {
          static_cast<int64_t>(rank), ids.at(merges[rank].first + merges[rank].second)};
    }
    num_merges = static_cast<int64_t>(merges.size());
    vocab_size = static_cast<int64_t>(vocab.size());
    sot = vocab_size - 2;
    eot = vocab_size - 1;
  }

  // BPE of one piece: its UTF-8 bytes as byte tokens (the last one with "</w>"), then repeatedly
  // the adjacent pair of lowest merge rank is merged everywhere, left to right, until none applies.
  void encode_piece(const std::u32string& piece, std::vector<int64_t>& out) const {
    if (piece == kStartOfTextPiece || piece == kEndOfTextPiece) {
      out.push_back(piece == kStartOfTextPiece ? sot : eot);
      return;
    }
    const std::string bytes = encode_utf8(piece);
    std::vector<Symbol> word;
    word.reserve(bytes.size());
    for (char byte : bytes) word.push_back(byte_token_id(static_cast<uint8_t>(byte)));
    word.back() += kByteTokens;
    while (word.size() > 1) {
      const MergeRule* best = nullptr;
      Symbol best_first = 0;
      Symbol best_second = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto rule = merge_rules.find(pair_key(word[i], word[i + 1]));
        if (rule != merge_rules.end() && (best == nullptr || rule->second.rank < best->rank)) {
          best = &rule->second;
          best_first = word[i];
          best_second = word[i + 1];
        }
      }
      if (best == nullptr) break;
      std::vector<Symbol> merged;
      merged.reserve(word.size());
      for (std::size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == best_first && word[i + 1] == best_second) {
          merged.push_back(best->merged);
          ++i;
        } else {
          merged.push_back(word[i]);
        }
      }
      word = std::move(merged);
    }
    out.insert(out.end(), word.begin(), word.end());
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_vocab_file(const std::string& path) {
  return Tokenizer(std::make_unique<Impl>(read_bpe_merges(path)));
}

Tokenizer Tokenizer::byte_level() { return Tokenizer(std::make_unique<Impl>(std::vector<BpeMerge>{})); }

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  std::size_t bad_offset = 0;
  const auto decoded = decode_utf8(text, &bad_offset);
  if (!decoded) {
    throw Error("cannot tokenize " + quote_for_message(text) +
                ": it is not UTF-8 text (invalid byte at offset " + std::to_string(bad_offset) +
                "); pass UTF-8 encoded text");
  }
  std::vector<int64_t> ids;
  for (const auto& piece : split_clip_words(clean_clip_text(*decoded))) impl_->encode_piece(piece, ids);
  return ids;
}

std::vector<int64_t> Tokenizer::tokenize(const std::string& text, int64_t context_length) const {
  std::vector<int64_t> ids{impl_->sot};
  const std::vector<int64_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(impl_->eot);
  if (static_cast<int64_t>(ids.size()) > context_length) {
    throw Error("text " + quote_for_message(text) + " is too long: " + std::to_string(ids.size()) +
                " tokens with start and end of text, more than the context length " +
                std::to_string(context_length) + "; shorten it");
  }
  return ids;
}

int64_t Tokenizer::sot_token() const { return impl_->sot; }
int64_t Tokenizer::eot_token() const { return impl_->eot; }
int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int64_t Tokenizer::num_merges() const { return impl_->num_merges; }

}  // namespace pg::text
