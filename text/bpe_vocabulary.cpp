#include "text/bpe_vocabulary.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "text/unicode_text.h"

namespace pg::text {
namespace {

// CLIP's file is 3.2 MB uncompressed; anything far larger is the wrong file, not worth reading whole.
constexpr std::size_t kMaxVocabularyBytes = std::size_t{64} << 20;

struct ByteAlphabet {
  std::array<char32_t, 256> code_point{};
  std::array<int64_t, 256> id{};
};

bool is_printable_byte(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet = [] {
    ByteAlphabet a;
    int64_t next_id = 0;
    for (int byte = 0; byte < 256; ++byte) {
      if (is_printable_byte(byte)) {
        a.code_point[byte] = static_cast<char32_t>(byte);
        a.id[byte] = next_id++;
      }
    }
    char32_t next_code_point = 256;
    for (int byte = 0; byte < 256; ++byte) {
      if (!is_printable_byte(byte)) {
        a.code_point[byte] = next_code_point++;
        a.id[byte] = next_id++;
      }
    }
    return a;
  }();
  return alphabet;
}

bool is_alphabet_code_point(char32_t c) {
  return c >= 256 ? c < 256 + 68 : is_printable_byte(static_cast<int>(c));
}

// A merge token: one or more byte-alphabet characters, optionally followed by "</w>".
bool is_valid_token(const std::string& token) {
  std::string_view characters = token;
  const std::string_view end_of_word = kEndOfWord;
  if (characters.size() >= end_of_word.size() &&
      characters.substr(characters.size() - end_of_word.size()) == end_of_word) {
    characters.remove_suffix(end_of_word.size());
  }
  const auto decoded = decode_utf8(characters);
  if (!decoded || decoded->empty()) return false;
  for (char32_t c : *decoded) {
    if (!is_alphabet_code_point(c)) return false;
  }
  return true;
}

std::string read_possibly_gzipped(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw Error("BPE vocabulary file " + path +
                " not found: pass CLIP's bpe_simple_vocab_16e6.txt.gz (from openai/CLIP)");
  }
  if (std::filesystem::is_directory(path, error)) {
    throw Error("BPE vocabulary file " + path +
                " is a directory: pass the bpe_simple_vocab_16e6.txt.gz file");
  }
  const int fd = open_for_reading(path, "CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)");
  gzFile file = gzdopen(fd, "rb");
  if (file == nullptr) {
    ::close(fd);
    throw Error("BPE vocabulary file " + path + " cannot be opened (out of memory)");
  }
  std::string contents;
  std::array<char, 1 << 16> buffer{};
  while (true) {
    const int n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) {
      int code = Z_OK;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw Error("BPE vocabulary file " + path + " cannot be read: " + message +
                  " (a corrupt gzip file? download bpe_simple_vocab_16e6.txt.gz again)");
    }
    if (n == 0) break;
    contents.append(buffer.data(), static_cast<std::size_t>(n));
    if (contents.size() > kMaxVocabularyBytes) {
      gzclose(file);
      throw Error("BPE vocabulary file " + path + " is larger than " +
                  std::to_string(kMaxVocabularyBytes >> 20) +
                  " MiB uncompressed: not a BPE vocabulary (pass bpe_simple_vocab_16e6.txt.gz)");
    }
  }
  // gzclose reports a gzip stream that ended early only here.
  if (gzclose(file) != Z_OK) {
    throw Error("BPE vocabulary file " + path +
                " is a truncated gzip file: download bpe_simple_vocab_16e6.txt.gz again");
  }
  return contents;
}

std::vector<std::string> split_fields(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t begin = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > begin) fields.emplace_back(line.substr(begin, i - begin));
  }
  return fields;
}

}  // namespace

int64_t byte_token_id(uint8_t byte) { return byte_alphabet().id[byte]; }

std::string byte_token(uint8_t byte) {
  return encode_utf8(std::u32string(1, byte_alphabet().code_point[byte]));
}

std::vector<BpeMerge> read_bpe_merges(const std::string& path) {
  const std::string contents = read_possibly_gzipped(path);
  if (contents.empty()) {
    throw Error("BPE vocabulary file " + path + " is empty: expected a header line, then one merge per line");
  }
  std::size_t bad_offset = 0;
  if (!decode_utf8(contents, &bad_offset)) {
    const auto line =
        1 + std::count(contents.begin(), contents.begin() + static_cast<std::ptrdiff_t>(bad_offset), '\n');
    throw Error("BPE vocabulary file " + path + " line " + std::to_string(line) +
                ": not UTF-8 text (is it CLIP's bpe_simple_vocab_16e6.txt.gz?)");
  }
  std::vector<BpeMerge> merges;
  std::size_t line_begin = contents.find('\n');  // the header line is not a merge
  for (int64_t line_number = 2; line_number <= kMaxBpeMerges + 1 && line_begin != std::string::npos;
       ++line_number) {
    ++line_begin;
    std::size_t line_end = contents.find('\n', line_begin);
    const std::string_view line = std::string_view(contents).substr(
        line_begin, line_end == std::string::npos ? std::string::npos : line_end - line_begin);
    line_begin = line_end;
    const std::vector<std::string> fields = split_fields(line);
    if (fields.empty()) continue;
    if (fields.size() != 2 || !is_valid_token(fields[0]) || !is_valid_token(fields[1])) {
      throw Error("BPE vocabulary file " + path + " line " + std::to_string(line_number) +
                  ": malformed merge " + quote_for_message(line) +
                  ", expected two tokens of CLIP's byte alphabet separated by a space (e.g. \"t h\")");
    }
    merges.push_back({fields[0], fields[1]});
  }
  return merges;
}

}  // namespace pg::text
