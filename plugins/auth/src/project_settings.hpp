#pragma once
// A project's auth settings: site URL, redirect allow-list, autoconfirm, sign-ups, and the
// providers (email and OAuth2/OIDC). Stored in auth.alpaca_settings (client secrets in their own
// column, never shown) and read inside the transaction that needs them, so a change applies to
// the very next request on every host.
#include <Poco/JSON/Object.h>

#include <map>
#include <string>
#include <vector>

#include "db.hpp"

namespace auth {

struct OAuthProvider {
  bool enabled = false;
  std::string client_id, secret;
  std::string authorize_url, token_url, userinfo_url, emails_url, scopes;
};

struct ProjectSettings {
  std::string site_url = "http://localhost:3000";
  std::vector<std::string> redirect_urls;
  bool autoconfirm = false;
  bool disable_signup = false;
  bool email_enabled = true;
  std::map<std::string, OAuthProvider> oauth;  // google and github always, plus any added

  static ProjectSettings load(Tx& tx);
  // The management view: everything but secrets (`secret_set` instead).
  Poco::JSON::Object::Ptr to_json() const;
  // GET /settings of GoTrue.
  std::string public_settings_json() const;
  // `requested` when it is allowed (same origin as the site URL, or matching a redirect_urls
  // pattern: `*` within a path segment or host label, `**` anything), else the site URL.
  std::string pick_redirect(const std::string& requested) const;
  bool redirect_allowed(const std::string& url) const;
};

// Validates a PATCH body and stores the result; throws AuthError(400) naming the bad field.
// Returns the new settings.
ProjectSettings patch_settings(Tx& tx, const Poco::JSON::Object& patch);

// Glob match as the redirect allow-list uses it (exposed for tests).
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace auth
