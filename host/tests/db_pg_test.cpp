#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "db/pg.hpp"
#include "db_test_cluster.hpp"

namespace alpaca::db {
namespace {

using testing::ClusterTest;

// Parses a key=value conninfo back into a map, to check what
// conninfo_with_dbname produced without depending on its exact spelling.
std::map<std::string, std::string> parse_conninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = err ? err : "?";
    PQfreemem(err);
    throw std::runtime_error("unparsable conninfo: " + msg);
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val) out[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  return out;
}

class DbPgTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    conn_ = Connection::open(conninfo());
  }
  Connection conn_;
};

TEST_F(DbPgTest, ExecReturnsValuesNamesTypesAndNulls) {
  Result r = conn_.exec("SELECT 42 AS answer, NULL::text AS nothing, 'héllo'::text AS word");
  ASSERT_EQ(r.rows(), 1);
  ASSERT_EQ(r.cols(), 3);
  EXPECT_STREQ(r.column_name(0), "answer");
  EXPECT_STREQ(r.column_name(2), "word");
  EXPECT_EQ(r.column_type(0), 23u);  // int4
  EXPECT_EQ(r.column_type(1), 25u);  // text
  EXPECT_STREQ(r.value(0, 0), "42");
  EXPECT_EQ(r.get(0, 0), "42");
  EXPECT_EQ(r.value(0, 1), nullptr);
  EXPECT_TRUE(r.is_null(0, 1));
  EXPECT_FALSE(r.is_null(0, 0));
  EXPECT_EQ(r.get(0, 1), "");
  EXPECT_EQ(r.get(0, 2), "héllo");
  EXPECT_NE(r.raw(), nullptr);
}

TEST_F(DbPgTest, ClientEncodingIsUtf8) {
  EXPECT_EQ(conn_.exec("SHOW client_encoding").get(0, 0), "UTF8");
}

TEST_F(DbPgTest, ExecWithSeveralStatementsReturnsTheLast) {
  Result r = conn_.exec(
      "CREATE TEMP TABLE multi(x int); INSERT INTO multi VALUES (1), (2); "
      "SELECT count(*) FROM multi");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, 0), "2");
}

TEST_F(DbPgTest, ParamsAreTextAndNulloptIsNull) {
  Result r = conn_.exec("SELECT $1::int + 1, $2::text IS NULL, $3::text",
                        {std::string("41"), std::nullopt, std::string("it's \"quoted\"")});
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, 0), "42");
  EXPECT_EQ(r.get(0, 1), "t");
  EXPECT_EQ(r.get(0, 2), "it's \"quoted\"");
}

TEST_F(DbPgTest, AffectedCountsRows) {
  conn_.exec("CREATE TEMP TABLE aff(x int)");
  EXPECT_EQ(conn_.exec("INSERT INTO aff SELECT generate_series(1, 3)").affected(), 3);
  EXPECT_EQ(conn_.exec("UPDATE aff SET x = x + 1 WHERE x > $1", {std::string("1")}).affected(), 2);
  EXPECT_EQ(conn_.exec("SELECT * FROM aff").affected(), 3);
  EXPECT_EQ(conn_.exec("CREATE TEMP TABLE aff2(x int)").affected(), 0);
  EXPECT_EQ(conn_.exec("DELETE FROM aff").affected(), 3);
}

TEST_F(DbPgTest, ErrorCarriesSqlstateAndPosition) {
  try {
    conn_.exec("SELECT * FROM no_such_table");
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "42P01");
    EXPECT_EQ(e.position, 15);
    EXPECT_STREQ(e.what(), "relation \"no_such_table\" does not exist");
  }
  // With parameters too.
  try {
    conn_.exec("SELECT 1 FROM nope WHERE 1 = $1", {std::string("1")});
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "42P01");
    EXPECT_EQ(e.position, 15);
  }
  // The connection is usable afterwards.
  EXPECT_TRUE(conn_.healthy());
  EXPECT_EQ(conn_.exec("SELECT 1").get(0, 0), "1");
}

TEST_F(DbPgTest, ErrorCarriesDetailAndHint) {
  conn_.exec("CREATE TEMP TABLE uniq(id int PRIMARY KEY)");
  conn_.exec("INSERT INTO uniq VALUES (1)");
  try {
    conn_.exec("INSERT INTO uniq VALUES ($1)", {std::string("1")});
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "23505");
    EXPECT_EQ(e.detail, "Key (id)=(1) already exists.");
    EXPECT_EQ(e.position, 0);
  }
  try {
    conn_.exec("SELECT no_such_function(1)");
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "42883");
    EXPECT_NE(e.hint.find("No function matches"), std::string::npos) << e.hint;
    EXPECT_EQ(e.position, 8);
  }
}

TEST_F(DbPgTest, BadParamValueIsAServerError) {
  try {
    conn_.exec("SELECT $1::int", {std::string("not a number")});
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "22P02");
  }
}

TEST_F(DbPgTest, HealthyTracksTransactionState) {
  EXPECT_TRUE(conn_.healthy());
  conn_.exec("BEGIN");
  EXPECT_FALSE(conn_.healthy());
  EXPECT_THROW(conn_.exec("SELECT 1/0"), PgError);
  EXPECT_EQ(PQtransactionStatus(conn_.raw()), PQTRANS_INERROR);
  EXPECT_FALSE(conn_.healthy());
  conn_.exec("ROLLBACK");
  EXPECT_TRUE(conn_.healthy());
}

