// GoTrue's account routes: settings, signup, token (password, refresh_token), logout, user.
#include "../json.hpp"
#include "../links.hpp"
#include "../password.hpp"
#include "../project_settings.hpp"
#include "../users.hpp"
#include "route_util.hpp"
#include "routes.hpp"

namespace auth {

namespace {

// A bcrypt hash of nothing anyone knows: checked when the email is unknown so that a miss costs
// as long as a wrong password.
const std::string& decoy_hash(int cost) {
  static const std::string h = hash_password(random_token(24), cost);
  return h;
}

// GoTrue's answer to a signup for a confirmed address when confirmations are on: a user that
// looks real but is not, so the answer tells nothing about who has an account.
std::string obfuscated_user(const std::string& email, const std::string& data) {
  std::string id = random_token(32);
  for (char& ch : id) ch = "0123456789abcdef"[static_cast<unsigned char>(ch) % 16];
  id = id.substr(0, 8) + "-" + id.substr(8, 4) + "-4" + id.substr(13, 3) + "-a" + id.substr(17, 3) +
       "-" + id.substr(20, 12);
  return R"({"id":")" + id + R"(","aud":"authenticated","role":"authenticated","email":")" +
         alpaca::json_escape(email) + R"(","phone":"","confirmation_sent_at":null,)" +
         R"("app_metadata":{"provider":"email","providers":["email"]},"user_metadata":)" +
         (data.empty() ? "{}" : data) + R"(,"identities":[],"is_anonymous":false})";
}

void settings(Service& svc, alpaca::Request&, alpaca::Response& res, const Caller& c) {
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  tx->commit();
  send_json(res, 200, s.public_settings_json());
}

void signup(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "signup");
  auto body = body_object(req);
  std::string email = normalize_email(str_field(*body, "email"));
  std::string password = str_field(*body, "password");
  std::string data = object_field(*body, "data");
  if (!body->has("email") && body->has("phone"))
    throw AuthError(400, "phone_provider_disabled", "Phone signups are disabled");
  if (email.empty()) throw validation("To signup, please provide your email");
  if (!valid_email(email)) throw validation("Unable to validate email address: invalid format");
  if (password.empty()) throw validation("Signup requires a valid password");
  check_password(password, svc.config().password_min_length);
  std::string hash = hash_password(password, svc.config().bcrypt_cost);

  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  if (!s.email_enabled)
    throw AuthError(422, "email_provider_disabled", "Email signups are disabled");
  if (s.disable_signup)
    throw AuthError(422, "signup_disabled", "Signups not allowed for this instance");
  std::string redirect = s.pick_redirect(redirect_param(req, *body));

  NewUser nu;
  nu.email = email;
  nu.password_hash = hash;
  nu.user_metadata = data.empty() ? "{}" : data;
  nu.confirmed = s.autoconfirm;
  auto id = insert_user(*tx, nu);
  if (!id) {  // the address has an account
    auto existing = find_user_by_email(*tx, email);
    if (s.autoconfirm || !existing)
      throw AuthError(422, "user_already_exists", "User already registered");
    if (existing->confirmed) {
      tx->commit();
      return send_json(res, 200, obfuscated_user(email, data));
    }
    // Not confirmed yet: GoTrue sends the confirmation again (and keeps the first password).
    svc.limit_email(c, email);
    std::string user_id = existing->id;
    send_link(svc, std::move(tx), c, user_id, "signup", email, redirect);
    auto again = svc.begin(c.ref);
    auto user = svc.user_json(*again, user_id);
    again->commit();
    return send_json(res, 200, user.value_or("{}"));
  }
  if (s.autoconfirm) {
    std::string session = svc.new_session(*tx, c, *id, "password");
    tx->commit();
    return send_json(res, 200, session);
  }
  svc.limit_email(c, email);
  send_link(svc, std::move(tx), c, *id, "signup", email, redirect);
  auto again = svc.begin(c.ref);
  auto user = svc.user_json(*again, *id);
  again->commit();
  send_json(res, 200, user.value_or("{}"));
}

