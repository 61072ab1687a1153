#include <gtest/gtest.h>

#include <sstream>

#include "sim/base/text.hpp"
#include "sim/report/table.hpp"

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

// Text tables print what a terminal can show: invalid UTF-8 as U+FFFD, control characters (an
// escape sequence in a name) as '?', and columns aligned by code points, not bytes.
TEST(Table, TextCellsArePrintableAndAligned) {
  qaccel::Table t;
  t.add_column("name");
  t.add_column("n", true);
  t.add_row({"caf\xC3\xA9", "1"});      // valid: 4 code points, 5 bytes
  t.add_row({"a\xFF\x1B[31mb", "22"});  // an invalid byte and ESC
  std::ostringstream os;
  t.render(os, qaccel::TableFormat::table);
  EXPECT_EQ(os.str(),
            "name       n\n"  // the widest name, a\uFFFD?[31mb, is 8 code points
            "--------  --\n"
            "caf\xC3\xA9       1\n"
            "a\xEF\xBF\xBD?[31mb  22\n");
  std::ostringstream csv;
  t.render(csv, qaccel::TableFormat::csv);
  EXPECT_EQ(csv.str().find('\xFF'), std::string::npos);
}
