// Checkpoints crafted to crash, hang or exhaust the readers (issue #5, cases 1, 2, 7, 16, 17): each
// must be a pg::Error naming the file, within bounded time and memory.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "checkpoint/checkpoint_test_support.h"
#include "worker/checkpoint/checkpoint.h"
#include "worker/checkpoint/pickle_reader.h"
#include "worker/checkpoint/safetensors.h"

namespace pg::checkpoint {
namespace {

using pg::testing::error_message;
using pg::testing::from_hex;
using pg::testing::make_zip;
using pg::testing::put_le;
using pg::testing::write_temp;

std::string binunicode(const std::string& text) {
  std::string out = "X";
  put_le(out, text.size(), 4);
  return out + text;
}

std::string binput(uint32_t slot) {
  std::string out = "r";  // LONG_BINPUT
  put_le(out, slot, 4);
  return out;
}

std::string binget(uint32_t slot) {
  std::string out = "j";  // LONG_BINGET
  put_le(out, slot, 4);
  return out;
}

std::string as_archive(const std::string& pickle) { return make_zip({{"archive/data.pkl", pickle}}); }

TEST(HostilePickle, DeepNestingIsParsedAndFreedWithoutRecursion) {
  // 300,000 lists inside each other (CPython's own unpickler would need as deep a C stack to free
  // them); then the same depth of dicts and of tuples.
  constexpr int kDepth = 300000;
  std::string lists = "\x80\x02";
  lists += std::string(kDepth, ']') + std::string(kDepth - 1, 'a') + ".";
  const Pickle pickle = read_pickle(lists, "deep.pkl");
  EXPECT_TRUE(pickle.root().is(PickleValue::Kind::list));

  std::string dicts = "\x80\x02";
  for (int i = 0; i < kDepth; ++i) dicts += "}" + binunicode("k");
  dicts += "}" + std::string(kDepth, 's') + ".";
  const std::string path = write_temp("deep.pt", as_archive(dicts));
  const std::string message = error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find(path + ": module tree deeper than 64 levels"), std::string::npos) << message;

  std::string tuples = "\x80\x02" + std::string(kDepth, '(') + ")" + std::string(kDepth, 't') + ".";
  EXPECT_TRUE(read_pickle(tuples, "tuples.pkl").root().is(PickleValue::Kind::tuple));
}

TEST(HostilePickle, SharedDictsAreWalkedWithinABudget) {
  // d0 = {}; d_i = {'a': d_{i-1}, 'b': d_{i-1}}: 1.5 KB whose tree has 2^40 paths.
  constexpr int kDepth = 40;
  std::string pickle = "\x80\x02";
  std::string nested;
  for (int i = kDepth; i >= 1; --i) pickle += "}(" + binunicode("a");
  pickle += "}";
  for (int i = 1; i <= kDepth; ++i) {
    pickle += binput(static_cast<uint32_t>(i)) + binunicode("b") + binget(static_cast<uint32_t>(i)) + "u";
  }
  pickle += ".";
  EXPECT_LT(pickle.size(), 2000u);
  const std::string path = write_temp("dag.pt", as_archive(pickle));
  const auto start = std::chrono::steady_clock::now();
  const std::string message = error_message([&] { read_checkpoint(path); });
  EXPECT_NE(message.find("steps to walk"), std::string::npos) << message;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0);
}

TEST(HostilePickle, CyclesNeitherLoopNorLeak) {
  // l = []; l.append(l): a list that holds itself, and a dict whose BUILD state is itself.
  const std::string pickle = std::string("\x80\x02]") + binput(0) + binget(0) + "a.";
  const Pickle cyclic = read_pickle(pickle, "cycle.pkl");
  EXPECT_EQ(cyclic.root().items.at(0), &cyclic.root());
  const std::string module = std::string("\x80\x02}") + binput(0) + binunicode("self") + binget(0) + "s.";
  const std::string path = write_temp("cycle.pt", as_archive(module));
  EXPECT_NE(error_message([&] { read_checkpoint(path); }).find("module tree deeper than"), std::string::npos);
}

TEST(HostilePickle, ValueCountIsBounded) {
  std::string pickle = "\x80\x02]";
  pickle += std::string(kMaxPickleValues + 10, 'N');  // None, pushed over and over
  const std::string message = error_message([&] { read_pickle(pickle, "many.pkl"); });
  EXPECT_NE(message.find("more than 4000000 values"), std::string::npos) << message;
}

