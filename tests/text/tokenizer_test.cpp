// Tests of the CLIP BPE tokenizer against openai/CLIP's reference behaviour.
//
// Where the expected ids come from:
// - tokens.json and the README cases: the reference clip.tokenize itself (see shared/data/golden).
// - "computed with the Python reference": a development-time Python re-implementation of
//   simple_tokenizer (the `regex` module, html.unescape twice, ftfy as identity) that reproduces every
//   case of tokens.json; the ids it printed are pasted here.
// - byte-level ids: worked out by hand from the byte table (see byte_id below).
// - equivalences (A encodes like B): what html.unescape / str.lower / the regex make of A, per
//   Python's documented behaviour.
#include "text/tokenizer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "support/test_data.h"

namespace pg::text {
namespace {

using Ids = std::vector<int64_t>;

const Tokenizer& clip_tokenizer() {
  static const Tokenizer tokenizer =
      Tokenizer::from_vocab_file(testing::shared_data("clip/bpe_simple_vocab_16e6.txt.gz"));
  return tokenizer;
}

std::string write_plain(const std::string& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string write_gzip(const std::string& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir + "/" + name;
  gzFile file = gzopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(gzwrite(file, contents.data(), static_cast<unsigned>(contents.size())),
            static_cast<int>(contents.size()));
  EXPECT_EQ(gzclose(file), Z_OK);
  return path;
}


// Byte-level id of a byte, from GPT-2's byte table as CLIP uses it: the printable bytes '!'..'~'
// (ids 0..93), 0xA1..0xAC (94..105), 0xAE..0xFF (106..187), then the other 68 bytes in order (188..255).
int64_t byte_id(int byte) {
  if (byte >= '!' && byte <= '~') return byte - '!';
  if (byte >= 0xA1 && byte <= 0xAC) return 94 + (byte - 0xA1);
  if (byte >= 0xAE) return 106 + (byte - 0xAE);
  if (byte <= ' ') return 188 + byte;                            // 0x00..0x20: 33 bytes
  if (byte >= 0x7F && byte <= 0xA0) return 221 + (byte - 0x7F);  // 0x7F..0xA0: 34 bytes
  return 255;                                                    // 0xAD
}
constexpr int64_t kEndOfWord = 256;  // the "</w>" variant of a byte token

TEST(Tokenizer, ClipVocabularySizes) {
  const auto& tokenizer = clip_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 49408);
  EXPECT_EQ(tokenizer.num_merges(), 48894);  // the file has 262144 merge lines; the reference uses these
  EXPECT_EQ(tokenizer.sot_token(), 49406);
  EXPECT_EQ(tokenizer.eot_token(), 49407);
}

TEST(Tokenizer, MatchesEveryGoldenCaseOfTokensJson) {
  const auto golden = pg::testing::read_json(testing::shared_data("golden/tokens.json"));
  const int64_t context_length = golden.at("context_length").get<int64_t>();
  std::vector<nlohmann::json> cases;
  for (const auto& file : golden.at("classnames").items()) {
    for (const auto& entry : file.value()) cases.push_back(entry);
  }
  for (const auto& entry : golden.at("strings")) cases.push_back(entry);
  ASSERT_GE(cases.size(), 111u);
  for (const auto& entry : cases) {
    const std::string text = entry.at("text").get<std::string>();
    if (entry.at("ids").is_null()) {  // the reference raises: too long
      EXPECT_THROW(clip_tokenizer().tokenize(text, context_length), Error) << text;
    } else {
      EXPECT_EQ(clip_tokenizer().tokenize(text, context_length), entry.at("ids").get<Ids>()) << text;
    }
  }
}

TEST(Tokenizer, MatchesTheReadmeCases) {
  const auto& t = clip_tokenizer();
  EXPECT_EQ(t.tokenize("a photo of a dog."), (Ids{49406, 320, 1125, 539, 320, 1929, 269, 49407}));
  EXPECT_EQ(t.encode("X"), (Ids{343}));
  EXPECT_EQ(t.tokenize("a centered satellite photo of Annual Crop Land."),
            (Ids{49406, 320, 24584, 10316, 1125, 539, 2906, 9955, 973, 269, 49407}));
}

TEST(Tokenizer, RejectsTextLongerThanTheContext) {
  const auto& t = clip_tokenizer();
  std::string words;
  for (int i = 0; i < 75; ++i) words += "a ";  // "a" is one token: 75 + SOT + EOT = 77
  EXPECT_EQ(t.tokenize(words).size(), 77u);
  const std::string too_long = words + "dog";
  const std::string message = pg::testing::error_message([&] { t.tokenize(too_long); });
  EXPECT_NE(message.find("\"a a a a"), std::string::npos) << message;
  EXPECT_NE(message.find("..."), std::string::npos) << message;  // the text is cut in the message
  EXPECT_NE(message.find("78 tokens"), std::string::npos) << message;
  EXPECT_NE(message.find("context length 77"), std::string::npos) << message;
  EXPECT_NO_THROW(t.tokenize(too_long, 78));
}

TEST(Tokenizer, RejectsInvalidUtf8NamingTheText) {
  const std::string message = pg::testing::error_message([] { clip_tokenizer().encode("caf\xC3 au lait"); });
  EXPECT_NE(message.find("\"caf\\xc3 au lait\""), std::string::npos) << message;
  EXPECT_NE(message.find("not UTF-8"), std::string::npos) << message;
  EXPECT_THROW(clip_tokenizer().encode("\xC0\xAF"), Error);      // overlong '/'
  EXPECT_THROW(clip_tokenizer().encode("\xED\xA0\x80"), Error);  // a surrogate
}

TEST(Tokenizer, UnescapesHtmlTwice) {
  const auto& t = clip_tokenizer();
  // Computed with the Python reference.
  EXPECT_EQ(t.encode("fish &amp; chips"), (Ids{2759, 261, 8855}));
  EXPECT_EQ(t.encode("&amp;lt;b&amp;gt;"), (Ids{283, 321, 285}));  // -> "&lt;b&gt;" -> "<b>"
  EXPECT_EQ(t.encode("&#65;&#x42;&#X63"), (Ids{5334}));            // "ABc" -> "abc"
  EXPECT_EQ(t.encode("&notit;"), (Ids{126, 361, 585, 282}));       // longest known prefix: "¬it;"
  EXPECT_EQ(t.encode("&foo;"), (Ids{261, 23435, 282}));            // unknown: kept
  EXPECT_EQ(t.encode("&#128;"), (Ids{6309}));                      // Windows-1252: "€"
  EXPECT_EQ(t.encode("&#0;"), (Ids{39802}));                       // U+FFFD
  // html.unescape: legacy names need no ';', invalid numbers become U+FFFD or nothing.
  EXPECT_EQ(t.encode("&ampfoo"), t.encode("&foo"));
  EXPECT_EQ(t.encode("&#xD800;"), t.encode("\xEF\xBF\xBD"));
  EXPECT_EQ(t.encode("&#1;x"), t.encode("x"));
  EXPECT_EQ(t.encode("&eacute;t&eacute;"), t.encode("\xC3\xA9t\xC3\xA9"));
}

TEST(Tokenizer, LowerCasesLikePython) {
  const auto& t = clip_tokenizer();
  EXPECT_EQ(t.encode("A PHOTO OF A DOG."), (Ids{320, 1125, 539, 320, 1929, 269}));
  // Greek with final sigma: "ΟΔΟΣ ΣΑ" -> "οδος σα" (ς at the word end, σ elsewhere); Python reference.
  EXPECT_EQ(t.encode("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91"),
            (Ids{138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 365}));
  EXPECT_EQ(t.encode("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91"),
            t.encode("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83\xCE\xB1"));
  // Cyrillic: "МОСКВА" -> "москва".
  EXPECT_EQ(t.encode("\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90"),
            (Ids{38018, 13506, 23669, 27152, 39813, 27080}));
  // "İ" lowers to "i" + U+0307 (two pieces: a letter and a combining mark).
  EXPECT_EQ(t.encode("\xC4\xB0"), (Ids{328, 16384}));
  EXPECT_EQ(t.encode("Caf\xC3\x89"), (Ids{15304}));  // "CafÉ" -> "café"
}

TEST(Tokenizer, CollapsesAndStripsWhiteSpace) {
  const auto& t = clip_tokenizer();
  EXPECT_EQ(t.encode("  a \t\n photo\xE3\x80\x80of  "), (Ids{320, 1125, 539}));  // U+3000 is white space
  // U+001C is stripped at the ends (str.strip) but is no \s for the regex: inside it is a piece,
  // the byte 0x1C with "</w>" (Python reference: 472).
  EXPECT_EQ(t.encode("\x1C"
                     "dog\x1C"),
            (Ids{1929}));
  EXPECT_EQ(t.encode("a\x1C"
                     "b"),
            (Ids{320, byte_id(0x1C) + kEndOfWord, 321}));
  EXPECT_EQ(t.encode(""), Ids{});
  EXPECT_EQ(t.tokenize(" \n "), (Ids{49406, 49407}));
}

TEST(Tokenizer, SplitsContractionsAndPunctuation) {
  const auto& t = clip_tokenizer();
  // Python reference ids.
  EXPECT_EQ(t.encode("don't"), (Ids{847, 713}));                         // "don", "'t"
  EXPECT_EQ(t.encode("we'LL"), (Ids{649, 1342}));                        // "we", "'ll"
  EXPECT_EQ(t.encode("it's 's"), (Ids{585, 568, 568}));                  // "it", "'s", "'s"
  EXPECT_EQ(t.encode("rock'n'roll"), (Ids{2172, 262, 333, 262, 3341}));  // "'" alone when no contraction
  EXPECT_EQ(t.encode("a photo of a \xF0\x9F\x90\xB6."), (Ids{320, 1125, 539, 320, 14466, 269}));
}

TEST(Tokenizer, SplitsDigitsOneByOne) {
  const auto& t = clip_tokenizer();
  EXPECT_EQ(t.encode("2023"), (Ids{273, 271, 273, 274}));  // Python reference: "2</w>" "0</w>" ...
  EXPECT_EQ(t.encode("2023"), t.encode("2 0 2 3"));
  EXPECT_EQ(t.encode("x2"), (Ids{343, 273}));
}

TEST(Tokenizer, KeepsSpecialTokensWrittenInText) {
  const auto& t = clip_tokenizer();
  EXPECT_EQ(t.encode("<|startoftext|>"), (Ids{49406}));
  EXPECT_EQ(t.encode("hello<|endoftext|>"), (Ids{3306, 49407}));
  // After punctuation the regex's punctuation run swallows "<|" (Python reference).
  EXPECT_EQ(t.encode("!<|endoftext|>"), (Ids{0, 27, 347, 40786, 4160, 91, 285}));
}

TEST(Tokenizer, ByteLevelModeUsesTheByteTable) {
  const Tokenizer t = Tokenizer::byte_level();
  EXPECT_EQ(t.vocab_size(), 514);
  EXPECT_EQ(t.num_merges(), 0);
  EXPECT_EQ(t.sot_token(), 512);
  EXPECT_EQ(t.eot_token(), 513);
  EXPECT_EQ(t.encode("Hi!"), (Ids{'h' - '!', 'i' - '!' + kEndOfWord, '!' - '!' + kEndOfWord}));
  EXPECT_EQ(byte_id('h'), 71);
  // "é" is C3 A9; "ā" (from "Ā") is C4 81, and 0x81 is one of the 68 remapped bytes.
  EXPECT_EQ(t.encode("\xC3\xA9"), (Ids{byte_id(0xC3), byte_id(0xA9) + kEndOfWord}));
  EXPECT_EQ(t.encode("\xC3\xA9"), (Ids{127, 358}));
  EXPECT_EQ(t.tokenize("\xC4\x80"), (Ids{512, 128, 223 + kEndOfWord, 513}));
  EXPECT_EQ(t.encode("<|endoftext|>"), (Ids{513}));
}

TEST(TokenizerVocabulary, HeaderOnlyGzipGivesByteLevel) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const Tokenizer t = Tokenizer::from_vocab_file(write_gzip(dir, "bytes.txt.gz", "#version: 0.2\n"));
  const Tokenizer reference = Tokenizer::byte_level();
  EXPECT_EQ(t.vocab_size(), 514);
  EXPECT_EQ(t.num_merges(), 0);
  EXPECT_EQ(t.tokenize("A dog, 2 cats."), reference.tokenize("A dog, 2 cats."));
}

TEST(TokenizerVocabulary, AppliesMergesByRankNotByPosition) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  // Plain text works too. Merge 0 joins "b" + "c</w>", merge 1 "a" + "b": in "abc" the lower rank
  // wins although "a b" comes first. Empty lines are skipped.
  const Tokenizer t = Tokenizer::from_vocab_file(write_plain(dir, "vocab.txt", "header\nb c</w>\n\na b\n"));
  EXPECT_EQ(t.num_merges(), 2);
  EXPECT_EQ(t.vocab_size(), 516);
  EXPECT_EQ(t.sot_token(), 514);
  EXPECT_EQ(t.encode("abc"), (Ids{'a' - '!', 512}));               // "a", "bc</w>"
  EXPECT_EQ(t.encode("abd"), (Ids{513, 'd' - '!' + kEndOfWord}));  // "ab", "d</w>"
  EXPECT_EQ(t.encode("bc abc"), (Ids{512, 'a' - '!', 512}));
}

