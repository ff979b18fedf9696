#pragma once
// bcrypt through libxcrypt (Openwall's crypt_blowfish, the code pgcrypto's crypt() uses): hashes
// $2a$ (as GoTrue does; pgcrypto reads it), verifies $2a$/$2b$/$2y$ as Supabase (Go's bcrypt) and
// pgcrypto write them.
#include <string>

namespace auth {

std::string hash_password(const std::string& password, int cost);
// Constant-time comparison of the recomputed hash; false for anything that is not bcrypt.
bool verify_password(const std::string& password, const std::string& hash);

}  // namespace auth