// The torch.save pickle of support/zip_writer.h with its size (2,) and stride (1,) replaced.
std::string archive_with_view(const std::string& size_tuple, const std::string& stride_tuple) {
  std::string pickle = from_hex(
      "80027d7100580100000077710163746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a7102282858070000"
      "0073746f72616765710363746f7263680a466c6f617453746f726167650a71045801000000307105580300000063707571064b0274"
      "7107514b004b02854b01858963636f6c6c656374696f6e730a4f726465726564446963740a29527452732e");
  const std::string original = from_hex("4b02854b0185");  // BININT1 2, TUPLE1, BININT1 1, TUPLE1
  pickle.replace(pickle.find(original), original.size(), size_tuple + stride_tuple);
  std::string storage;
  for (float value : {1.5f, -2.0f}) storage.append(reinterpret_cast<const char*>(&value), 4);
  return make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage}});
}

std::string long1_tuple(uint64_t value) {  // (value,) with LONG1, 8 bytes
  std::string out = "\x8a\x08";
  put_le(out, value, 8);
  return out + "\x85";
}

TEST(HostileTensor, StridesAndSizesThatOverflowOrRepeatAreRefused) {
  const std::string huge_stride = write_temp("stride.pt", archive_with_view(from_hex("4b0285"), long1_tuple(uint64_t{1} << 62)));
  std::string message = error_message([&] { read_checkpoint(huge_stride); });
  EXPECT_NE(message.find(huge_stride + ": tensor w (shape [2], strides [4611686018427387904]"), std::string::npos) << message;
  EXPECT_NE(message.find("reaches beyond the 2 elements of its storage"), std::string::npos) << message;

  const std::string repeated = write_temp("zero.pt", archive_with_view(long1_tuple(uint64_t{1} << 30), from_hex("4b0085")));
  message = error_message([&] { read_checkpoint(repeated); });
  EXPECT_NE(message.find("has 1073741824 elements but its storage only 2"), std::string::npos) << message;

  // size (2^35, 2^35): the element count overflows any 64-bit product of byte sizes.
  std::string square = long1_tuple(uint64_t{1} << 35);
  square.pop_back();  // drop TUPLE1
  square += long1_tuple(uint64_t{1} << 35);
  square.back() = '\x86';  // TUPLE2
  const std::string overflow = write_temp("overflow.pt", archive_with_view(square, from_hex("4b004b0086")));
  message = error_message([&] { read_checkpoint(overflow); });
  EXPECT_NE(message.find("more than 2^36 elements"), std::string::npos) << message;
}

std::string safetensors_file(const std::string& header, size_t data_bytes) {
  std::string file;
  put_le(file, header.size(), 8);
  return file + header + std::string(data_bytes, '\x01');
}

TEST(HostileSafetensors, OverlapsGapsAndTrailingBytesAreRefused) {
  const std::string overlap = write_temp("overlap.safetensors", safetensors_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  EXPECT_NE(error_message([&] { read_safetensors(overlap); }).find("(tensors overlap)"), std::string::npos);
  const std::string shared = write_temp("shared.safetensors", safetensors_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8));
  EXPECT_NE(error_message([&] { read_safetensors(shared); }).find("(tensors overlap)"), std::string::npos);
  const std::string trailing = write_temp("trailing.safetensors", safetensors_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 9));
  EXPECT_NE(error_message([&] { read_safetensors(trailing); }).find("the tensors cover 8 data bytes but the file has 9"),
            std::string::npos);
}

TEST(HostileSafetensors, DuplicateKeysAreRefused) {
  const std::string twice = write_temp("twice.safetensors", safetensors_file(
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  EXPECT_NE(error_message([&] { read_safetensors(twice); }).find(twice + ": safetensors header names 'w' twice"),
            std::string::npos);
  const std::string inner = write_temp("inner.safetensors", safetensors_file(
      R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", 4));
  EXPECT_NE(error_message([&] { read_safetensors(inner); }).find("names 'dtype' twice"), std::string::npos);
}

TEST(HostileSafetensors, AHeaderLengthOffByOneIsAnError) {
  // A valid file whose header is padded with spaces, so that one byte more still parses as JSON:
  // the shifted data must not be read as weights.
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}      )";
  std::string good = safetensors_file(header, 0);
  for (float value : {1.0f, 2.0f}) good.append(reinterpret_cast<const char*>(&value), 4);
  EXPECT_NO_THROW(read_safetensors(write_temp("good.safetensors", good)));
  for (const int delta : {-1, +1, +2}) {
    std::string shifted = good;
    const uint64_t length = header.size() + static_cast<uint64_t>(delta);
    for (int i = 0; i < 8; ++i) shifted[static_cast<size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
    if (delta > 0) shifted.replace(8 + header.size(), static_cast<size_t>(delta), std::string(static_cast<size_t>(delta), ' '));
    const std::string path = write_temp("shifted.safetensors", shifted);
    const std::string message = error_message([&] { read_safetensors(path); });
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << delta << ": " << message;
  }
}

}  // namespace
}  // namespace pg::checkpoint
