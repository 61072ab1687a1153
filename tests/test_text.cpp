#include <gtest/gtest.h>

#include "sim/base/text.hpp"

using namespace qaccel;

TEST(Text, EditDistance) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("n_kv_heads", "n_kv_heads"), 0u);
}

TEST(Text, NearestSuggestsOnlyPlausibleTypos) {
  std::vector<std::string> keys = {"n_heads", "n_kv_heads", "hidden_dim"};
  EXPECT_EQ(nearest("n_kv_head", keys), "n_kv_heads");
  EXPECT_EQ(nearest("hiden_dim", keys), "hidden_dim");
  EXPECT_EQ(nearest("completely_different", keys), "");
}

TEST(Text, StrictNumbers) {
  long long v = 0;
  EXPECT_TRUE(parse_int64("128", v));
  EXPECT_EQ(v, 128);
  EXPECT_TRUE(parse_int64("-3", v));
  EXPECT_FALSE(parse_int64("12abc", v));
  EXPECT_FALSE(parse_int64("1e3", v));
  EXPECT_FALSE(parse_int64("", v));
  EXPECT_FALSE(parse_int64("99999999999999999999", v));
  double d = 0;
  EXPECT_TRUE(parse_double("1e-5", d));
  EXPECT_DOUBLE_EQ(d, 1e-5);
  EXPECT_FALSE(parse_double("nan", d));
  EXPECT_FALSE(parse_double("1.0x", d));
}

TEST(Text, SplitWords) {
  EXPECT_EQ(split_words(" 1, 2\t3 ,4 "), (std::vector<std::string>{"1", "2", "3", "4"}));
}
