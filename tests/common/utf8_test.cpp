#include "common/utf8.h"

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace pg {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  for (const std::string text : {"", "dog", "Ünïcödé", "日本語", "\xF0\x9F\x90\xB6", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_TRUE(is_valid_utf8(text)) << text;
  }
}

TEST(Utf8, RefusesWhatStrictDecodersRefuse) {
  // Lone continuation, truncated sequence, overlong '/', UTF-16 surrogate, above U+10FFFF, 0xFF.
  for (const std::string text : {"\x80", "a\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ok\xFF"}) {
    EXPECT_FALSE(is_valid_utf8(text)) << printable(text);
  }
}

TEST(Utf8, MessagesNameTheByteAndShowTheTextEscaped) {
  const std::string message = testing::error_message([] { require_utf8("ab\xFFz", "--ctx-init", "use UTF-8"); });
  EXPECT_NE(message.find("--ctx-init is not valid UTF-8 (byte 0xff at offset 2 of \"ab\\xffz\"); use UTF-8"),
            std::string::npos)
      << message;
  EXPECT_EQ(printable("tab\there\x01"), "tab\\x09here\\x01");
}

}  // namespace
}  // namespace pg
