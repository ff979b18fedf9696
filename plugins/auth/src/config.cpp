#include "config.hpp"

#include <stdexcept>

namespace auth {

namespace {
int64_t number(const alpaca::Host& host, const char* key, int64_t fallback, int64_t min,
               int64_t max) {
  std::string v = host.config(key, "");
  if (v.empty()) return fallback;
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || n < min || n > max)
    throw std::invalid_argument(std::string("auth.") + key + " must be a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max) + ", not '" + v +
                                "'");
  return n;
}
}  // namespace

Config Config::load(const alpaca::Host& host) {
  Config c;
  c.jwt_expiry = number(host, "jwt_expiry", c.jwt_expiry, 30, 604800);
  c.bcrypt_cost = static_cast<int>(number(host, "bcrypt_cost", c.bcrypt_cost, 4, 16));
  c.password_min_length = static_cast<size_t>(number(host, "password_min_length", 6, 1, 72));
  c.refresh_reuse_interval =
      number(host, "refresh_token_reuse_interval", c.refresh_reuse_interval, 0, 3600);
  c.otp_expiry = number(host, "otp_expiry", c.otp_expiry, 60, 86400);
  c.smtp.host = host.config("smtp_host", "");
  c.smtp.port = static_cast<int>(number(host, "smtp_port", c.smtp.port, 1, 65535));
  c.smtp.user = host.config("smtp_user", "");
  c.smtp.password = host.config("smtp_password", "");
  c.smtp.sender = host.config("smtp_sender", c.smtp.sender.c_str());
  c.smtp.tls = host.config("smtp_tls", c.smtp.tls.c_str());
  c.smtp.ca_file = host.config("smtp_ca_file", "");
  if (c.smtp.tls != "none" && c.smtp.tls != "starttls" && c.smtp.tls != "tls")
    throw std::invalid_argument("auth.smtp_tls must be none, starttls or tls");
  c.smtp.timeout_ms = static_cast<int>(number(host, "smtp_timeout_ms", 10000, 100, 120000));
  c.limits.window_s = static_cast<int>(number(host, "rate_limit_window", 300, 1, 86400));
  c.limits.per_ip = static_cast<int>(number(host, "rate_limit_per_ip", 30, 1, 100000000));
  c.limits.per_email = static_cast<int>(number(host, "rate_limit_per_email", 5, 1, 100000000));
  c.limits.refresh_per_ip =
      static_cast<int>(number(host, "rate_limit_refresh_per_ip", 150, 1, 100000000));
  return c;
}

}  // namespace auth