TEST_F(DbPgTest, EscapesIdentifiersAndLiterals) {
  const std::string weird = "we\"ird tab'le";
  const std::string ident = conn_.escape_identifier(weird);
  EXPECT_EQ(ident, "\"we\"\"ird tab'le\"");
  const std::string lit = conn_.escape_literal("it's a \\ test");
  conn_.exec("CREATE TEMP TABLE " + ident + " (v text)");
  conn_.exec("INSERT INTO " + ident + " VALUES (" + lit + ")");
  EXPECT_EQ(conn_.exec("SELECT v FROM " + ident).get(0, 0), "it's a \\ test");
}

TEST_F(DbPgTest, ServerClosingTheConnectionIs08006) {
  Connection admin = Connection::open(conninfo());
  const std::string pid = conn_.exec("SELECT pg_backend_pid()").get(0, 0);
  admin.exec("SELECT pg_terminate_backend($1::int)", {pid});
  try {
    // The first statement may see the FATAL (57P01) the server sent before
    // closing, the next one only a dead socket.
    conn_.exec("SELECT 1");
    conn_.exec("SELECT 1");
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_TRUE(e.sqlstate == "57P01" || e.sqlstate == "08006") << e.sqlstate << ": " << e.what();
  }
  EXPECT_FALSE(conn_.healthy());
}

TEST_F(DbPgTest, ConnectFailureIsClear08006) {
  try {
    Connection::open("host=/nonexistent-alpaca-dir port=5432 user=postgres dbname=postgres");
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "08006");
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("could not connect to PostgreSQL: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("/nonexistent-alpaca-dir"), std::string::npos) << msg;
  }
  try {
    Connection::open(conninfo("no_such_database"));
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "08006");
    EXPECT_NE(std::string(e.what()).find("no_such_database"), std::string::npos) << e.what();
  }
}

TEST_F(DbPgTest, MovedFromObjectsAreEmpty) {
  Connection other = std::move(conn_);
  EXPECT_EQ(conn_.raw(), nullptr);
  EXPECT_FALSE(conn_.healthy());
  EXPECT_THROW(conn_.exec("SELECT 1"), PgError);
  Result a = other.exec("SELECT 1");
  Result b = std::move(a);
  EXPECT_EQ(a.rows(), 0);
  EXPECT_EQ(b.rows(), 1);
  PGresult* raw = b.release();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(b.raw(), nullptr);
  PQclear(raw);
}

TEST_F(DbPgTest, ConninfoWithDbnameConnectsToThatDatabase) {
  Connection c = Connection::open(conninfo_with_dbname(conninfo("postgres"), "template1"));
  EXPECT_EQ(c.exec("SELECT current_database()").get(0, 0), "template1");
}

TEST(DbConninfoTest, ReplacesDbnameInKeyValueStrings) {
  const std::string out = conninfo_with_dbname(
      "host=/var/run/x port=5433 user=alice password='it\\'s se cret' dbname=old "
      "sslmode=disable",
      "new db");
  auto m = parse_conninfo(out);
  EXPECT_EQ(m["host"], "/var/run/x");
  EXPECT_EQ(m["port"], "5433");
  EXPECT_EQ(m["user"], "alice");
  EXPECT_EQ(m["password"], "it's se cret");
  EXPECT_EQ(m["dbname"], "new db");
  EXPECT_EQ(m["sslmode"], "disable");
  EXPECT_EQ(m.size(), 6u) << out;
}

TEST(DbConninfoTest, ConvertsUrls) {
  for (const char* scheme : {"postgres://", "postgresql://"}) {
    const std::string out =
        conninfo_with_dbname(std::string(scheme) +
                                 "bob:p%40ss%27w@db.example.com:6543/olddb?sslmode=require"
                                 "&application_name=alpaca",
                             "proj_abc");
    auto m = parse_conninfo(out);
    EXPECT_EQ(m["host"], "db.example.com");
    EXPECT_EQ(m["port"], "6543");
    EXPECT_EQ(m["user"], "bob");
    EXPECT_EQ(m["password"], "p@ss'w");
    EXPECT_EQ(m["dbname"], "proj_abc");
    EXPECT_EQ(m["sslmode"], "require");
    EXPECT_EQ(m["application_name"], "alpaca");
    EXPECT_EQ(out.find("://"), std::string::npos) << "still a URL: " << out;
  }
}

TEST(DbConninfoTest, WorksWithoutDbnameAndQuotesBackslashes) {
  auto m = parse_conninfo(conninfo_with_dbname("host=h", "a\\b'c"));
  EXPECT_EQ(m["host"], "h");
  EXPECT_EQ(m["dbname"], "a\\b'c");
  m = parse_conninfo(conninfo_with_dbname("postgresql:///x?host=/tmp/sock", "y"));
  EXPECT_EQ(m["host"], "/tmp/sock");
  EXPECT_EQ(m["dbname"], "y");
}

TEST(DbConninfoTest, InvalidInputThrowsPgError) {
  EXPECT_THROW(conninfo_with_dbname("host=h bogus_option=1", "x"), PgError);
  EXPECT_THROW(conninfo_with_dbname("host", "x"), PgError);
  EXPECT_THROW(conninfo_with_dbname("postgres://h/db?bogus_param=1", "x"), PgError);
}

TEST(DbPgErrorTest, QuoteConninfoValue) {
  EXPECT_EQ(quote_conninfo_value("a b"), "'a b'");
  EXPECT_EQ(quote_conninfo_value("it's"), "'it\\'s'");
  EXPECT_EQ(quote_conninfo_value("c:\\x"), "'c:\\\\x'");
  EXPECT_EQ(quote_conninfo_value(""), "''");
}

}  // namespace
}  // namespace alpaca::db
