// Checkpoint files as users have them, broken in every way the readers must reject with a message
// naming the file: zip archives, TorchScript pickles, safetensors.
#include "worker/checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include <string>

#include "checkpoint/checkpoint_test_support.h"
#include "common/files.h"
#include "support/test_data.h"
#include "worker/checkpoint/safetensors.h"

namespace pg::checkpoint {
namespace {

using pg::testing::make_temp_dir;
using pg::testing::make_zip;
using pg::testing::put_le;
using pg::testing::shared_data;
using pg::testing::write_temp;

TEST(StateDictErrors, ForbiddenGlobalInAPickle) {
  // PROTO 2, GLOBAL 'os system', BINUNICODE 'ls', TUPLE1, REDUCE, STOP.
  const std::string pickle = std::string("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R.", 22);
  const std::string path = write_temp("evil.pt", make_zip({{"evil/data.pkl", pickle}}));
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": evil/data.pkl: pickle refers to global os.system"), std::string::npos) << message;
}

TEST(StateDictErrors, CompressedZipEntry) {
  const std::string path = write_temp("deflated.pt", make_zip({{"m/data.pkl", "xx"}}, false, /*method=*/8));
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": zip entry m/data.pkl is compressed (method 8)"), std::string::npos) << message;
}

TEST(StateDictErrors, ZipWithoutDataPkl) {
  const std::string path = write_temp("other.zip", make_zip({{"docs/readme.txt", "hello"}}));
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": zip archive has no <top folder>/data.pkl"), std::string::npos) << message;
}

TEST(StateDictErrors, NotACheckpoint) {
  const std::string path = write_temp("notes.txt", "these are not weights\n");
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": not a CLIP checkpoint"), std::string::npos) << message;
  const std::string missing = make_temp_dir("missing") + "/nothing.pt";
  EXPECT_NE(pg::testing::error_message([&] { read_checkpoint(missing); }).find(missing + ": cannot open file"), std::string::npos);
}

TEST(StateDictErrors, TruncatedTorchScriptArchive) {
  const std::string original = pg::testing::read_bytes(shared_data("golden/tiny_clip.pt"));
  for (const size_t length : {size_t{3}, size_t{4}, size_t{100}, original.size() / 2, original.size() - 23,
                              original.size() - 1}) {
    const std::string path = write_temp("cut.pt", original.substr(0, length));
    const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << length << ": " << message;
  }
  const std::string path = write_temp("cut.pt", original.substr(0, original.size() / 2));
  EXPECT_NE(pg::testing::error_message([&] { read_checkpoint(path); }).find("no end-of-central-directory record"), std::string::npos);
}

TEST(StateDictErrors, CorruptStorageFailsItsChecksum) {
  std::string bytes = pg::testing::read_bytes(shared_data("golden/tiny_clip.pt"));
  bytes[6'000'000] = static_cast<char>(bytes[6'000'000] ^ 0x40);  // inside tiny_clip/data/47 (token_embedding)
  const std::string path = write_temp("flipped.pt", bytes);
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": zip entry tiny_clip/data/47 fails its CRC-32 check"), std::string::npos) << message;
}

TEST(StateDictErrors, TruncatedSafetensors) {
  const std::string original = pg::testing::read_bytes(shared_data("golden/tiny_clip.safetensors"));
  const std::string path = write_temp("cut.safetensors", original.substr(0, original.size() / 2));
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": tensor "), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(StateDictErrors, SafetensorsHeaderLengthBeyondFileSize) {
  std::string file;
  put_le(file, 1'000'000'000'000ull, 8);
  file += "{}";
  const std::string path = write_temp("huge.safetensors", file);
  const std::string message = pg::testing::error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": safetensors header length 1000000000000 exceeds the file size (10 bytes)"),
            std::string::npos)
      << message;
}

TEST(StateDictErrors, SafetensorsBadEntries) {
  auto file_with = [](const std::string& header) {
    std::string file;
    put_le(file, header.size(), 8);
    return file + header + std::string(8, '\0');
  };
  const std::string mismatch =
      write_temp("a.safetensors", file_with(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(mismatch); })
                .find(mismatch + ": tensor w: data_offsets span 8 bytes but shape [1] of F32 needs 4"),
            std::string::npos);
  const std::string dtype =
      write_temp("b.safetensors", file_with(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(dtype); }).find(dtype + ": tensor w has dtype C64"), std::string::npos);
  const std::string json = write_temp("c.safetensors", file_with("{not json}"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(json); }).find(json + ": safetensors header is not valid JSON"),
            std::string::npos);
  const std::string huge = write_temp(
      "d.safetensors", file_with(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})"));
  EXPECT_NE(pg::testing::error_message([&] { read_safetensors(huge); }).find(huge + ": tensor w: shape"), std::string::npos);
}

}  // namespace
}  // namespace pg::checkpoint
