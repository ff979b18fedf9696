#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include "auth/crypto.hpp"

namespace alpaca {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST(Jwt, SignThenVerifyKeepsClaims) {
  std::string t = jwt::sign(R"({"role":"anon","sub":"u1","ref":"p1","exp":2000000000})", kSecret);
  std::string why;
  auto c = jwt::verify(t, kSecret, 1900000000, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->role, "anon");
  EXPECT_EQ(c->sub, "u1");
  EXPECT_EQ(c->ref, "p1");
  EXPECT_EQ(c->exp, 2000000000);
}

TEST(Jwt, RejectsWrongSecretExpiredTamperedAndNone) {
  std::string t = jwt::sign(R"({"role":"anon","exp":2000000000})", kSecret);
  std::string why;
  EXPECT_FALSE(jwt::verify(t, "another-secret-another-secret-xx", 1, &why));
  EXPECT_EQ(why, "invalid token signature");
  EXPECT_FALSE(jwt::verify(t, kSecret, 2000000000, &why));
  EXPECT_EQ(why, "token has expired");
  // Swap the payload for one claiming service_role: the MAC no longer matches.
  size_t a = t.find('.'), b = t.rfind('.');
  std::string forged = t.substr(0, a + 1) +
                       crypto::base64url_encode(R"({"role":"service_role","exp":2000000000})") +
                       t.substr(b);
  EXPECT_FALSE(jwt::verify(forged, kSecret, 1, &why));
  std::string none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                     crypto::base64url_encode(R"({"role":"service_role"})") + ".";
  EXPECT_FALSE(jwt::verify(none, kSecret, 1, &why));
  EXPECT_EQ(why, "token algorithm must be HS256");
  EXPECT_FALSE(jwt::verify("not-a-jwt", kSecret, 1, &why));
  EXPECT_FALSE(jwt::verify("a.b.c.d", kSecret, 1, &why));
  EXPECT_FALSE(jwt::verify("!!.??.**", kSecret, 1, &why));
}

TEST(Jwt, NonNumericExpIsRejected) {
  std::string t = jwt::sign(R"({"role":"anon","exp":"never"})", kSecret);
  EXPECT_FALSE(jwt::verify(t, kSecret, 1));
}

TEST(Crypto, Base64UrlRoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    std::string out;
    ASSERT_TRUE(crypto::base64url_decode(crypto::base64url_encode(data), out));
    EXPECT_EQ(out, data);
    data += static_cast<char>(i * 37);
  }
}

TEST(Crypto, RandomTokensAreDistinctAndInAlphabet) {
  std::string a = crypto::random_token(40), b = crypto::random_token(40);
  EXPECT_EQ(a.size(), 40u);
  EXPECT_NE(a, b);
  std::string ref = crypto::random_lower(20);
  EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(ref[0])));
  for (char c : ref)
    EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)));
  EXPECT_EQ(crypto::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(crypto::constant_time_equals("abc", "abc"));
  EXPECT_FALSE(crypto::constant_time_equals("abc", "abd"));
  EXPECT_FALSE(crypto::constant_time_equals("abc", "abcd"));
}

}  // namespace
}  // namespace alpaca