TEST(TokenizerVocabulary, MissingFileNamesThePath) {
  const std::string message = pg::testing::error_message([] { Tokenizer::from_vocab_file("/nonexistent/bpe.txt.gz"); });
  EXPECT_NE(message.find("/nonexistent/bpe.txt.gz"), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, DirectoryIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(dir); });
  EXPECT_NE(message.find(dir), std::string::npos) << message;
  EXPECT_NE(message.find("directory"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, NonGzipGarbageIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string path =
      write_plain(dir, "garbage.bin", std::string("\x89PNG\r\n\x1a\n\x00\x01\xFF\xFE", 12));
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("line 1: not UTF-8"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, TruncatedGzipIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string whole = pg::testing::read_bytes(testing::shared_data("clip/bpe_simple_vocab_16e6.txt.gz"));
  const std::string path = write_plain(dir, "truncated.txt.gz", whole.substr(0, 5000));
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("gzip"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, CorruptGzipIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  std::string data = pg::testing::read_bytes(write_gzip(dir, "good.txt.gz", "header\nt h\ni n\n"));
  data[data.size() - 6] ^= 0x55;  // inside the CRC-32 of the gzip trailer
  const std::string path = write_plain(dir, "corrupt.txt.gz", data);
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, EmptyFileIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string path = write_gzip(dir, "empty.txt.gz", "");
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(path); });
  EXPECT_NE(message.find(path + " is empty"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, HugeFileIsRejected) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string path = dir + "/huge.txt.gz";
  gzFile file = gzopen(path.c_str(), "wb1");
  ASSERT_NE(file, nullptr);
  const std::string chunk(1 << 20, 'a');
  for (int i = 0; i < 65; ++i) gzwrite(file, chunk.data(), static_cast<unsigned>(chunk.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
  const std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(path); });
  EXPECT_NE(message.find(path + " is larger than 64 MiB"), std::string::npos) << message;
}

TEST(TokenizerVocabulary, MalformedMergeLineNamesFileAndLine) {
  const std::string dir = testing::make_temp_dir("tokenizer");
  const std::string three = write_gzip(dir, "three.txt.gz", "header\nt h\na b c\n");
  std::string message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(three); });
  EXPECT_NE(message.find(three + " line 3: malformed merge \"a b c\""), std::string::npos) << message;
  const std::string one = write_gzip(dir, "one.txt.gz", "header\nth\n");
  message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(one); });
  EXPECT_NE(message.find(one + " line 2: malformed merge \"th\""), std::string::npos) << message;
  // A no-break space is not in the byte alphabet (the byte 0xA0 is written "ł"); a bare "</w>" is no
  // token.
  const std::string outside = write_gzip(dir, "outside.txt.gz", "header\nt h\u00a0x\n");
  message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(outside); });
  EXPECT_NE(message.find(outside + " line 2"), std::string::npos) << message;
  const std::string bare = write_gzip(dir, "bare.txt.gz", "header\nt </w>\n");
  message = pg::testing::error_message([&] { Tokenizer::from_vocab_file(bare); });
  EXPECT_NE(message.find(bare + " line 2"), std::string::npos) << message;
}

}  // namespace
}  // namespace pg::text
