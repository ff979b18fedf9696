// OAuth2 / OIDC sign-in as GoTrue does it: GET /authorize sends the browser to the provider,
// GET /callback exchanges the provider's code, finds or creates the user and either puts a
// session in the redirect's fragment (implicit flow) or hands out a one-time auth code (PKCE),
// which POST /token?grant_type=pkce turns into a session.
//
// The state sent to the provider is a random token; only its SHA-256 is stored (in
// auth.alpaca_oauth_state, with the provider, the redirect and the PKCE flow state), it is used
// once and expires after ten minutes.
#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../json.hpp"
#include "../oauth_client.hpp"
#include "../oauth_provider.hpp"
#include "../project_settings.hpp"
#include "../users.hpp"
#include "route_util.hpp"
#include "routes.hpp"

namespace auth {

namespace {

constexpr int kStateMinutes = 10;
constexpr size_t kMaxStateLength = 256;

std::string query(alpaca::Request& req, const char* name) {
  const char* v = req.query(name);
  return v ? v : "";
}

std::string lower(std::string s) {
  for (char& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

// `url` with `params` (already encoded, "k=v&...") added to its query, before any fragment.
std::string with_query(const std::string& url, const std::string& params) {
  size_t hash = url.find('#');
  std::string base = hash == std::string::npos ? url : url.substr(0, hash);
  std::string frag = hash == std::string::npos ? "" : url.substr(hash);
  char sep = base.find('?') == std::string::npos ? '?' : '&';
  if (!base.empty() && (base.back() == '?' || base.back() == '&')) sep = '\0';
  return sep ? base + sep + params + frag : base + params + frag;
}

// `url` with its fragment replaced by `params`.
std::string with_fragment(const std::string& url, const std::string& params) {
  size_t hash = url.find('#');
  return (hash == std::string::npos ? url : url.substr(0, hash)) + "#" + params;
}

void redirect(alpaca::Response& res, const std::string& location) {
  res.status(302).header("Location", location);
  res.send("");
}

std::string base64url(const unsigned char* data, size_t len) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t n = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == len) {
    uint32_t n = uint32_t(data[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
  } else if (i + 2 == len) {
    uint32_t n = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
  }
  return out;
}

std::string s256_challenge(const std::string& verifier) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(verifier.data(), verifier.size(), md, &len, EVP_sha256(), nullptr);
  return base64url(md, len);
}

bool equal_ct(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

const OAuthProvider* enabled_provider(const ProjectSettings& s, const std::string& name) {
  auto it = s.oauth.find(name);
  if (it == s.oauth.end() || !it->second.enabled) return nullptr;
  return &it->second;
}

// ---------------------------------------------------------------------------------------------
// GET /authorize

void authorize(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  svc.limit_ip(c, "authorize");
  std::string provider = lower(query(req, "provider"));
  std::string challenge = query(req, "code_challenge");
  std::string method = lower(query(req, "code_challenge_method"));
  std::string extra_scopes = query(req, "scopes");

  bool pkce = !challenge.empty() || !method.empty();
  if (pkce) {
    if (challenge.empty() || method.empty())
      throw validation("PKCE flow requires code_challenge_method and code_challenge");
    if (method != "s256" && method != "plain")
      throw validation("code challenge method not supported");
    if (challenge.size() < 43 || challenge.size() > 128)
      throw validation("code challenge has to be between 43 and 128 characters");
  }

  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  const OAuthProvider* p = enabled_provider(s, provider);
  if (!p) throw validation("Unsupported provider: provider is not enabled");
  std::string redirect_to = s.pick_redirect(query(req, "redirect_to"));

  // Housekeeping: states nobody came back with.
  tx->exec("DELETE FROM auth.alpaca_oauth_state WHERE created_at < now() - interval '1 hour'");
  Param flow_state_id;
  if (pkce) {
    flow_state_id = tx->value(
        "INSERT INTO auth.flow_state (id, auth_code, code_challenge_method, code_challenge, "
        "provider_type, authentication_method, created_at, updated_at) VALUES "
        "(gen_random_uuid(), $1, $2::auth.code_challenge_method, $3, $4, 'oauth', now(), now()) "
        "RETURNING id::text",
        {random_token(40), method, challenge, provider});
  }
  std::string state = random_token(40);
  tx->exec(
      "INSERT INTO auth.alpaca_oauth_state (id, provider, redirect_to, flow_state_id) "
      "VALUES ($1, $2, $3, $4::uuid)",
      {sha256_hex(state), provider, redirect_to, flow_state_id});
  tx->commit();

  std::string scopes = p->scopes;
  if (!extra_scopes.empty()) scopes += (scopes.empty() ? "" : " ") + extra_scopes;
  std::string params = "client_id=" + url_encode(p->client_id) +
                       "&redirect_uri=" + url_encode(c.server_url + "/auth/v1/callback") +
                       "&response_type=code";
  if (!scopes.empty()) params += "&scope=" + url_encode(scopes);
  params += "&state=" + url_encode(state);
  redirect(res, with_query(p->authorize_url, params));
}

// ---------------------------------------------------------------------------------------------
// Users

// The user signing in with this provider identity: found by identity, linked by verified email,
// or created. Throws AuthError when sign-in is not allowed.
std::string find_or_create_user(Tx& tx, const ProjectSettings& s, const std::string& provider,
                                const Profile& p) {
  const std::string verified = p.email_verified ? "true" : "false";
  auto banned = [&tx](const std::string& user_id) {
    if (tx.value("SELECT 1 FROM auth.users WHERE id = $1::uuid AND banned_until > now()",
                 {user_id}))
      throw AuthError(403, "user_banned", "User is banned");
  };
  auto refresh_user = [&](const std::string& user_id) {
    // GoTrue keeps the user metadata in step with the provider's profile.
    tx.exec(
        "UPDATE auth.users SET raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || "
        "$2::jsonb, email_confirmed_at = CASE WHEN $3::boolean AND email = $4 THEN "
        "coalesce(email_confirmed_at, now()) ELSE email_confirmed_at END, updated_at = now() "
        "WHERE id = $1::uuid",
        {user_id, p.identity_data, verified, p.email});
  };

  auto existing = tx.value(
      "SELECT user_id::text FROM auth.identities WHERE provider = $1 AND provider_id = $2 "
      "FOR UPDATE",
      {provider, p.id});
  if (existing) {
    banned(*existing);
    tx.exec(
        "UPDATE auth.identities SET identity_data = $3::jsonb, last_sign_in_at = now(), "
        "updated_at = now() WHERE provider = $1 AND provider_id = $2",
        {provider, p.id, p.identity_data});
    refresh_user(*existing);
    return *existing;
  }

  const std::string unverified_message = "Unverified email with " + provider +
                                         ". Verify the email with " + provider + " and try again";
  if (!p.email.empty()) {
    if (auto user = find_user_by_email(tx, p.email)) {
      if (!p.email_verified)
        throw AuthError(422, "provider_email_needs_verification", unverified_message);
      if (user->banned) throw AuthError(403, "user_banned", "User is banned");
      tx.exec(
          "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, "
          "last_sign_in_at, created_at, updated_at, id) VALUES ($1, $2::uuid, $3::jsonb, $4, "
          "now(), now(), now(), gen_random_uuid())",
          {p.id, user->id, p.identity_data, provider});
      tx.exec(
          "UPDATE auth.users SET raw_app_meta_data = CASE WHEN coalesce(raw_app_meta_data -> "
          "'providers', '[]'::jsonb) ? $2 THEN raw_app_meta_data ELSE "
          "coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('providers', "
          "coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) || jsonb_build_array($2::text)) "
          "END, updated_at = now() WHERE id = $1::uuid",
          {user->id, provider});
      refresh_user(user->id);
      return user->id;
    }
  }

  if (s.disable_signup)
    throw AuthError(422, "signup_disabled", "Signups not allowed for this instance");
  if (p.email.empty()) throw validation("Error getting user email from external provider");
  if (!p.email_verified)
    throw AuthError(422, "provider_email_needs_verification", unverified_message);
  auto id = tx.value(
      "WITH u AS (INSERT INTO auth.users (instance_id, id, aud, role, email, email_confirmed_at, "
      "raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_sso_user, is_anonymous) "
      "VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', "
      "'authenticated', $1, CASE WHEN $2::boolean THEN now() END, jsonb_build_object('provider', "
      "$3::text, 'providers', jsonb_build_array($3::text)), $4::jsonb, now(), now(), false, false) "
      "ON CONFLICT (email) WHERE is_sso_user = false DO NOTHING RETURNING id), "
      "i AS (INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, "
      "last_sign_in_at, created_at, updated_at, id) SELECT $5, id, $4::jsonb, $3, now(), now(), "
      "now(), gen_random_uuid() FROM u) "
      "SELECT id::text FROM u",
      {p.email, verified, provider, p.identity_data, p.id});
  if (!id) throw AuthError(409, "conflict", "The user was created by another request; retry");
  return *id;
}

// ---------------------------------------------------------------------------------------------
// GET /callback

struct CallbackState {
  std::string provider, redirect_to, flow_state_id;
};

std::string error_params(const std::string& error, const std::string& code,
                         const std::string& description) {
  std::string out = "error=" + url_encode(error);
  if (!code.empty()) out += "&error_code=" + url_encode(code);
  out += "&error_description=" + url_encode(description);
  return out;
}

void callback(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  std::string state = query(req, "state");
  std::optional<CallbackState> st;
  std::string site_url;
  {
    auto tx = svc.begin(c.ref);
    ProjectSettings s = ProjectSettings::load(*tx);
    site_url = s.site_url;
    if (!state.empty() && state.size() <= kMaxStateLength) {
      auto row = tx->value(
          "DELETE FROM auth.alpaca_oauth_state WHERE id = $1 RETURNING json_build_object("
          "'provider', provider, 'redirect_to', redirect_to, 'flow_state_id', "
          "coalesce(flow_state_id::text, ''), 'fresh', created_at > now() - make_interval(mins "
          "=> $2::int))::text",
          {sha256_hex(state), std::to_string(kStateMinutes)});
      if (row) {
        auto o = parse_object(*row);
        if (o->getValue<bool>("fresh"))
          st = CallbackState{o->getValue<std::string>("provider"),
                             o->getValue<std::string>("redirect_to"),
                             o->getValue<std::string>("flow_state_id")};
      }
    }
    tx->commit();
  }
  if (!st)
    return redirect(res,
                    with_fragment(site_url, error_params("invalid_request", "bad_oauth_state",
                                                         "OAuth callback with invalid state")));

  const bool pkce = !st->flow_state_id.empty();
  // Errors go where supabase-js looks for them: the query for PKCE, the fragment otherwise.
  auto fail = [&](const std::string& error, const std::string& code,
                  const std::string& description) {
    if (pkce) {
      try {
        auto tx = svc.begin(c.ref);
        tx->exec("DELETE FROM auth.flow_state WHERE id = $1::uuid", {st->flow_state_id});
        tx->commit();
      } catch (const std::exception&) {
      }
    }
    std::string params = error_params(error, code, description);
    redirect(res,
             pkce ? with_query(st->redirect_to, params) : with_fragment(st->redirect_to, params));
  };

  std::string provider_error = query(req, "error");
  if (!provider_error.empty())
    return fail(
        provider_error, "",
        query(req, "error_description").empty() ? provider_error : query(req, "error_description"));
  std::string code = query(req, "code");
  if (code.empty())
    return fail("invalid_request", "bad_oauth_callback", "OAuth callback with missing code");

  OAuthProvider provider;
  {
    auto tx = svc.begin(c.ref);
    ProjectSettings s = ProjectSettings::load(*tx);
    tx->commit();
    const OAuthProvider* p = enabled_provider(s, st->provider);
    if (!p)
      return fail("invalid_request", "validation_failed",
                  "Unsupported provider: provider is not enabled");
    provider = *p;
  }

  // The provider's side, with no database connection held.
  ProviderTokens tokens;
  Profile profile;
  try {
    tokens = exchange_code(provider, code, c.server_url + "/auth/v1/callback");
    profile = fetch_profile(provider, tokens.access_token);
  } catch (const std::exception& e) {
    svc.host().warn("auth: OAuth sign-in with " + st->provider + " for project " + c.ref +
                    " failed: " + e.what());
    return fail("server_error", "unexpected_failure",
                "Error getting user profile from external provider");
  }

  try {
    auto tx = svc.begin(c.ref);
    ProjectSettings s = ProjectSettings::load(*tx);
    std::string user_id = find_or_create_user(*tx, s, st->provider, profile);
    if (pkce) {
      auto auth_code = tx->value(
          "UPDATE auth.flow_state SET user_id = $2::uuid, provider_access_token = $3, "
          "provider_refresh_token = nullif($4, ''), auth_code_issued_at = now(), updated_at = "
          "now() WHERE id = $1::uuid RETURNING auth_code",
          {st->flow_state_id, user_id, tokens.access_token, tokens.refresh_token});
      if (!auth_code)
        throw AuthError(404, "flow_state_not_found",
                        "invalid flow state, no valid flow state found");
      tx->commit();
      return redirect(res, with_query(st->redirect_to, "code=" + url_encode(*auth_code)));
    }
    std::string session = svc.new_session(*tx, c, user_id, "oauth");
    tx->commit();
    auto o = parse_object(session);
    std::string fragment = "access_token=" + url_encode(o->getValue<std::string>("access_token")) +
                           "&expires_at=" + std::to_string(o->getValue<int64_t>("expires_at")) +
                           "&expires_in=" + std::to_string(o->getValue<int64_t>("expires_in")) +
                           "&provider_token=" + url_encode(tokens.access_token);
    if (!tokens.refresh_token.empty())
      fragment += "&provider_refresh_token=" + url_encode(tokens.refresh_token);
    fragment += "&refresh_token=" + url_encode(o->getValue<std::string>("refresh_token")) +
                "&token_type=bearer";
    // The fragment reaches the browser but never a server log.
    redirect(res, with_fragment(st->redirect_to, fragment));
  } catch (const AuthError& e) {
    std::string error = e.status >= 500                      ? "server_error"
                        : e.status == 403 || e.status == 422 ? "access_denied"
                                                             : "invalid_request";
    fail(error, e.code, e.what());
  } catch (const DbError& e) {
    svc.host().warn("auth: OAuth sign-in with " + st->provider + " for project " + c.ref +
                    ": database error: " + e.what());
    fail("server_error", "unexpected_failure", "Database error saving the user");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// POST /token?grant_type=pkce

void pkce_grant(Service& svc, alpaca::Request&, alpaca::Response& res, const Caller& c,
                const Poco::JSON::Object& body) {
  svc.limit_ip(c, "token");
  std::string auth_code = str_field(body, "auth_code");
  std::string verifier = str_field(body, "code_verifier");
  if (auth_code.empty() || verifier.empty())
    throw validation("invalid request: both auth code and code verifier should be non-empty");
  auto tx = svc.begin(c.ref);
  // Deleted here so the code works once; an error below rolls the deletion back.
  auto row = tx->value(
      "DELETE FROM auth.flow_state WHERE auth_code = $1 AND user_id IS NOT NULL RETURNING "
      "json_build_object('user_id', user_id::text, 'method', code_challenge_method::text, "
      "'challenge', code_challenge, 'provider_token', coalesce(provider_access_token, ''), "
      "'provider_refresh_token', coalesce(provider_refresh_token, ''), 'amr', "
      "authentication_method, 'expired', coalesce(auth_code_issued_at, created_at) < now() - "
      "make_interval(secs => $2::bigint))::text",
      {auth_code, std::to_string(svc.config().flow_state_expiry)});
  if (!row)
    throw AuthError(404, "flow_state_not_found", "invalid flow state, no valid flow state found");
  auto o = parse_object(*row);
  if (o->getValue<bool>("expired")) {
    tx->commit();  // an expired code goes for good
    throw AuthError(400, "flow_state_expired", "invalid flow state, flow state has expired");
  }
  std::string method = o->getValue<std::string>("method");
  std::string challenge = o->getValue<std::string>("challenge");
  std::string computed = method == "s256" ? s256_challenge(verifier) : verifier;
  if (!equal_ct(computed, challenge))
    throw AuthError(400, "bad_code_verifier",
                    "code challenge does not match previously saved code verifier");
  std::string user_id = o->getValue<std::string>("user_id");
  if (tx->value("SELECT 1 FROM auth.users WHERE id = $1::uuid AND banned_until > now()", {user_id}))
    throw AuthError(400, "user_banned", "User is banned");
  std::string amr = o->getValue<std::string>("amr");
  std::string session = svc.new_session(*tx, c, user_id, amr.empty() ? "oauth" : amr);
  tx->commit();
  std::string provider_token = o->getValue<std::string>("provider_token");
  std::string provider_refresh = o->getValue<std::string>("provider_refresh_token");
  std::string extra;
  if (!provider_token.empty())
    extra += "\"provider_token\":\"" + alpaca::json_escape(provider_token) + "\",";
  if (!provider_refresh.empty())
    extra += "\"provider_refresh_token\":\"" + alpaca::json_escape(provider_refresh) + "\",";
  if (!extra.empty() && !session.empty() && session[0] == '{') session.insert(1, extra);
  send_json(res, 200, session);
}

void add_oauth_routes(alpaca::Host& host, Service& svc) {
  gotrue_route(host, svc, "GET", "/authorize", authorize, ALPACA_ROUTE_ANONYMOUS);
  gotrue_route(host, svc, "GET", "/callback", callback, ALPACA_ROUTE_ANONYMOUS);
}

}  // namespace auth