void password_grant(Service& svc, alpaca::Request&, alpaca::Response& res, const Caller& c,
                    const Poco::JSON::Object& body) {
  svc.limit_ip(c, "token");
  std::string email = normalize_email(str_field(body, "email"));
  std::string password = str_field(body, "password");
  if (email.empty() && body.has("phone"))
    throw AuthError(400, "phone_provider_disabled", "Phone logins are disabled");
  std::optional<UserRow> user;
  {
    auto tx = svc.begin(c.ref);
    ProjectSettings s = ProjectSettings::load(*tx);
    if (!s.email_enabled)
      throw AuthError(400, "email_provider_disabled", "Email logins are disabled");
    if (!email.empty()) user = find_user_by_email(*tx, email);
    tx->commit();
  }
  // The bcrypt work happens with no database connection held.
  bool ok = verify_password(password, user && !user->encrypted_password.empty()
                                          ? user->encrypted_password
                                          : decoy_hash(svc.config().bcrypt_cost));
  if (!user || !ok || password.empty())
    throw AuthError(400, "invalid_credentials", "Invalid login credentials");
  if (user->banned) throw AuthError(400, "user_banned", "User is banned");
  if (!user->confirmed) throw AuthError(400, "email_not_confirmed", "Email not confirmed");
  auto tx = svc.begin(c.ref);
  std::string session = svc.new_session(*tx, c, user->id, "password");
  tx->commit();
  send_json(res, 200, session);
}

void refresh_grant(Service& svc, alpaca::Response& res, const Caller& c,
                   const Poco::JSON::Object& body) {
  svc.limit(c.ref + "|refresh|" + c.ip, svc.config().limits.refresh_per_ip);
  std::string token = str_field(body, "refresh_token");
  if (token.empty()) throw validation("refresh_token required");
  const AuthError not_found(400, "refresh_token_not_found",
                            "Invalid Refresh Token: Refresh Token Not Found");
  auto tx = svc.begin(c.ref);
  std::string hash = sha256_hex(token);
  auto row = tx->value(
      "SELECT json_build_object('id', rt.id, 'revoked', coalesce(rt.revoked, false), "
      "'session', s.id, 'user', s.user_id, 'age', extract(epoch FROM now() - rt.updated_at), "
      "'method', coalesce((SELECT authentication_method FROM auth.mfa_amr_claims m WHERE "
      "m.session_id = s.id ORDER BY created_at LIMIT 1), 'password'), 'method_at', "
      "extract(epoch FROM s.created_at)::bigint, 'expired', coalesce(s.not_after < now(), false), "
      "'banned', coalesce(u.banned_until > now(), false))::text "
      "FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id "
      "JOIN auth.users u ON u.id = s.user_id WHERE rt.token = $1 FOR UPDATE OF rt, s",
      {hash});
  if (!row) throw not_found;
  auto r = parse_object(*row);
  std::string session_id = r->getValue<std::string>("session");
  std::string user_id = r->getValue<std::string>("user");
  if (r->getValue<bool>("expired") || r->getValue<bool>("banned")) {
    tx->exec("DELETE FROM auth.sessions WHERE id = $1::uuid", {session_id});
    tx->commit();
    throw AuthError(400, "session_expired", "Invalid Refresh Token: Session Expired");
  }
  if (r->getValue<bool>("revoked")) {
    if (r->getValue<double>("age") > static_cast<double>(svc.config().refresh_reuse_interval)) {
      // Reuse of a rotated token: someone else may hold it. The whole session goes.
      tx->exec("DELETE FROM auth.sessions WHERE id = $1::uuid", {session_id});
      tx->commit();
      svc.host().warn("auth: reuse of a revoked refresh token; session " + session_id +
                      " of user " + user_id + " revoked");
      throw AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
    }
  }
  // Rotation in one round trip: the used token is revoked (a reuse inside the window leaves it
  // as it is), its child is stored, the session is touched, and the user read.
  std::string fresh = random_token(32);
  auto user = tx->value(
      "WITH revoked AS (UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() "
      "WHERE id = $5::bigint AND NOT coalesce(revoked, false) RETURNING id), "
      "child AS (INSERT INTO auth.refresh_tokens (token, user_id, revoked, created_at, "
      "updated_at, parent, session_id) VALUES ($1, $2, false, now(), now(), $3, $4::uuid) "
      "RETURNING id), "
      "touched AS (UPDATE auth.sessions SET refreshed_at = now() AT TIME ZONE 'utc', "
      "updated_at = now(), user_agent = coalesce(nullif($6, ''), user_agent), "
      "ip = coalesce(nullif($7, '')::inet, ip) WHERE id = $4::uuid RETURNING id) "
      "SELECT auth.alpaca_user_json(u)::text FROM auth.users u WHERE u.id = $2::uuid",
      {sha256_hex(fresh), user_id, hash, session_id, std::to_string(r->getValue<int64_t>("id")),
       c.user_agent, c.ip});
  if (!user) throw not_found;
  tx->commit();
  send_json(res, 200,
            svc.session_json(c, *user, session_id, fresh, r->getValue<std::string>("method"),
                             r->getValue<int64_t>("method_at")));
}

