// The query parameter readers of dcgan serve (src/serve/query.hpp): what each accepts, and that
// everything else is refused with a 4xx naming the parameter. The e2e tests (test_serve_api) cover
// the same through HTTP; these pin the edge cases of the number formats.
#include <gtest/gtest.h>

#include <string>

#include "serve/query.hpp"

namespace dcgan::serve {
namespace {

// The status of reading `value` as parameter "x" with `read`, 0 when accepted.
template <class F>
int status_of(const std::string& value, F read) {
  const Params p = {{"x", value}};
  try {
    read(Query(p));
    return 0;
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("x"), std::string::npos) << "the message names the parameter: " << e.what();
    return e.status();
  }
}

TEST(ServeQuery, Seeds) {
  auto seed = [](const Query& q) { return q.seed("x"); };
  for (const char* ok : {"0", "1", "007", "9007199254740991"}) EXPECT_EQ(status_of(ok, seed), 0) << ok;
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "9007199254740992",
                          "18446744073709551616", "99999999999999999999999", "../1", "1/2"})
    EXPECT_EQ(status_of(bad, seed), 400) << bad;
  const Params p = {{"x", "42"}};
  EXPECT_EQ(Query(p).seed("x"), 42u);
  EXPECT_EQ(Query(p).seed("y", 7), 7u) << "absent: the fallback";
  EXPECT_THROW(Query(p).seed("y"), BadRequest) << "absent without a fallback";
}

TEST(ServeQuery, SeedLists) {
  auto three = [](const Query& q) { return q.seeds("x", 3); };
  EXPECT_EQ(status_of("1,2,3", three), 0);
  EXPECT_EQ(status_of("5", three), 0);
  for (const char* bad : {"", ",", "1,", ",1", "1,,2", "1, 2", "a,b"}) EXPECT_EQ(status_of(bad, three), 400) << bad;
  EXPECT_EQ(status_of("1,2,3,4", three), 413) << "more than the bound";
  const Params p = {{"x", "4,0,4"}};
  EXPECT_EQ(Query(p).seeds("x", 3), (std::vector<uint64_t>{4, 0, 4}));
}

TEST(ServeQuery, IntegersAndNumbers) {
  auto steps = [](const Query& q) { return q.integer("x", 2, 32); };
  for (const char* ok : {"2", "32", "08"}) EXPECT_EQ(status_of(ok, steps), 0) << ok;
  for (const char* bad : {"1", "33", "-8", "+8", "8.0", "1e1", "", " 8", "9223372036854775808"})
    EXPECT_EQ(status_of(bad, steps), 400) << bad;
  auto value = [](const Query& q) { return q.number("x", -10, 10); };
  for (const char* ok : {"0", "-0", "1.5", ".5", "-10", "1e1", "2E-3"}) EXPECT_EQ(status_of(ok, value), 0) << ok;
  for (const char* bad : {"", "nan", "inf", "-inf", "0x1", "1e400", "10.001", "1,5", " 1", "1 ", "--1", "e"})
    EXPECT_EQ(status_of(bad, value), 400) << bad;
}

TEST(ServeQuery, NamesAndChoices) {
  const Params p = {{"a", "1"}, {"b", "2"}};
  EXPECT_NO_THROW(Query(p).check_names({"a", "b", "c"}));
  EXPECT_THROW(Query(p).check_names({"a"}), BadRequest) << "b is not taken";
  const Params twice = {{"a", "1"}, {"a", "2"}};
  EXPECT_THROW(Query(twice).check_names({"a"}), BadRequest);
  auto method = [](const Query& q) { return q.choice("x", {"slerp", "linear"}, "slerp"); };
  EXPECT_EQ(status_of("linear", method), 0);
  EXPECT_EQ(status_of("SLERP", method), 400);
  EXPECT_EQ(Query(Params{}).choice("x", {"slerp", "linear"}, "slerp"), "slerp");
}

}  // namespace
}  // namespace dcgan::serve
