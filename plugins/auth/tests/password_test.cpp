#include "password.hpp"

#include <gtest/gtest.h>

using namespace auth;

TEST(Password, HashesAndVerifiesBcrypt) {
  std::string h = hash_password("correct horse", 4);
  EXPECT_EQ(h.rfind("$2a$04$", 0), 0u) << h;  // pgcrypto reads $2a$, not $2b$
  EXPECT_EQ(h.size(), 60u);
  EXPECT_TRUE(verify_password("correct horse", h));
  EXPECT_FALSE(verify_password("correct horsE", h));
  EXPECT_FALSE(verify_password("", h));
  EXPECT_NE(hash_password("correct horse", 4), h);  // salted
}

TEST(Password, AcceptsSupabaseAndPgcryptoHashes) {
  // $2a$ as Go's bcrypt (GoTrue) and pgcrypto write them: Openwall's published test vectors.
  EXPECT_TRUE(
      verify_password("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_TRUE(
      verify_password("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"));
  EXPECT_FALSE(
      verify_password("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST(Password, RefusesWhatIsNotBcrypt) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "plaintext"));
  EXPECT_FALSE(verify_password("x", "$1$abcdefgh$0123456789012345678901"));
  EXPECT_FALSE(verify_password("x", std::string(60, '$')));
}
