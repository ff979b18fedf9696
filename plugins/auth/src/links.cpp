#include "links.hpp"

#include <Poco/URI.h>
#include <openssl/rand.h>

#include "json.hpp"

namespace auth {

namespace {
const char* token_type_of(const std::string& kind) {
  if (kind == "signup" || kind == "invite") return "confirmation_token";
  if (kind == "recovery" || kind == "magiclink") return "recovery_token";
  if (kind == "email_change") return "email_change_token_new";
  throw validation("unknown link type '" + kind + "'");
}

std::string six_digits() {
  uint32_t n = 0;
  do {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&n), sizeof n) != 1)
      throw std::runtime_error("no random bytes");
  } while (n >= 4294000000u);  // unbiased modulo 10^6
  std::string s = std::to_string(n % 1000000);
  return std::string(6 - s.size(), '0') + s;
}

std::string encode(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]", out);
  return out;
}
}  // namespace

Link make_link(Tx& tx, const Caller& c, const std::string& user_id, const std::string& kind,
               const std::string& address, const std::string& redirect_to) {
  Link l;
  l.secret = random_token(40);
  l.otp = six_digits();
  l.redirect_to = redirect_to;
  l.action_link = c.server_url + "/auth/v1/verify?token=" + l.secret + "&type=" + kind +
                  "&redirect_to=" + encode(redirect_to);
  tx.exec(
      "INSERT INTO auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, "
      "otp_hash, created_at, updated_at) VALUES (gen_random_uuid(), $1::uuid, "
      "$2::auth.one_time_token_type, $3, $4, $5, now(), now()) "
      "ON CONFLICT (user_id, token_type) DO UPDATE SET token_hash = EXCLUDED.token_hash, "
      "relates_to = EXCLUDED.relates_to, otp_hash = EXCLUDED.otp_hash, created_at = now(), "
      "updated_at = now()",
      {user_id, token_type_of(kind), sha256_hex(l.secret), address,
       sha256_hex(address + ":" + l.otp)});
  const char* column = kind == "recovery" || kind == "magiclink" ? "recovery_sent_at"
                       : kind == "email_change"                  ? "email_change_sent_at"
                       : kind == "invite"                        ? "invited_at"
                                                                 : "confirmation_sent_at";
  std::string sql = std::string("UPDATE auth.users SET ") + column +
                    " = now(), updated_at = now() WHERE id = $1::uuid";
  tx.exec(sql.c_str(), {user_id});
  return l;
}

void send_link(Service& svc, std::unique_ptr<Tx> tx, const Caller& c, const std::string& user_id,
               const std::string& kind, const std::string& address,
               const std::string& redirect_to) {
  Link l = make_link(*tx, c, user_id, kind, address, redirect_to);
  Email e = make_email(kind, address, l.action_link, l.otp);
  int64_t id = svc.mailer().queue(*tx, e);
  tx->commit();
  std::string error = svc.mailer().deliver(e);
  if (!svc.mailer().smtp_configured()) return;
  try {
    auto note = svc.begin(c.ref);
    svc.mailer().record(*note, id, error, e);
    note->commit();
  } catch (const std::exception& ex) {
    svc.host().warn(std::string("auth: cannot record the outcome of email ") + std::to_string(id) +
                    ": " + ex.what());
  }
}

Consumed consume_link(Tx& tx, const std::string& type, const std::string& secret,
                      const std::string& email, const std::string& otp, int64_t expiry_s) {
  const char* types = nullptr;
  if (type == "signup" || type == "invite")
    types = "{confirmation_token}";
  else if (type == "recovery" || type == "magiclink")
    types = "{recovery_token}";
  else if (type == "email")
    types = "{confirmation_token,recovery_token}";
  else if (type == "email_change")
    types = "{email_change_token_new}";
  else
    throw validation(
        "Verify requires a verification type (signup, invite, recovery, magiclink, "
        "email or email_change)");
  std::optional<std::string> row;
  const char* returning =
      " RETURNING json_build_object('u', user_id, 't', token_type, 'r', relates_to)::text";
  if (!secret.empty()) {
    row = tx.value((std::string("DELETE FROM auth.one_time_tokens WHERE token_hash = $1 AND "
                                "token_type = ANY($2::auth.one_time_token_type[]) AND created_at "
                                "> now()::timestamp - make_interval(secs => $3::int)") +
                    returning)
                       .c_str(),
                   {sha256_hex(secret), types, std::to_string(expiry_s)});
  } else if (!email.empty() && !otp.empty()) {
    row = tx.value((std::string("DELETE FROM auth.one_time_tokens WHERE otp_hash = $1 AND "
                                "relates_to = $2 AND token_type = "
                                "ANY($3::auth.one_time_token_type[]) AND created_at > "
                                "now()::timestamp - make_interval(secs => $4::int)") +
                    returning)
                       .c_str(),
                   {sha256_hex(email + ":" + otp), email, types, std::to_string(expiry_s)});
  } else {
    throw validation("Verify requires either a token or a token_hash (with email for a token)");
  }
  if (!row) throw AuthError(403, "otp_expired", "Token has expired or is invalid");
  auto o = parse_object(*row);
  return {o->getValue<std::string>("u"), o->getValue<std::string>("t"),
          o->getValue<std::string>("r")};
}

}  // namespace auth
