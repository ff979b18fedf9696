#include "result_json.hpp"

#include <gtest/gtest.h>

namespace database {
namespace {

TEST(NumericFitsDouble, ExactDecimalsAreNumbersOthersStrings) {
  EXPECT_TRUE(numeric_fits_double("1.5"));
  EXPECT_TRUE(numeric_fits_double("1.50"));
  EXPECT_TRUE(numeric_fits_double("0.1"));
  EXPECT_TRUE(numeric_fits_double("-12345.25"));
  EXPECT_TRUE(numeric_fits_double("100000000000000000000"));
  EXPECT_TRUE(numeric_fits_double("0"));
  EXPECT_TRUE(numeric_fits_double("0.000"));
  EXPECT_FALSE(numeric_fits_double("9007199254740993"));
  EXPECT_FALSE(numeric_fits_double("123456789012345678901234567890.123456789"));
  EXPECT_FALSE(numeric_fits_double("0.1000000000000000055511151231257827"));
  EXPECT_FALSE(numeric_fits_double("NaN"));
  EXPECT_FALSE(numeric_fits_double(""));
}

TEST(IsoTimestamp, FromPostgresIsoStyle) {
  EXPECT_EQ(iso_timestamp("2026-01-02 03:04:05.123456+00", true),
            "2026-01-02T03:04:05.123456+00:00");
  EXPECT_EQ(iso_timestamp("2026-01-02 03:04:05+05:30", true), "2026-01-01T21:34:05+00:00");
  EXPECT_EQ(iso_timestamp("2026-01-02 23:04:05.5-08", true), "2026-01-03T07:04:05.5+00:00");
  EXPECT_EQ(iso_timestamp("2024-03-01 00:30:00+09", true), "2024-02-29T15:30:00+00:00");
  EXPECT_EQ(iso_timestamp("2026-01-02 03:04:05.5", false), "2026-01-02T03:04:05.5");
  EXPECT_EQ(iso_timestamp("infinity", true), "infinity");
  EXPECT_EQ(iso_timestamp("0044-03-15 12:00:00+00 BC", true), "0044-03-15 12:00:00+00 BC");
}

TEST(SplitJsonArray, TopLevelElementsOnly) {
  auto parts = split_json_array(R"([1, "a,]b", [2, 3], {"k": [4]}, null, "q\"x"])");
  ASSERT_EQ(parts.size(), 6u);
  EXPECT_EQ(parts[0], "1");
  EXPECT_EQ(parts[1], R"("a,]b")");
  EXPECT_EQ(parts[2], "[2, 3]");
  EXPECT_EQ(parts[3], R"({"k": [4]})");
  EXPECT_EQ(parts[4], "null");
  EXPECT_EQ(parts[5], R"("q\"x")");
  EXPECT_TRUE(split_json_array("[]").empty());
}

}  // namespace
}  // namespace database
