#pragma once
// Small crypto helpers over OpenSSL (already linked through Poco::Crypto).
#include <string>
#include <string_view>

namespace alpaca::crypto {

std::string random_bytes(size_t n);      // from the OS CSPRNG
std::string random_token(size_t chars);  // [A-Za-z0-9], unbiased
std::string random_lower(size_t chars);  // [a-z0-9], first char a letter
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
bool constant_time_equals(std::string_view a, std::string_view b);
std::string base64url_encode(std::string_view data);  // no padding
bool base64url_decode(std::string_view in, std::string& out);

}  // namespace alpaca::crypto
