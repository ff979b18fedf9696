// PostgREST's query grammar: parsing into grammar::ReadQuery and the SQL built from it. The
// quoting callbacks below follow libpq's rules for plain ASCII (double the quote, wrap).
#include <gtest/gtest.h>

#include "grammar/parser.hpp"
#include "grammar/sql_builder.hpp"

namespace database::grammar {
namespace {

std::string quote(const std::string& s, char q) {
  std::string out(1, q);
  for (char c : s) {
    if (c == q) out += q;
    out += c;
  }
  out += q;
  return out;
}

SqlBuilder builder() {
  return SqlBuilder([](const std::string& s) { return quote(s, '"'); },
                    [](const std::string& s) { return quote(s, '\''); },
                    [](const std::string& col) { return col == "doc" ? "tsvector" : "text"; });
}

ReadQuery read(const std::string& qs) {
  return parse_read_query(split_query_string(qs), {"schema"});
}

// The WHERE text and its parameters for a query string.
std::pair<std::string, std::vector<std::optional<std::string>>> where(const std::string& qs) {
  SqlParams p;
  std::string sql = builder().conditions(read(qs).root().where, "r", p);
  return {sql, p.values};
}

using Values = std::vector<std::optional<std::string>>;

TEST(QueryString, DecodesPercentAndPlusInOrder) {
  auto pairs = split_query_string("a=1&b=x%20y+z&&c&a=%2C");
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(pairs[1].second, "x y z");
  EXPECT_EQ(pairs[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(pairs[3].second, ",");
  EXPECT_THROW(split_query_string("a=%2"), ParseError);
  EXPECT_THROW(split_query_string("a=%zz"), ParseError);
  EXPECT_THROW(split_query_string("a=%00"), ParseError);
}

TEST(Select, ColumnsAliasesCastsJsonPathsAndEmbeds) {
  auto items =
      parse_select("id, nm:name,data->a->>b::int,*,alias:rel!fk_x!inner(a,sub(*)),...o(c)");
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].field.name, "id");
  EXPECT_EQ(items[1].alias, "nm");
  EXPECT_EQ(items[1].field.name, "name");
  EXPECT_EQ(items[2].field.name, "data");
  ASSERT_EQ(items[2].field.path.size(), 2u);
  EXPECT_FALSE(items[2].field.path[0].as_text);
  EXPECT_TRUE(items[2].field.path[1].as_text);
  EXPECT_EQ(items[2].field.output_name(), "b");
  EXPECT_EQ(items[2].cast, "int");
  EXPECT_EQ(items[3].kind, SelectItem::Kind::Star);
  EXPECT_EQ(items[4].kind, SelectItem::Kind::Embed);
  EXPECT_EQ(items[4].alias, "alias");
  EXPECT_EQ(items[4].relation, "rel");
  EXPECT_EQ(items[4].hint, "fk_x");
  EXPECT_TRUE(items[4].inner);
  ASSERT_EQ(items[4].children.size(), 2u);
  EXPECT_EQ(items[4].children[1].relation, "sub");
  EXPECT_TRUE(items[5].spread);
}

TEST(Select, QuotedNamesAndRefusals) {
  auto items = parse_select("\"a,b\",\"we\\\"ird\"");
  EXPECT_EQ(items.at(0).field.name, "a,b");
  EXPECT_EQ(items.at(1).field.name, "we\"ird");
  EXPECT_THROW(parse_select("id::text;drop table x"), ParseError);
  EXPECT_THROW(parse_select("id::"), ParseError);
  EXPECT_THROW(parse_select("rel(a"), ParseError);
  EXPECT_THROW(parse_select("a,,b"), ParseError);
  EXPECT_THROW(parse_select("...plain"), ParseError);
  EXPECT_THROW(parse_select("\"open"), ParseError);
}

TEST(Filters, OperatorsNegationModifiersAndLists) {
  auto q = read(
      "id=not.eq.5&name=like(any).{a*,\"b,c\"}&tags=in.(1,\"2,3\",)&t=fts(english).cat"
      "&x=is.null&data->k->>v=eq.dotted.value");
  auto& w = q.root().where;
  ASSERT_EQ(w.size(), 6u);
  const auto& f0 = std::get<Filter>(w[0]);
  EXPECT_TRUE(f0.negated);
  EXPECT_EQ(f0.op, "eq");
  EXPECT_EQ(f0.value, "5");
  const auto& f1 = std::get<Filter>(w[1]);
  EXPECT_EQ(f1.quantifier, "any");
  EXPECT_EQ(f1.list, (std::vector<std::string>{"a*", "b,c"}));
  EXPECT_EQ(std::get<Filter>(w[2]).list, (std::vector<std::string>{"1", "2,3", ""}));
  EXPECT_EQ(std::get<Filter>(w[3]).language, "english");
  EXPECT_EQ(std::get<Filter>(w[4]).value, "null");
  const auto& f5 = std::get<Filter>(w[5]);
  EXPECT_EQ(f5.field.name, "data");
  EXPECT_EQ(f5.field.path.size(), 2u);
  EXPECT_EQ(f5.value, "dotted.value");
}

TEST(Filters, MalformedOnesNameTheProblem) {
  EXPECT_THROW(read("id=eq"), ParseError);
  EXPECT_THROW(read("id=5"), ParseError);
  EXPECT_THROW(read("id=xx.1"), ParseError);
  EXPECT_THROW(read("id=is.maybe"), ParseError);
  EXPECT_THROW(read("id=in.1,2"), ParseError);
  EXPECT_THROW(read("id=in.(1,2"), ParseError);
  EXPECT_THROW(read("id=eq(some).{1}"), ParseError);
  EXPECT_THROW(read("id=cs(any).{1}"), ParseError);
  try {
    read("id=bogus.1");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
  }
  try {
    read("or=(a.eq.1,b.eq.2");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_NE(e.detail.find("(a.eq.1,b.eq.2"), std::string::npos) << e.detail;
  }
}

TEST(LogicTrees, NestedNegatedAndQuoted) {
  auto q = read("or=(a.eq.1,not.and(b.gt.2,c.in.(x,y)),d.eq.\"x,y)\")&not.and=(e.is.true)");
  auto& w = q.root().where;
  ASSERT_EQ(w.size(), 2u);
  const auto& t = std::get<LogicTree>(w[0]);
  EXPECT_TRUE(t.is_or);
  ASSERT_EQ(t.children.size(), 3u);
  const auto& inner = std::get<LogicTree>(t.children[1]);
  EXPECT_TRUE(inner.negated);
  EXPECT_FALSE(inner.is_or);
  EXPECT_EQ(std::get<Filter>(inner.children[1]).list, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(std::get<Filter>(t.children[2]).value, "x,y)");
  const auto& t2 = std::get<LogicTree>(w[1]);
  EXPECT_TRUE(t2.negated);
  EXPECT_FALSE(t2.is_or);
  EXPECT_THROW(read("or=a.eq.1"), ParseError);
  EXPECT_THROW(read("or=(a.eq.1))"), ParseError);
  EXPECT_THROW(read("and=()"), ParseError);
}

TEST(LogicTrees, NestingIsBounded) {
  std::string deep = "or=";
  for (int i = 0; i < 100; ++i) deep += "(a.eq.1,or";
  deep += "(a.eq.1)";
  for (int i = 0; i < 100; ++i) deep += ")";
  EXPECT_THROW(read(deep), ParseError);
  std::string ok = "or=(a.eq.1,or(a.eq.2,or(a.eq.3)))";
  EXPECT_NO_THROW(read(ok));
  std::string select = "select=";
  for (int i = 0; i < 100; ++i) select += "r(";
  select += "*";
  for (int i = 0; i < 100; ++i) select += ")";
  EXPECT_THROW(read(select), ParseError);
}

TEST(OrderAndPaging, TermsDirectionsNullsAndLimits) {
  auto q = read("order=a.desc.nullslast,b,c->>k.asc,rel(d).desc&limit=10&offset=0");
  auto& o = q.root().order;
  ASSERT_EQ(o.size(), 4u);
  EXPECT_TRUE(o[0].desc);
  EXPECT_EQ(o[0].nulls_first, std::optional<bool>(false));
  EXPECT_FALSE(o[1].desc);
  EXPECT_FALSE(o[1].nulls_first.has_value());
  EXPECT_EQ(o[2].field.path.size(), 1u);
  EXPECT_EQ(o[3].relation, "rel");
  EXPECT_EQ(q.root().limit, std::optional<int64_t>(10));
  EXPECT_EQ(q.root().offset, std::optional<int64_t>(0));
  EXPECT_THROW(read("order=a.up"), ParseError);
  EXPECT_THROW(read("order=a.desc.nullsmaybe"), ParseError);
  EXPECT_THROW(read("limit=-1"), ParseError);
  EXPECT_THROW(read("limit=1e3"), ParseError);
  EXPECT_THROW(read("offset="), ParseError);
  EXPECT_THROW(read("limit=99999999999999999999"), ParseError);
}

TEST(Resources, EmbeddedKeysAndReservedNames) {
  auto q = read("schema=s&rel.sub.col=eq.1&rel.order=x.desc&rel.limit=3&rel.not.or=(a.eq.1)");
  ASSERT_EQ(q.other.size(), 1u);
  EXPECT_EQ(q.other[0].second, "s");
  ASSERT_EQ(q.resources.size(), 3u);
  EXPECT_EQ(q.resources[1].path, (std::vector<std::string>{"rel", "sub"}));
  EXPECT_EQ(q.resources[2].path, (std::vector<std::string>{"rel"}));
  EXPECT_EQ(q.resources[2].limit, std::optional<int64_t>(3));
  EXPECT_EQ(q.resources[2].where.size(), 1u);
  EXPECT_TRUE(std::get<LogicTree>(q.resources[2].where[0]).negated);
  EXPECT_THROW(read(".col=eq.1"), ParseError);
  EXPECT_THROW(read("select=a&select=b"), ParseError);
}

TEST(SqlBuilder, EveryValueIsAParameterEveryNameQuoted) {
  auto [sql, params] = where("name=eq.x';drop table t;--&id=in.(1,2)&\"we\\\"ird\"=is.null");
  EXPECT_EQ(sql, "(r.\"name\" = $1) AND (r.\"id\" IN ($2, $3)) AND (r.\"we\"\"ird\" IS NULL)");
  EXPECT_EQ(params, (Values{"x';drop table t;--", "1", "2"}));
}

TEST(SqlBuilder, OperatorsMapToPostgres) {
  EXPECT_EQ(where("a=neq.1").first, "(r.\"a\" <> $1)");
  EXPECT_EQ(where("a=not.like.*x*").second, (Values{"%x%"}));
  EXPECT_EQ(where("a=not.like.*x*").first, "(NOT (r.\"a\" LIKE $1))");
  EXPECT_EQ(where("a=imatch.^x").first, "(r.\"a\" ~* $1)");
  EXPECT_EQ(where("a=isdistinct.1").first, "(r.\"a\" IS DISTINCT FROM $1)");
  EXPECT_EQ(where("a=cs.{1}").first, "(r.\"a\" @> $1)");
  EXPECT_EQ(where("a=adj.[1,2)").first, "(r.\"a\" -|- $1)");
  EXPECT_EQ(where("a=nxr.[1,2)").first, "(r.\"a\" &< $1)");  // not extending right
  EXPECT_EQ(where("a=nxl.[1,2)").first, "(r.\"a\" &> $1)");
  EXPECT_EQ(where("a=in.()").first, "(FALSE)");
  EXPECT_EQ(where("a=is.not_null").first, "(r.\"a\" IS NOT NULL)");
  EXPECT_EQ(where("a=gt(all).{1,2}").first, "((r.\"a\" > $1 AND r.\"a\" > $2))");
  EXPECT_EQ(where("a=ilike(any).{x*,y}").second, (Values{"x%", "y"}));
  EXPECT_EQ(where("j->x->>'y=eq.1").first, "(r.\"j\"->'x'->>'''y' = $1)");
  EXPECT_EQ(where("j->0->>1=eq.1").first, "(r.\"j\"->0->>1 = $1)");
  EXPECT_EQ(where("or=(a.eq.1,not.and(b.eq.2,c.eq.3))").first,
            "((r.\"a\" = $1 OR NOT (r.\"b\" = $2 AND r.\"c\" = $3)))");
}

TEST(SqlBuilder, FullTextSearchOnTextAndTsvector) {
  EXPECT_EQ(where("doc=fts.cat").first, "(r.\"doc\" @@ to_tsquery($1))");
  auto [sql, params] = where("body=wfts(english).fat cat");
  EXPECT_EQ(
      sql,
      "(to_tsvector($1::regconfig, (r.\"body\")::text) @@ websearch_to_tsquery($1::regconfig, "
      "$2))");
  EXPECT_EQ(params, (Values{"english", "fat cat"}));
}

TEST(SqlBuilder, SelectListAndOrder) {
  auto b = builder();
  EXPECT_EQ(b.select_list({}, "r"), "r.*");
  EXPECT_EQ(b.select_list(parse_select("id::text,n:name,data->>k"), "r"),
            "(r.\"id\")::text AS \"id\", r.\"name\" AS \"n\", r.\"data\"->>'k' AS \"k\"");
  EXPECT_EQ(b.order_by(parse_order("a.desc.nullsfirst,b"), "r"),
            "r.\"a\" DESC NULLS FIRST, r.\"b\" ASC");
}

}  // namespace
}  // namespace database::grammar