void token(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  const char* grant = req.query("grant_type");
  std::string g = grant ? grant : "";
  auto body = body_object(req);
  if (g == "password") return password_grant(svc, req, res, c, *body);
  if (g == "refresh_token") return refresh_grant(svc, res, c, *body);
  if (g == "pkce") return pkce_grant(svc, req, res, c, *body);
  throw AuthError(400, "unsupported_grant_type",
                  g.empty() ? "grant_type is missing (password, refresh_token or pkce)"
                            : "unsupported grant_type '" + g + "'");
}

void logout(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_user(c);
  const char* q = req.query("scope");
  std::string scope = q ? q : "global";
  auto tx = svc.begin(c.ref);
  if (scope == "local") {
    tx->exec("DELETE FROM auth.sessions WHERE id = $1::uuid AND user_id = $2::uuid",
             {c.session_id.empty() ? std::nullopt : Param(c.session_id), c.user_id});
  } else if (scope == "global") {
    tx->exec("DELETE FROM auth.sessions WHERE user_id = $1::uuid", {c.user_id});
  } else if (scope == "others") {
    tx->exec("DELETE FROM auth.sessions WHERE user_id = $1::uuid AND id IS DISTINCT FROM $2::uuid",
             {c.user_id, c.session_id.empty() ? std::nullopt : Param(c.session_id)});
  } else {
    throw validation("scope must be global, local or others");
  }
  tx->commit();
  res.status(204);
  res.send("");
}

void get_user(Service& svc, alpaca::Request&, alpaca::Response& res, const Caller& c) {
  require_user(c);
  auto tx = svc.begin(c.ref);
  std::string user = current_user(*tx, c);
  tx->commit();
  send_json(res, 200, user);
}

