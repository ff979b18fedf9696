#pragma once
// Emails: every message is first a row of auth.alpaca_outbox (written in the transaction that
// made its token, so nothing is sent for work that rolled back), then, after the commit, sent by
// SMTP when one is configured. Without SMTP the message stays in the outbox and its link goes to
// the log, so a self-hoster can still confirm and recover accounts.
#include <alpaca/plugin.hpp>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "db.hpp"

namespace auth {

struct Email {
  std::string kind;  // signup, recovery, magiclink, email_change, invite
  std::string to, subject, text, link, otp;
};

// The message for a link of `kind`: subject and body with the link and the 6-digit code.
Email make_email(const std::string& kind, const std::string& to, const std::string& link,
                 const std::string& otp);

class Mailer {
 public:
  Mailer(alpaca::Host& host, SmtpConfig smtp) : host_(host), smtp_(std::move(smtp)) {}

  // Stores the message in the outbox; returns its id.
  int64_t queue(Tx& tx, const Email& e);
  // Sends a queued message (after the commit). Returns "" when sent (or logged, without SMTP),
  // else why it failed; the caller records the outcome with record().
  std::string deliver(const Email& e) const;
  // Records the outcome. A sent message's link and code are blanked in the outbox: the table
  // keeps who got what and when, not live credentials. Unsent ones keep them (the operator's
  // way to reach the user).
  // Without SMTP nothing changes: the row is the message.
  void record(Tx& tx, int64_t id, const std::string& error, const Email& e) const;
  bool smtp_configured() const { return !smtp_.host.empty(); }

 private:
  alpaca::Host& host_;
  SmtpConfig smtp_;
};

}  // namespace auth
