#pragma once
// The route groups of the auth plugin, and what they share.
#include <Poco/JSON/Object.h>

#include <alpaca/plugin.hpp>

#include "../service.hpp"

namespace auth {

void add_account_routes(alpaca::Host& host, Service& svc);  // settings signup token logout user
void add_email_link_routes(alpaca::Host& host,
                           Service& svc);                 // recover verify otp magiclink resend
void add_admin_routes(alpaca::Host& host, Service& svc);  // /admin/... and generate_link
void add_management_routes(alpaca::Host& host, Service& svc);  // /projects/:id/auth/...
void add_oauth_routes(alpaca::Host& host, Service& svc);       // authorize callback

// POST /token?grant_type=pkce (oauth.cpp).
void pkce_grant(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c,
                const Poco::JSON::Object& body);

// 403 bad_jwt when the request's Bearer token was refused.
void require_valid_bearer(const Caller& c);
// 401/403 unless the caller is a signed-in user.
void require_user(const Caller& c);
// The caller's user JSON; 403 user_not_found / session_not_found when either is gone.
std::string current_user(Tx& tx, const Caller& c);
// Makes `email` the user's (confirmed) address.
void apply_email_change(Tx& tx, const std::string& user_id, const std::string& email);

}  // namespace auth
