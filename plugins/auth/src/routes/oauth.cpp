// OAuth2 / OIDC sign-in: /authorize, /callback and the PKCE grant. (Being written.)
#include "route_util.hpp"
#include "routes.hpp"

namespace auth {

void pkce_grant(Service&, alpaca::Request&, alpaca::Response&, const Caller&,
                const Poco::JSON::Object&) {
  throw AuthError(400, "flow_state_not_found", "invalid flow state, no valid flow state found");
}

void add_oauth_routes(alpaca::Host&, Service&) {}

}  // namespace auth