void put_user(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_user(c);
  auto body = body_object(req);
  std::string password = str_field(*body, "password");
  std::string email = normalize_email(str_field(*body, "email"));
  std::string data = object_field(*body, "data");
  std::string hash;
  if (body->has("password")) {
    check_password(password, svc.config().password_min_length);
    hash = hash_password(password, svc.config().bcrypt_cost);
  }
  if (body->has("email") && !valid_email(email))
    throw validation("Unable to validate email address: invalid format");
  auto tx = svc.begin(c.ref);
  current_user(*tx, c);  // the user and the session exist
  if (!hash.empty()) {
    auto old = tx->value(
        "SELECT coalesce(encrypted_password, '') FROM auth.users WHERE id = $1::uuid", {c.user_id});
    if (old && verify_password(password, *old))
      throw AuthError(422, "same_password",
                      "New password should be different from the old password.");
    tx->exec(
        "UPDATE auth.users SET encrypted_password = $2, updated_at = now() WHERE id = $1::uuid",
        {c.user_id, hash});
  }
  if (!data.empty()) merge_metadata(*tx, c.user_id, "raw_user_meta_data", data);
  if (!email.empty()) {
    auto current = tx->value("SELECT email FROM auth.users WHERE id = $1::uuid", {c.user_id});
    if (current.value_or("") != email) {
      if (tx->value("SELECT 1 FROM auth.users WHERE email = $1 AND id <> $2::uuid",
                    {email, c.user_id}))
        throw AuthError(422, "email_exists",
                        "A user with this email address has already been registered");
      ProjectSettings s = ProjectSettings::load(*tx);
      if (s.autoconfirm) {
        apply_email_change(*tx, c.user_id, email);
      } else {
        svc.limit_email(c, email);
        tx->exec("UPDATE auth.users SET email_change = $2, updated_at = now() WHERE id = $1::uuid",
                 {c.user_id, email});
        std::string redirect = s.pick_redirect(redirect_param(req, *body));
        send_link(svc, std::move(tx), c, c.user_id, "email_change", email, redirect);
        tx = svc.begin(c.ref);
      }
    }
  }
  auto user = svc.user_json(*tx, c.user_id);
  tx->commit();
  send_json(res, 200, user.value_or("{}"));
}

}  // namespace

void require_valid_bearer(const Caller& c) {
  if (!c.bearer_error.empty())
    throw AuthError(403, "bad_jwt",
                    "invalid JWT: unable to parse or verify signature, " + c.bearer_error);
}

void require_user(const Caller& c) {
  require_valid_bearer(c);
  if (c.role.empty() && c.user_id.empty())
    throw AuthError(401, "no_authorization", "This endpoint requires a Bearer token");
  if (c.user_id.empty() || !valid_uuid(c.user_id))
    throw AuthError(403, "bad_jwt", "invalid claim: missing sub claim");
}

std::string current_user(Tx& tx, const Caller& c) {
  auto row = tx.value(
      "SELECT json_build_object('u', (SELECT auth.alpaca_user_json(u) FROM auth.users u WHERE "
      "u.id = $1::uuid), 's', $2::uuid IS NULL OR EXISTS (SELECT 1 FROM auth.sessions WHERE id = "
      "$2::uuid))::text",
      {c.user_id, c.session_id.empty() ? std::nullopt : Param(c.session_id)});
  auto o = parse_object(row.value_or("{}"));
  if (!o->has("u") || o->isNull("u"))
    throw AuthError(403, "user_not_found", "User from sub claim in JWT does not exist");
  if (!o->getValue<bool>("s"))
    throw AuthError(403, "session_not_found",
                    "Session from session_id claim in JWT does not exist");
  return to_text(o->get("u"));
}

void apply_email_change(Tx& tx, const std::string& user_id, const std::string& email) {
  tx.exec(
      "UPDATE auth.users SET email = $2, email_change = '', email_change_sent_at = NULL, "
      "email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now() "
      "WHERE id = $1::uuid",
      {user_id, email});
  tx.exec(
      "UPDATE auth.identities SET identity_data = identity_data || jsonb_build_object('email', "
      "$2::text), updated_at = now() WHERE user_id = $1::uuid AND provider = 'email'",
      {user_id, email});
}

void add_account_routes(alpaca::Host& host, Service& svc) {
  gotrue_route(host, svc, "GET", "/settings", settings);
  gotrue_route(host, svc, "POST", "/signup", signup);
  gotrue_route(host, svc, "POST", "/token", token);
  gotrue_route(host, svc, "POST", "/logout", logout);
  gotrue_route(host, svc, "GET", "/user", get_user);
  gotrue_route(host, svc, "PUT", "/user", put_user);
}

}  // namespace auth
