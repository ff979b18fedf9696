#pragma once
// One-time email links and codes (auth.one_time_tokens). The link carries a random secret and
// the email a 6-digit code; the table keeps only their SHA-256 hashes, one live token per user
// and kind, used once, expiring after auth.otp_expiry.
#include <string>

#include "mailer.hpp"
#include "service.hpp"

namespace auth {

struct Link {
  std::string secret;       // the link's token (also what GoTrue calls the hashed token)
  std::string otp;          // 6 digits
  std::string action_link;  // <server_url>/auth/v1/verify?token=..&type=..&redirect_to=..
  std::string redirect_to;
};

// kind: signup, invite, recovery, magiclink, email_change. `address` is where the email goes
// (the new address for email_change).
Link make_link(Tx& tx, const Caller& c, const std::string& user_id, const std::string& kind,
               const std::string& address, const std::string& redirect_to);

// Makes the link, queues its email, and after `tx` commits sends it.
void send_link(Service& svc, std::unique_ptr<Tx> tx, const Caller& c, const std::string& user_id,
               const std::string& kind, const std::string& address, const std::string& redirect_to);

struct Consumed {
  std::string user_id, token_type, relates_to;
};
// Uses up a token of one of the kinds `type` allows, found by link secret or by (email, code).
// Throws 403 otp_expired when there is none (wrong, used or expired).
Consumed consume_link(Tx& tx, const std::string& type, const std::string& secret,
                      const std::string& email, const std::string& otp, int64_t expiry_s);

}  // namespace auth
