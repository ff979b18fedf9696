#pragma once
// Signed-URL tokens as Supabase Storage makes them: an HS256 JWT {url: "<bucket>/<name>", iat,
// exp} (signed uploads add owner and upsert), signed with the project's URL-signing key. The token
// is the permission: whoever holds it may fetch (or upload) that one object until it expires.
#include <Poco/JSON/Object.h>

#include <string>

#include "service.hpp"

namespace storage {

// `claims` gets iat/exp added; expires_in in seconds (>= 1).
std::string make_url_token(Service& svc, const std::string& ref, Poco::JSON::Object claims,
                           int64_t expires_in);

// The claims of a valid, unexpired token for exactly `url`; else a 400 in Supabase's words
// (InvalidJWT "jwt expired" / "invalid signature", InvalidSignature for another object).
Poco::JSON::Object::Ptr check_url_token(Service& svc, const std::string& ref,
                                        const std::string& token, const std::string& url);

}  // namespace storage
