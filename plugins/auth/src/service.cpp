#include "service.hpp"

#include <Poco/JSON/Object.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstddef>
#include <regex>

#include "json.hpp"
#include "mailer.hpp"
#include "schema_sql.hpp"

namespace auth {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_token(size_t chars) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(chars);
  while (out.size() < chars) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("no random bytes");
    for (unsigned char b : buf)
      if (b < 248 && out.size() < chars) out += kAlphabet[b % 62];  // 248 = 4 * 62: unbiased
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string normalize_email(const std::string& email) {
  size_t b = email.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = email.find_last_not_of(" \t\r\n");
  std::string out = email.substr(b, e - b + 1);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

bool valid_email(const std::string& email) {
  static const std::regex re(
      R"(^[^\s@"<>(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$)");
  return email.size() <= 255 && std::regex_match(email, re);
}

bool valid_uuid(const std::string& s) {
  static const std::regex re(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(s, re);
}

Service::Service(alpaca::Host& host, Config config)
    : host_(host),
      config_(std::move(config)),
      mailer_(std::make_unique<Mailer>(host, config_.smtp)) {}

Service::~Service() = default;

Caller Service::caller(alpaca::Request& req) const {
  Caller c;
  const alpaca_project* p = req.project();
  if (!p) throw AuthError(404, "not_found", "No project");
  c.ref = p->ref;
  c.server_url = p->server_url;
  c.ip = std::string(req.client_address());
  if (const char* ua = req.header("User-Agent")) c.user_agent = ua;
  const alpaca_caller& who = req.caller();
  if (who.struct_size >= offsetof(alpaca_caller, bearer_error) + sizeof(who.bearer_error) &&
      who.bearer_error)
    c.bearer_error = who.bearer_error;
  if (who.kind == ALPACA_CALLER_PROJECT_JWT) {
    c.role = who.role ? who.role : "";
    c.user_id = who.subject ? who.subject : "";
    try {
      auto claims = parse_object(who.claims_json ? who.claims_json : "{}");
      if (claims->has("session_id") && claims->get("session_id").isString())
        c.session_id = claims->getValue<std::string>("session_id");
    } catch (const std::exception&) {
    }
  }
  return c;
}

std::unique_ptr<Tx> Service::begin(const std::string& ref) {
  ensure_schema(ref);
  return std::make_unique<Tx>(db_, ref);
}

void Service::ensure_schema(const std::string& ref) {
  if (!db_) throw AuthError(503, "unexpected_failure", "The auth service is starting");
  migrator_.ensure(db_, ref, kMigrations,
                   [this](const std::string& line) { host_.info("auth: " + line); });
}

std::optional<std::string> Service::user_json(Tx& tx, const std::string& user_id) {
  return tx.value("SELECT auth.alpaca_user_json(u)::text FROM auth.users u WHERE u.id = $1::uuid",
                  {user_id});
}

std::string Service::new_session(Tx& tx, const Caller& c, const std::string& user_id,
                                 const std::string& method) {
  std::string refresh = random_token(32);
  auto session_id = tx.value(
      "WITH s AS (INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, "
      "refreshed_at, user_agent, ip) VALUES (gen_random_uuid(), $1::uuid, now(), now(), 'aal1', "
      "now() AT TIME ZONE 'utc', nullif($2, ''), nullif($3, '')::inet) RETURNING id), "
      "a AS (INSERT INTO auth.mfa_amr_claims (session_id, created_at, updated_at, "
      "authentication_method, id) SELECT id, now(), now(), $4, gen_random_uuid() FROM s), "
      "r AS (INSERT INTO auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, "
      "session_id) SELECT $5, $1, false, now(), now(), id FROM s) "
      "SELECT id::text FROM s",
      {user_id, c.user_agent, c.ip, method, sha256_hex(refresh)});
  tx.exec("UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = $1::uuid",
          {user_id});
  tx.exec(
      "UPDATE auth.identities SET last_sign_in_at = now() WHERE user_id = $1::uuid AND "
      "provider = CASE WHEN $2 IN ('password', 'otp', 'magiclink', 'recovery', 'email/signup', "
      "'invite') THEN 'email' ELSE provider END",
      {user_id, method});
  auto user = user_json(tx, user_id);
  if (!user || !session_id) throw AuthError(404, "user_not_found", "User not found");
  return session_json(c, *user, *session_id, refresh, method, unix_now());
}

std::string Service::session_json(const Caller& c, const std::string& user_json,
                                  const std::string& session_id, const std::string& refresh_token,
                                  const std::string& method, int64_t method_time) {
  auto user = parse_object(user_json);
  int64_t now = unix_now();
  int64_t exp = now + config_.jwt_expiry;
  Poco::JSON::Object claims(true);
  claims.set("aud", "authenticated");
  claims.set("exp", exp);
  claims.set("iat", now);
  claims.set("iss", c.server_url + "/auth/v1");
  claims.set("sub", user->getValue<std::string>("id"));
  claims.set("email", user->getValue<std::string>("email"));
  claims.set("phone", user->getValue<std::string>("phone"));
  claims.set("app_metadata", user->get("app_metadata"));
  claims.set("user_metadata", user->get("user_metadata"));
  std::string role = user->getValue<std::string>("role");
  claims.set("role", role.empty() ? "authenticated" : role);
  claims.set("aal", "aal1");
  Poco::JSON::Array amr;
  Poco::JSON::Object entry(true);
  entry.set("method", method);
  entry.set("timestamp", method_time);
  amr.add(entry);
  claims.set("amr", amr);
  claims.set("session_id", session_id);
  claims.set("is_anonymous", user->get("is_anonymous"));
  std::string token = host_.sign_project_jwt(c.ref, to_text(claims));
  return "{\"access_token\":\"" + token +
         "\",\"token_type\":\"bearer\",\"expires_in\":" + std::to_string(config_.jwt_expiry) +
         ",\"expires_at\":" + std::to_string(exp) + ",\"refresh_token\":\"" + refresh_token +
         "\",\"user\":" + user_json + "}";
}

void Service::limit(const std::string& key, int limit, const char* code) {
  if (!limiter_.allow(key, limit, config_.limits.window_s))
    throw AuthError(429, code,
                    std::string(std::string(code) == "over_email_send_rate_limit"
                                    ? "Email rate limit exceeded"
                                    : "Request rate limit reached") +
                        ": at most " + std::to_string(limit) + " per " +
                        std::to_string(config_.limits.window_s) + " s; try again later");
}

}  // namespace auth
