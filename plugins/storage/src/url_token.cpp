#include "url_token.hpp"

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <ctime>

#include "errors.hpp"

namespace storage {

std::string make_url_token(Service& svc, const std::string& ref, Poco::JSON::Object claims,
                           int64_t expires_in) {
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  claims.set("iat", now);
  claims.set("exp", now + expires_in);  // whole seconds, as JWT readers expect
  Poco::JWT::Token out;
  out.setType("JWT");
  for (const auto& name : claims.getNames()) out.payload().set(name, claims.get(name));
  Poco::JWT::Signer signer(svc.signing_key(ref));
  return signer.sign(out, Poco::JWT::Signer::ALGO_HS256);
}

Poco::JSON::Object::Ptr check_url_token(Service& svc, const std::string& ref,
                                        const std::string& token, const std::string& url) {
  if (token.empty()) throw StorageError(400, "InvalidJWT", "Missing token");
  Poco::JWT::Token verified;
  bool ok = false;
  try {
    Poco::JWT::Signer signer(svc.signing_key(ref));
    signer.addAlgorithm(Poco::JWT::Signer::ALGO_HS256);
    ok = signer.tryVerify(token, verified);  // throws on alg none/RS256 (Poco 1.11)
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok) throw StorageError(400, "InvalidJWT", "invalid signature");
  Poco::JSON::Object::Ptr claims = new Poco::JSON::Object(verified.payload());
  if (!claims->has("exp") || !claims->get("exp").isNumeric() ||
      claims->getValue<int64_t>("exp") <= static_cast<int64_t>(std::time(nullptr)))
    throw StorageError(400, "InvalidJWT", "jwt expired");
  if (!claims->has("url") || claims->getValue<std::string>("url") != url)
    throw StorageError(400, "InvalidSignature", "The url do not match the signature");
  return claims;
}

}  // namespace storage
