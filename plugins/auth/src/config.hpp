#pragma once
// The server-wide auth configuration (auth.* keys, env ALPACA_AUTH_*). Per-project settings
// (providers, site URL, autoconfirm) live in the project database: see project_settings.hpp.
#include <alpaca/plugin.hpp>
#include <cstdint>
#include <string>

namespace auth {

struct SmtpConfig {
  std::string host;  // empty: no SMTP; emails go to auth.alpaca_outbox and the log only
  int port = 587;
  std::string user, password;
  std::string sender = "noreply@localhost";
  std::string tls = "starttls";  // none | starttls | tls
  std::string ca_file;           // a CA (PEM) to trust besides the system's, for a private SMTP
  int timeout_ms = 10000;
};

struct RateLimits {
  int window_s = 300;        // one window for all the counters below
  int per_ip = 30;           // signup, password sign-in, recover, otp, verify: per IP and route
  int per_email = 5;         // emails sent to one address
  int refresh_per_ip = 150;  // refresh_token grants per IP
};

struct Config {
  int64_t jwt_expiry = 3600;
  int bcrypt_cost = 10;
  size_t password_min_length = 6;
  int64_t refresh_reuse_interval = 10;  // seconds a rotated refresh token may still be used
  int64_t otp_expiry = 3600;            // email links and codes
  int64_t flow_state_expiry = 300;      // PKCE auth codes
  SmtpConfig smtp;
  RateLimits limits;

  static Config load(const alpaca::Host& host);  // throws std::invalid_argument on bad values
};

}  // namespace auth
