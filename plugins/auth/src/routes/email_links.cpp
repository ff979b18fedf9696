// Email links and codes: recover, otp/magiclink, resend, and verify (POST and the GET a link
// opens).
#include <Poco/URI.h>

#include "../json.hpp"
#include "../links.hpp"
#include "../project_settings.hpp"
#include "../users.hpp"
#include "route_util.hpp"
#include "routes.hpp"

namespace auth {

namespace {

std::string required_email(const Poco::JSON::Object& body) {
  std::string email = normalize_email(str_field(body, "email"));
  if (email.empty()) throw validation("An email address is required");
  if (!valid_email(email)) throw validation("Unable to validate email address: invalid format");
  return email;
}

void recover(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "recover");
  auto body = body_object(req);
  std::string email = required_email(*body);
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  auto user = find_user_by_email(*tx, email);
  if (user) {  // unknown addresses get the same answer and no email
    svc.limit_email(c, email);
    send_link(svc, std::move(tx), c, user->id, "recovery", email,
              s.pick_redirect(redirect_param(req, *body)));
  }
  send_json(res, 200, "{}");
}

void otp(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "otp");
  auto body = body_object(req);
  if (!body->has("email") && body->has("phone"))
    throw AuthError(400, "phone_provider_disabled", "Phone logins are disabled");
  std::string email = required_email(*body);
  bool create = bool_field(*body, "create_user", true);
  std::string data = object_field(*body, "data");
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  if (!s.email_enabled)
    throw AuthError(422, "email_provider_disabled", "Email logins are disabled");
  std::string redirect = s.pick_redirect(redirect_param(req, *body));
  auto user = find_user_by_email(*tx, email);
  std::string kind = "magiclink";
  std::string user_id;
  if (user) {
    user_id = user->id;
    if (!user->confirmed) kind = "signup";
  } else {
    if (!create || s.disable_signup)
      throw AuthError(422, "otp_disabled", "Signups not allowed for otp");
    NewUser nu;
    nu.email = email;
    nu.user_metadata = data.empty() ? "{}" : data;
    auto id = insert_user(*tx, nu);
    if (!id) throw AuthError(409, "conflict", "The user was created by another request; retry");
    user_id = *id;
    kind = "signup";
  }
  svc.limit_email(c, email);
  send_link(svc, std::move(tx), c, user_id, kind, email, redirect);
  send_json(res, 200, "{}");
}

void resend(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "otp");
  auto body = body_object(req);
  std::string type = str_field(*body, "type");
  if (type != "signup" && type != "email_change")
    throw validation("Missing one of these types: signup, email_change");
  std::string email = required_email(*body);
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  std::string redirect = s.pick_redirect(redirect_param(req, *body));
  if (type == "signup") {
    auto user = find_user_by_email(*tx, email);
    if (user && !user->confirmed) {
      svc.limit_email(c, email);
      send_link(svc, std::move(tx), c, user->id, "signup", email, redirect);
    }
  } else {
    auto id = tx->value("SELECT id::text FROM auth.users WHERE email_change = $1", {email});
    if (id) {
      svc.limit_email(c, email);
      send_link(svc, std::move(tx), c, *id, "email_change", email, redirect);
    }
  }
  send_json(res, 200, "{}");
}

