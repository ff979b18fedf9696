// The "storage" plugin: Supabase Storage's /storage/v1 for every project, and the management
// API's /projects/:id/storage routes.
#include <alpaca/plugin.hpp>

#include "routes/routes.hpp"
#include "service.hpp"

namespace storage {

class StoragePlugin : public alpaca::Plugin {
 public:
  explicit StoragePlugin(alpaca::Host& host) : Plugin(host), service_(host) {
    add_bucket_routes(host, service_);
    add_object_routes(host, service_);
    add_list_routes(host, service_);
    add_object_op_routes(host, service_);
    add_signed_routes(host, service_);
    add_management_routes(host, service_);
    add_management_object_routes(host, service_);
    host.on_project_created([this](const std::string& ref) { service_.ensure_schema(ref); });
  }

  void start() override {
    const auto* db = host().get<alpaca_db_api>(ALPACA_DB_INTERFACE, ALPACA_DB_VERSION);
    if (!db || !ALPACA_DB_HAS(db, request_statement))
      throw std::runtime_error(
          "the host's alpaca.db lacks request_statement (a newer host is needed)");
    service_.set_db(db);
    service_.start_sweeper();
  }

  void stop() override { service_.stop_sweeper(); }

 private:
  Service service_;
};

}  // namespace storage

ALPACA_PLUGIN(storage::StoragePlugin, "storage", "0.1.0", "Supabase-compatible /storage/v1")
