#include "mailer.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <mutex>
#include <stdexcept>

#include "tls_client.hpp"

namespace auth {

namespace {
struct Template {
  const char* kind;
  const char* subject;
  const char* intro;
};
const Template kTemplates[] = {
    {"signup", "Confirm your signup", "Follow this link to confirm your email address:"},
    {"invite", "You have been invited",
     "You have been invited to create an account. Follow this link to accept:"},
    {"recovery", "Reset your password", "Follow this link to reset the password of your account:"},
    {"magiclink", "Your sign-in link", "Follow this link to sign in:"},
    {"email_change", "Confirm your new email address",
     "Follow this link to confirm the change of your email address:"},
};

}  // namespace

Email make_email(const std::string& kind, const std::string& to, const std::string& link,
                 const std::string& otp) {
  const Template* t = &kTemplates[0];
  for (const auto& candidate : kTemplates)
    if (kind == candidate.kind) t = &candidate;
  Email e;
  e.kind = kind;
  e.to = to;
  e.subject = t->subject;
  e.link = link;
  e.otp = otp;
  e.text = std::string(t->intro) + "\r\n\r\n" + link + "\r\n\r\n";
  if (!otp.empty()) e.text += "Or enter this code: " + otp + "\r\n\r\n";
  e.text += "If you did not ask for this, ignore this email.\r\n";
  return e;
}

int64_t Mailer::queue(Tx& tx, const Email& e) {
  auto id = tx.value(
      "INSERT INTO auth.alpaca_outbox (kind, recipient, subject, body) VALUES ($1, $2, $3, $4) "
      "RETURNING id::text",
      {e.kind, e.to, e.subject, e.text});
  return id ? std::stoll(*id) : 0;
}

void Mailer::record(Tx& tx, int64_t id, const std::string& error, const Email& e) const {
  if (!smtp_configured()) return;
  if (error.empty()) {
    std::string body = e.text;
    auto blank = [&body](const std::string& secret, const char* with) {
      for (size_t at; !secret.empty() && (at = body.find(secret)) != std::string::npos;)
        body.replace(at, secret.size(), with);
    };
    blank(e.link, "[link sent]");
    blank(e.otp, "[code sent]");
    tx.exec(
        "UPDATE auth.alpaca_outbox SET sent_at = now(), error = NULL, body = $2 "
        "WHERE id = $1::bigint",
        {std::to_string(id), body});
  } else
    tx.exec("UPDATE auth.alpaca_outbox SET error = $2 WHERE id = $1::bigint",
            {std::to_string(id), error});
}

std::string Mailer::deliver(const Email& e) const {
  if (smtp_.host.empty()) {
    // Deliberately logged: with no SMTP this is how an operator reaches the link.
    host_.info("auth: no SMTP configured (auth.smtp_host); " + e.kind + " email to " + e.to +
               " kept in auth.alpaca_outbox: " + e.link);
    return {};
  }
  try {
    Poco::Net::MailMessage msg;
    msg.setSender(smtp_.sender);
    msg.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, e.to));
    msg.setSubject(Poco::Net::MailMessage::encodeWord(e.subject, "UTF-8"));
    msg.setContentType("text/plain; charset=UTF-8");
    msg.setContent(e.text, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
    Poco::Timespan timeout(static_cast<long>(smtp_.timeout_ms) * 1000);
    Poco::Net::SocketAddress address(smtp_.host, static_cast<Poco::UInt16>(smtp_.port));
    auto login = [&](Poco::Net::SMTPClientSession& s) {
      if (smtp_.user.empty())
        s.login();
      else
        s.login(Poco::Net::SMTPClientSession::AUTH_LOGIN, smtp_.user, smtp_.password);
    };
    if (smtp_.tls == "tls") {
      Poco::Net::SecureStreamSocket socket(tls_client_context(smtp_.ca_file));
      socket.setPeerHostName(smtp_.host);  // the certificate must name the configured host
      socket.connect(address, timeout);
      socket.setReceiveTimeout(timeout);
      socket.setSendTimeout(timeout);
      Poco::Net::SMTPClientSession session(socket);
      login(session);
      session.sendMessage(msg);
      session.close();
    } else if (smtp_.tls == "starttls") {
      // Made from the host name, so the upgraded connection checks the certificate against it.
      Poco::Net::SecureSMTPClientSession session(smtp_.host, static_cast<Poco::UInt16>(smtp_.port));
      session.setTimeout(timeout);
      session.login();
      if (!session.startTLS(tls_client_context(smtp_.ca_file)))
        throw std::runtime_error(
            "the SMTP server does not offer STARTTLS (set auth.smtp_tls=none to send in clear)");
      // The TLS session starts afresh (RFC 3207): EHLO again, with AUTH when configured.
      login(session);
      session.sendMessage(msg);
      session.close();
    } else {
      Poco::Net::StreamSocket socket;
      socket.connect(address, timeout);
      socket.setReceiveTimeout(timeout);
      socket.setSendTimeout(timeout);
      Poco::Net::SMTPClientSession session(socket);
      login(session);
      session.sendMessage(msg);
      session.close();
    }
    return {};
  } catch (const std::exception& ex) {
    std::string why = ex.what();
    if (auto* pe = dynamic_cast<const Poco::Exception*>(&ex)) why = pe->displayText();
    host_.warn("auth: cannot send the " + e.kind + " email to " + e.to + " through " + smtp_.host +
               ":" + std::to_string(smtp_.port) + ": " + why + " (kept in auth.alpaca_outbox)");
    return why;
  }
}

}  // namespace auth