// Uses the token and signs the user in; the session JSON.
std::string verify_and_sign_in(Service& svc, Tx& tx, const Caller& c, const std::string& type,
                               const std::string& secret, const std::string& email,
                               const std::string& code) {
  Consumed used = consume_link(tx, type, secret, email, code, svc.config().otp_expiry);
  if (used.token_type == "email_change_token_new") {
    if (tx.value("SELECT 1 FROM auth.users WHERE email = $1 AND id <> $2::uuid",
                 {used.relates_to, used.user_id}))
      throw AuthError(422, "email_exists",
                      "A user with this email address has already been registered");
    apply_email_change(tx, used.user_id, used.relates_to);
  } else {
    // Opening a link proves the address: confirm it (GoTrue does so for every email link).
    tx.exec(
        "UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()), "
        "updated_at = now() WHERE id = $1::uuid",
        {used.user_id});
    tx.exec(
        "UPDATE auth.identities SET identity_data = identity_data || "
        "'{\"email_verified\": true}'::jsonb WHERE user_id = $1::uuid AND provider = 'email'",
        {used.user_id});
  }
  if (tx.value("SELECT 1 FROM auth.users WHERE id = $1::uuid AND banned_until > now()",
               {used.user_id}))
    throw AuthError(403, "user_banned", "User is banned");
  std::string method = type == "recovery" ? "recovery" : type == "signup" ? "otp" : "otp";
  if (type == "magiclink") method = "magiclink";
  if (type == "email_change") method = "email_change";
  return svc.new_session(tx, c, used.user_id, method);
}

void verify_post(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "verify");
  auto body = body_object(req);
  std::string type = str_field(*body, "type");
  std::string token = str_field(*body, "token");
  std::string token_hash = str_field(*body, "token_hash");
  std::string email = normalize_email(str_field(*body, "email"));
  if (body->has("phone") && !body->has("email"))
    throw AuthError(400, "phone_provider_disabled", "Phone logins are disabled");
  std::string secret = token_hash, code;
  if (secret.empty()) {
    if (email.empty())
      secret = token;  // a link's token sent as is
    else
      code = token;
  }
  if (secret.empty() && code.empty())
    throw validation("Verify requires either a token or a token_hash");
  auto tx = svc.begin(c.ref);
  std::string session = verify_and_sign_in(svc, *tx, c, type, secret, email, code);
  tx->commit();
  send_json(res, 200, session);
}

std::string form(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[] ", out);
  return out;
}

void verify_get(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  const char* t = req.query("token");
  const char* ty = req.query("type");
  const char* r = req.query("redirect_to");
  std::string type = ty ? ty : "";
  std::string redirect;
  std::string fragment;
  {
    auto tx = svc.begin(c.ref);
    ProjectSettings s = ProjectSettings::load(*tx);
    redirect = s.pick_redirect(r ? r : "");
  }
  try {
    svc.limit_ip(c, "verify");
    if (!t || !*t) throw AuthError(403, "otp_expired", "Email link is invalid or has expired");
    auto tx = svc.begin(c.ref);
    std::string session = verify_and_sign_in(svc, *tx, c, type, t, "", "");
    tx->commit();
    auto o = parse_object(session);
    fragment = "access_token=" + o->getValue<std::string>("access_token") +
               "&expires_at=" + std::to_string(o->getValue<int64_t>("expires_at")) +
               "&expires_in=" + std::to_string(o->getValue<int64_t>("expires_in")) +
               "&refresh_token=" + o->getValue<std::string>("refresh_token") +
               "&token_type=bearer&type=" + form(type);
  } catch (const AuthError& e) {
    std::string message =
        e.code == "otp_expired" ? "Email link is invalid or has expired" : e.what();
    fragment =
        "error=" + std::string(e.status == 429 ? "over_request_rate_limit" : "access_denied") +
        "&error_code=" + form(e.code) + "&error_description=" + form(message);
  }
  // The fragment reaches the browser but never a server log.
  res.status(303).header("Location", redirect + "#" + fragment);
  res.send("");
}

}  // namespace

void add_email_link_routes(alpaca::Host& host, Service& svc) {
  gotrue_route(host, svc, "POST", "/recover", recover);
  gotrue_route(host, svc, "POST", "/otp", otp);
  gotrue_route(host, svc, "POST", "/magiclink", otp);
  gotrue_route(host, svc, "POST", "/resend", resend);
  gotrue_route(host, svc, "POST", "/verify", verify_post);
  gotrue_route(host, svc, "GET", "/verify", verify_get, ALPACA_ROUTE_ANONYMOUS);
}

}  // namespace auth
