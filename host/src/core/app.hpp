#pragma once
// The composition root: owns configuration, the database, caches, plugins and the HTTP server,
// and runs the start/stop sequence.
#include <alpaca/plugin.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/interfaces.hpp"
#include "http/router.hpp"

namespace alpaca {
namespace db {
class EmbeddedPostgres;
class PoolSet;
class DataDirLock;
class SchemaWatch;
}  // namespace db
class ControlPlane;
class PluginManager;
class HttpServer;

struct Settings {
  std::string http_host = "127.0.0.1";
  int http_port = 8000;
  int http_threads = 64;
  int http_queue = 256;
  int64_t max_body_bytes = 50 * 1024 * 1024;
  std::string base_domain;  // projects also answer on <ref>.<base_domain>
  std::string public_url;   // how clients reach this server (server_url of projects)
  std::string base_scheme = "https";
  std::string data_dir;
  std::string database_url;  // empty = embedded
  std::string control_db = "alpaca";
  std::string plugin_dir;
  std::string plugins;  // comma list; empty = all in plugin_dir
  bool log_requests = true;
  std::string cors_origin = "*";
  bool trust_forwarded_for = false;  // client address from X-Forwarded-For (behind a proxy)
};

class App {
 public:
  App(Config config, std::string argv0);
  ~App();

  // Starts everything, serves until SIGINT/SIGTERM, then stops. Returns the exit code.
  int run();

  // For tests: start and stop without waiting for a signal.
  void start();
  void stop();

  Config& config() { return config_; }
  const Settings& settings() const { return settings_; }
  Router& router() { return router_; }
  Interfaces& interfaces() { return interfaces_; }
  // Plugins' on_project_created hooks: added while plugins are created, run after each project
  // is created.
  struct ProjectHook {
    alpaca_project_hook_fn fn;
    void* user;
    std::string plugin;
  };
  std::vector<ProjectHook>& project_hooks() { return project_hooks_; }
  db::PoolSet& pools() { return *pools_; }
  // Pools that log in as the management role alpaca_admin (not a superuser).
  db::PoolSet& admin_pools() { return *admin_pools_; }
  // Pools that log in as authenticator, for sessions of the API roles.
  db::PoolSet& api_pools() { return *api_pools_; }
  // Versions of project database schemas (for plugins' catalog caches).
  db::SchemaWatch& schema_watch() { return *schema_watch_; }
  // Closes every pooled connection to `dbname` (before it is dropped).
  void forget_database(const std::string& dbname);
  ControlPlane& control() { return *control_; }
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Where the per-project databases live, for project objects (socket dir or URL host).
  std::string db_host() const;
  // libpq conninfo for a database of this server's cluster.
  std::string conninfo(const std::string& dbname) const;

 private:
  void load_settings(const std::string& argv0);

  Config config_;
  Settings settings_;
  Router router_;
  std::vector<ProjectHook> project_hooks_;
  Interfaces interfaces_;
  std::unique_ptr<db::DataDirLock> lock_;
  std::unique_ptr<db::EmbeddedPostgres> pg_;
  std::unique_ptr<db::PoolSet> pools_;
  std::unique_ptr<db::PoolSet> admin_pools_;
  std::unique_ptr<db::PoolSet> api_pools_;
  std::unique_ptr<db::SchemaWatch> schema_watch_;
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<PluginManager> plugins_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
};

}  // namespace alpaca
