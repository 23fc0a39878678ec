// The restricted unpickler: the value tree of real pickles, refusal of code and malformed streams, and
// pickles crafted to exhaust the stack, memory or time.
#include "worker/checkpoint/pickle_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "checkpoint/checkpoint_test_support.h"
#include "support/test_data.h"

namespace pg::checkpoint {
namespace {

using pg::testing::from_hex;

TEST(Pickle, BuildsTheValueTreeOfProtocol3) {
  // pickle.dumps({'a': [1, 2.5, None, True, l], 'b': (b'xy', 'z', -3, 2**40, -2**40, False, 70000, l)},
  // protocol=3) with l = [7], from CPython 3.11.
  const std::string bytes = from_hex(
      "80037d71002858010000006171015d7102284b014740040000000000004e885d71034b07616558010000006271042843027879710558"
      "010000007a71064afdffffff8a060000000000018a060000000000ff894a701101006803747107752e");
  const Pickle pickle = read_pickle(bytes, "test");
  const PickleValue* root = &pickle.root();
  using Kind = PickleValue::Kind;
  ASSERT_TRUE(root->is(Kind::dict));
  ASSERT_EQ(root->entries.size(), 2u);
  EXPECT_EQ(root->entries[0].first->text, "a");
  const auto& list = root->entries[0].second->items;
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[0]->integer, 1);
  EXPECT_EQ(list[1]->floating, 2.5);
  EXPECT_TRUE(list[2]->is(Kind::none));
  EXPECT_TRUE(list[3]->boolean);
  ASSERT_TRUE(list[4]->is(Kind::list));
  EXPECT_EQ(list[4]->items.at(0)->integer, 7);
  const auto& tuple = root->entries[1].second->items;
  ASSERT_EQ(tuple.size(), 8u);
  EXPECT_TRUE(tuple[0]->is(Kind::bytes));
  EXPECT_EQ(tuple[0]->text, "xy");
  EXPECT_EQ(tuple[1]->text, "z");
  EXPECT_EQ(tuple[2]->integer, -3);
  EXPECT_EQ(tuple[3]->integer, int64_t{1} << 40);
  EXPECT_EQ(tuple[4]->integer, -(int64_t{1} << 40));
  EXPECT_FALSE(tuple[5]->boolean);
  EXPECT_EQ(tuple[6]->integer, 70000);
  EXPECT_EQ(tuple[7], list[4]);  // BINGET returns the memoized object itself
}

TEST(Pickle, ReadsProtocol4FramesStackGlobalAndMemoize) {
  // pickle.dumps(OrderedDict([('k', 300), ('m', (1, 2, 3, 4))]), protocol=4)
  const std::string bytes = from_hex(
      "8004953a000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016b944d2c018c016d"
      "94284b014b024b034b047494752e");
  const Pickle pickle = read_pickle(bytes, "test");
  const PickleValue* root = &pickle.root();
  ASSERT_TRUE(root->is(PickleValue::Kind::dict));
  ASSERT_EQ(root->entries.size(), 2u);
  EXPECT_EQ(root->entries[0].first->text, "k");
  EXPECT_EQ(root->entries[0].second->integer, 300);
  EXPECT_EQ(root->entries[1].second->items.size(), 4u);
  EXPECT_EQ(root->entries[1].second->items[3]->integer, 4);
}

TEST(Pickle, RefusesUnknownOpcodesAndTruncation) {
  // INST ('i'), a protocol-0 opcode that can call anything.
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02i", 3) + "os\nsystem\n.", "f.pt: a/data.pkl"); })
                .find("f.pt: a/data.pkl: unsupported pickle opcode 0x69 ('i') at byte 2"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02X\x10\x00\x00\x00" "abc", 9), "f.pt: a/data.pkl"); })
                .find("f.pt: a/data.pkl: pickle ends early"),
            std::string::npos);
  EXPECT_NE(pg::testing::error_message([] { read_pickle(std::string("\x80\x02t.", 4), "src"); }).find("src: malformed pickle"),
            std::string::npos);
}

TEST(Pickle, TorchScriptTypedListHelpersStayInertObjects) {
  // PROTO 2, GLOBAL 'torch.jit._pickle build_intlist', EMPTY_LIST, BININT1 1, APPEND, TUPLE1, REDUCE, STOP:
  // how TorchScript pickles an int-list attribute; read as an object, nothing is called.
  const std::string bytes = std::string("\x80\x02" "ctorch.jit._pickle\nbuild_intlist\n" "]K\x01" "a\x85R.", 42);
  const Pickle pickle = read_pickle(bytes, "test");
  const PickleValue* root = &pickle.root();
  EXPECT_TRUE(root->is_object_of("torch.jit._pickle.build_intlist"));
}

}  // namespace
}  // namespace pg::checkpoint
