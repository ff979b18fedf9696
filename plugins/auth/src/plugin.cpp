// The "auth" plugin: Supabase Auth's (GoTrue's) /auth/v1 for every project, and the management
// API's /projects/:id/auth/users and /providers.
#include <alpaca/plugin.hpp>

#include "routes/routes.hpp"
#include "service.hpp"

namespace auth {

class AuthPlugin : public alpaca::Plugin {
 public:
  explicit AuthPlugin(alpaca::Host& host) : Plugin(host), service_(host, Config::load(host)) {
    if (!ALPACA_HOST_HAS_MINOR(host.api(), 1))
      throw std::runtime_error("the auth plugin needs a server with ABI 1.1 (token signing)");
    add_account_routes(host, service_);
    add_email_link_routes(host, service_);
    add_admin_routes(host, service_);
    add_oauth_routes(host, service_);
    add_management_routes(host, service_);
    // New projects get the auth schema at once, so their tables can reference auth.users.
    host.on_project_created([this](const std::string& ref) { service_.ensure_schema(ref); });
  }

  void start() override {
    const auto* db = host().get<alpaca_db_api>(ALPACA_DB_INTERFACE, ALPACA_DB_VERSION);
    if (!db) throw std::runtime_error("the host does not provide alpaca.db v1");
    service_.set_db(db);
    const Config& c = service_.config();
    host().info("auth: ready (access tokens " + std::to_string(c.jwt_expiry) + " s, bcrypt cost " +
                std::to_string(c.bcrypt_cost) + ", " +
                (c.smtp.host.empty() ? std::string("no SMTP: emails kept in auth.alpaca_outbox")
                                     : "SMTP " + c.smtp.host + ":" + std::to_string(c.smtp.port)) +
                ")");
  }

 private:
  Service service_;
};

}  // namespace auth

ALPACA_PLUGIN(auth::AuthPlugin, "auth", "0.1.0", "GoTrue-compatible /auth/v1 and user management")
