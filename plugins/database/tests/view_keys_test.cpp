// Foreign keys through views, from query trees Postgres 15 stored for these views:
//   posts(id, title, author_id → users.id)                       oid 16391, users oid 16384
//   post_titles = select id, title, author_id from posts          oid 16403
//   v2 = select p.title as t, p.author_id as a, (select 1) as x from post_titles p   oid 16407
//   "we ird" = select id as "a (b)", author_id, title || 'x' as t from posts
#include "rest/view_keys.hpp"

#include <gtest/gtest.h>

namespace database::rest {
namespace {

const char* kPostTitles =
    R"tree(({QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <> :resultRelation 0 :hasAggs false :hasWindowFuncs false :hasTargetSRFs false :hasSubLinks false :hasDistinctOn false :hasRecursive false :hasModifyingCTE false :hasForUpdate false :hasRowSecurity false :isReturn false :cteList <> :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname old :colnames <>} :eref {ALIAS :aliasname old :colnames ("id" "title" "author_id")} :rtekind 0 :relid 16403 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias {ALIAS :aliasname new :colnames <>} :eref {ALIAS :aliasname new :colnames ("id" "title" "author_id")} :rtekind 0 :relid 16403 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias <> :eref {ALIAS :aliasname posts :colnames ("id" "title" "author_id")} :rtekind 0 :relid 16391 :relkind r :rellockmode 1 :tablesample <> :lateral false :inh true :inFromCl true :requiredPerms 2 :checkAsUser 0 :selectedCols (b 8 9 10) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>}) :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 3}) :quals <>} :targetList ({TARGETENTRY :expr {VAR :varno 3 :varattno 1 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 3 :varattnosyn 1 :location 169} :resno 1 :resname id :ressortgroupref 0 :resorigtbl 16391 :resorigcol 1 :resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 2 :vartype 25 :vartypmod -1 :varcollid 100 :varlevelsup 0 :varnosyn 3 :varattnosyn 2 :location 173} :resno 2 :resname title :ressortgroupref 0 :resorigtbl 16391 :resorigcol 2 :resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 3 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 3 :varattnosyn 3 :location 180} :resno 3 :resname author_id :ressortgroupref 0 :resorigtbl 16391 :resorigcol 3 :resjunk false}) :override 0 :onConflict <> :returningList <> :groupClause <> :groupDistinct false :groupingSets <> :havingQual <> :windowClause <> :distinctClause <> :sortClause <> :limitOffset <> :limitCount <> :limitOption 0 :rowMarks <> :setOperations <> :constraintDeps <> :withCheckOptions <> :mergeActionList <> :mergeUseOuterJoin false :stmt_location 134 :stmt_len 66}))tree";
const char* kV2 =
    R"tree(({QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <> :resultRelation 0 :hasAggs false :hasWindowFuncs false :hasTargetSRFs false :hasSubLinks true :hasDistinctOn false :hasRecursive false :hasModifyingCTE false :hasForUpdate false :hasRowSecurity false :isReturn false :cteList <> :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname old :colnames <>} :eref {ALIAS :aliasname old :colnames ("t" "a" "x")} :rtekind 0 :relid 16407 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias {ALIAS :aliasname new :colnames <>} :eref {ALIAS :aliasname new :colnames ("t" "a" "x")} :rtekind 0 :relid 16407 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias {ALIAS :aliasname p :colnames <>} :eref {ALIAS :aliasname p :colnames ("id" "title" "author_id")} :rtekind 0 :relid 16403 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh true :inFromCl true :requiredPerms 2 :checkAsUser 0 :selectedCols (b 9 10) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>}) :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 3}) :quals <>} :targetList ({TARGETENTRY :expr {VAR :varno 3 :varattno 2 :vartype 25 :vartypmod -1 :varcollid 100 :varlevelsup 0 :varnosyn 3 :varattnosyn 2 :location 227} :resno 1 :resname t :ressortgroupref 0 :resorigtbl 16403 :resorigcol 2 :resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 3 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 3 :varattnosyn 3 :location 241} :resno 2 :resname a :ressortgroupref 0 :resorigtbl 16403 :resorigcol 3 :resjunk false} {TARGETENTRY :expr {SUBLINK :subLinkType 4 :subLinkId 0 :testexpr <> :operName <> :subselect {QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <> :resultRelation 0 :hasAggs false :hasWindowFuncs false :hasTargetSRFs false :hasSubLinks false :hasDistinctOn false :hasRecursive false :hasModifyingCTE false :hasForUpdate false :hasRowSecurity false :isReturn false :cteList <> :rtable <> :jointree {FROMEXPR :fromlist <> :quals <>} :targetList ({TARGETENTRY :expr {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location 267 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]} :resno 1 :resname ?column? :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :override 0 :onConflict <> :returningList <> :groupClause <> :groupDistinct false :groupingSets <> :havingQual <> :windowClause <> :distinctClause <> :sortClause <> :limitOffset <> :limitCount <> :limitOption 0 :rowMarks <> :setOperations <> :constraintDeps <> :withCheckOptions <> :mergeActionList <> :mergeUseOuterJoin false :stmt_location 0 :stmt_len 0} :location 259} :resno 3 :resname x :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :override 0 :onConflict <> :returningList <> :groupClause <> :groupDistinct false :groupingSets <> :havingQual <> :windowClause <> :distinctClause <> :sortClause <> :limitOffset <> :limitCount <> :limitOption 0 :rowMarks <> :setOperations <> :constraintDeps <> :withCheckOptions <> :mergeActionList <> :mergeUseOuterJoin false :stmt_location 201 :stmt_len 92}))tree";
const char* kWeird =
    R"tree(({QUERY :commandType 1 :querySource 0 :canSetTag true :utilityStmt <> :resultRelation 0 :hasAggs false :hasWindowFuncs false :hasTargetSRFs false :hasSubLinks false :hasDistinctOn false :hasRecursive false :hasModifyingCTE false :hasForUpdate false :hasRowSecurity false :isReturn false :cteList <> :rtable ({RANGETBLENTRY :alias {ALIAS :aliasname old :colnames <>} :eref {ALIAS :aliasname old :colnames ("a\ \(b\)" "author_id" "t")} :rtekind 0 :relid 16411 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias {ALIAS :aliasname new :colnames <>} :eref {ALIAS :aliasname new :colnames ("a\ \(b\)" "author_id" "t")} :rtekind 0 :relid 16411 :relkind v :rellockmode 1 :tablesample <> :lateral false :inh false :inFromCl false :requiredPerms 0 :checkAsUser 0 :selectedCols (b) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>} {RANGETBLENTRY :alias <> :eref {ALIAS :aliasname posts :colnames ("id" "title" "author_id")} :rtekind 0 :relid 16391 :relkind r :rellockmode 1 :tablesample <> :lateral false :inh true :inFromCl true :requiredPerms 2 :checkAsUser 0 :selectedCols (b 8 9 10) :insertedCols (b) :updatedCols (b) :extraUpdatedCols (b) :securityQuals <>}) :jointree {FROMEXPR :fromlist ({RANGETBLREF :rtindex 3}) :quals <>} :targetList ({TARGETENTRY :expr {VAR :varno 3 :varattno 1 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 3 :varattnosyn 1 :location 31} :resno 1 :resname a\ \(b\) :ressortgroupref 0 :resorigtbl 16391 :resorigcol 1 :resjunk false} {TARGETENTRY :expr {VAR :varno 3 :varattno 3 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 3 :varattnosyn 3 :location 46} :resno 2 :resname author_id :ressortgroupref 0 :resorigtbl 16391 :resorigcol 3 :resjunk false} {TARGETENTRY :expr {OPEXPR :opno 654 :opfuncid 1258 :opresulttype 25 :opretset false :opcollid 100 :inputcollid 100 :args ({VAR :varno 3 :varattno 2 :vartype 25 :vartypmod -1 :varcollid 100 :varlevelsup 0 :varnosyn 3 :varattnosyn 2 :location 57} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 66 :constvalue 5 [ 20 0 0 0 120 ]}) :location 63} :resno 3 :resname t :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false}) :override 0 :onConflict <> :returningList <> :groupClause <> :groupDistinct false :groupingSets <> :havingQual <> :windowClause <> :distinctClause <> :sortClause <> :limitOffset <> :limitCount <> :limitOption 0 :rowMarks <> :setOperations <> :constraintDeps <> :withCheckOptions <> :mergeActionList <> :mergeUseOuterJoin false :stmt_location 0 :stmt_len 85}))tree";

TEST(ViewOrigins, PlainColumnsPointAtTheTable) {
  auto o = view_origins(kPostTitles);
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[1].relation, 16391u);
  EXPECT_EQ(o[1].column, 1);
  EXPECT_EQ(o[3].relation, 16391u);
  EXPECT_EQ(o[3].column, 3);
}

TEST(ViewOrigins, AViewOverAViewPointsAtTheInnerViewAndSubSelectsHaveNoOrigin) {
  auto o = view_origins(kV2);
  ASSERT_EQ(o.size(), 2u);  // x = (select 1): none, and its inner target list is not read
  EXPECT_EQ(o[1].relation, 16403u);
  EXPECT_EQ(o[1].column, 2);
  EXPECT_EQ(o[2].relation, 16403u);
  EXPECT_EQ(o[2].column, 3);
  EXPECT_EQ(o.count(3), 0u);
}

TEST(ViewOrigins, EscapedNamesAndExpressions) {
  auto o = view_origins(kWeird);
  ASSERT_EQ(o.size(), 2u);  // t = title || 'x' is an expression
  EXPECT_EQ(o[1].column, 1);
  EXPECT_EQ(o[2].column, 3);
}

TEST(ViewOrigins, UnreadableTreesGiveNothing) {
  EXPECT_TRUE(view_origins("").empty());
  EXPECT_TRUE(view_origins("({QUERY :targetList").empty());
  EXPECT_TRUE(view_origins("garbage ( { } ) :resno 1 :resorigtbl 5 :resorigcol 1").empty());
  EXPECT_TRUE(view_origins("({QUERY :targetList <>})").empty());
  EXPECT_TRUE(view_origins("({QUERY :targetList ({TARGETENTRY :resno 1 :resorigtbl 99999999999 "
                           ":resorigcol 1 :resjunk false})})")
                  .empty());
}

TEST(WithViewKeys, KeysAreRepeatedThroughEveryViewShowingTheirColumns) {
  TableKey fk{{"posts_author_id_fkey", "public", "posts", {"author_id"}, "public", "users", {"id"}},
              16391,
              16384,
              {3},
              {1}};
  std::vector<View> views{
      {16403, "public", "post_titles", {{1, "id"}, {2, "title"}, {3, "author_id"}}, kPostTitles},
      {16407, "public", "v2", {{1, "t"}, {2, "a"}, {3, "x"}}, kV2},
      {16500, "public", "we ird", {{1, "a (b)"}, {2, "author_id"}, {3, "t"}}, kWeird}};
  auto keys = with_view_keys({fk}, views);
  ASSERT_EQ(keys.size(), 4u);  // the key, then through post_titles, v2 and "we ird"
  EXPECT_EQ(keys[0].table, "posts");
  std::map<std::string, std::string> column_of;
  for (const auto& k : keys) {
    EXPECT_EQ(k.name, "posts_author_id_fkey");
    EXPECT_EQ(k.ref_table, "users");
    ASSERT_EQ(k.columns.size(), 1u);
    column_of[k.table] = k.columns[0];
  }
  EXPECT_EQ(column_of["post_titles"], "author_id");
  EXPECT_EQ(column_of["v2"], "a");  // through post_titles, renamed
  EXPECT_EQ(column_of["we ird"], "author_id");
}

TEST(WithViewKeys, TheReferencedSideThroughAViewToo) {
  // users_v = select id as uid from users (a made-up tree of the same shape)
  std::string users_v =
      "({QUERY :rtable <> :targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1 :resname uid "
      ":ressortgroupref 0 :resorigtbl 16384 :resorigcol 1 :resjunk false}) :override 0})";
  TableKey fk{
      {"fk", "public", "posts", {"author_id"}, "public", "users", {"id"}}, 16391, 16384, {3}, {1}};
  std::vector<View> views{
      {16403, "public", "post_titles", {{1, "id"}, {2, "title"}, {3, "author_id"}}, kPostTitles},
      {16600, "public", "users_v", {{1, "uid"}}, users_v}};
  auto keys = with_view_keys({fk}, views);
  ASSERT_EQ(keys.size(), 4u);  // posts→users, posts→users_v, post_titles→users, post_titles→users_v
  int to_view = 0;
  for (const auto& k : keys)
    if (k.ref_table == "users_v") {
      ++to_view;
      EXPECT_EQ(k.ref_columns, std::vector<std::string>{"uid"});
    }
  EXPECT_EQ(to_view, 2);
}

TEST(WithViewKeys, AViewMissingAKeyColumnGetsNoKey) {
  TableKey fk{{"fk", "public", "posts", {"id", "author_id"}, "public", "x", {"a", "b"}},
              16391,
              1,
              {1, 3},
              {1, 2}};
  std::vector<View> views{{16407, "public", "v2", {{1, "t"}, {2, "a"}}, kV2}};  // no posts.id
  EXPECT_EQ(with_view_keys({fk}, views).size(), 1u);
}

}  // namespace
}  // namespace database::rest
