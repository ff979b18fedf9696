#pragma once
// The provider side of an OAuth2 / OIDC sign-in: exchanging the code at the token endpoint and
// reading who the user is (userinfo, and GitHub's emails list), normalised to one profile.
#include <stdexcept>
#include <string>

#include "project_settings.hpp"

namespace auth {

struct ProviderTokens {
  std::string access_token, refresh_token;
};

struct Profile {
  std::string id, email, name, username, avatar_url;
  bool email_verified = false;
  std::string identity_data;  // JSON object text, GoTrue's identity_data / user_metadata
};

// A failure talking to the provider: logged (without secrets) and shown as server_error.
struct ProviderFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

ProviderTokens exchange_code(const OAuthProvider& p, const std::string& code,
                             const std::string& redirect_uri);
Profile fetch_profile(const OAuthProvider& p, const std::string& access_token);

}  // namespace auth
