#include "common/strings.h"

#include <gtest/gtest.h>

namespace pg {
namespace {

TEST(Strings, FormatShapeWritesBracketedList) {
  EXPECT_EQ(format_shape({10, 768}), "[10, 768]");
  EXPECT_EQ(format_shape({}), "[]");
}

TEST(Strings, SplitKeepsEmptyFields) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
}

TEST(Strings, FormatNumberWritesTheShortestNaturalForm) {
  EXPECT_EQ(format_number(0.002), "0.002");
  EXPECT_EQ(format_number(1e-5), "1e-05");
  EXPECT_EQ(format_number(32), "32");
}

TEST(Strings, TrimRemovesSurroundingWhitespace) { EXPECT_EQ(trim("  a b \n"), "a b"); }

}  // namespace
}  // namespace pg
