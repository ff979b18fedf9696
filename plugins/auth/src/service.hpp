#pragma once
// What every auth route shares: configuration, the database (with the auth schema migrated on a
// project's first use), sessions and tokens, email, and rate limits.
#include <alpaca/plugin.hpp>
#include <memory>
#include <migrator.hpp>
#include <mutex>
#include <set>
#include <string>

#include "config.hpp"
#include "db.hpp"
#include "errors.hpp"
#include "rate_limit.hpp"

namespace auth {

class Mailer;

// The request's project and who it is.
struct Caller {
  std::string ref, server_url, ip, user_agent;
  std::string role, user_id, session_id;  // from the verified JWT, "" when absent
  std::string bearer_error;  // why the Bearer token was refused ("" when it was fine or absent)
};

class Service {
 public:
  Service(alpaca::Host& host, Config config);
  ~Service();
  void set_db(const alpaca_db_api* db) { db_ = db; }

  const Config& config() const { return config_; }
  alpaca::Host& host() { return host_; }
  Mailer& mailer() { return *mailer_; }

  Caller caller(alpaca::Request& req) const;
  // A management-role transaction on the project's database; the auth schema is migrated first
  // when this host has not checked it yet.
  std::unique_ptr<Tx> begin(const std::string& ref);
  // Migrates the project's auth schema unless this host already did.
  void ensure_schema(const std::string& ref);

  // Creates a session for the user (amr method: password, otp, oauth, ...) with its first
  // refresh token, and answers GoTrue's session JSON.
  std::string new_session(Tx& tx, const Caller& c, const std::string& user_id,
                          const std::string& method);
  // The session JSON for an existing session and a fresh refresh token (already stored).
  std::string session_json(const Caller& c, const std::string& user_json,
                           const std::string& session_id, const std::string& refresh_token,
                           const std::string& method, int64_t method_time);
  // The user's JSON text (GoTrue's shape); nullopt when there is no such user.
  std::optional<std::string> user_json(Tx& tx, const std::string& user_id);

  // Counts a hit for `key`; throws 429 when over `limit` in the window.
  void limit(const std::string& key, int limit, const char* code = "over_request_rate_limit");
  void limit_ip(const Caller& c, const char* route) {
    limit(c.ref + "|" + route + "|" + c.ip, config_.limits.per_ip);
  }
  void limit_email(const Caller& c, const std::string& email) {
    limit(c.ref + "|email|" + email, config_.limits.per_email, "over_email_send_rate_limit");
  }

 private:
  alpaca::Host& host_;
  Config config_;
  const alpaca_db_api* db_ = nullptr;
  std::unique_ptr<Mailer> mailer_;
  RateLimiter limiter_;
  plugin_common::Migrator migrator_{"auth.schema_migrations", 1};
};

int64_t unix_now();
std::string random_token(size_t chars);  // [A-Za-z0-9]
std::string sha256_hex(const std::string& data);
std::string normalize_email(const std::string& email);  // trimmed, lower case
bool valid_email(const std::string& email);
bool valid_uuid(const std::string& s);

}  // namespace auth
