#include "core/app.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "control/control_plane.hpp"
#include "control/core_plugin.hpp"
#include "control/project_database.hpp"
#include "db/data_dir_lock.hpp"
#include "db/db_interface.hpp"
#include "db/embedded_postgres.hpp"
#include "db/pg.hpp"
#include "db/pool.hpp"
#include "db/schema_watch.hpp"
#include "http/server.hpp"
#include "plugins/plugin_manager.hpp"

namespace alpaca {
namespace fs = std::filesystem;

App::App(Config config, std::string argv0) : config_(std::move(config)) {
  load_settings(argv0);
}

App::~App() {
  stop();
}

void App::load_settings(const std::string& argv0) {
  auto& c = config_;
  auto& s = settings_;
  s.http_host = c.get("http.host", s.http_host);
  s.http_port = static_cast<int>(c.get_int("http.port", s.http_port));
  if (s.http_port < 0 || s.http_port > 65535)
    throw std::runtime_error("http.port (ALPACA_HTTP_PORT) must be 0-65535");
  s.http_threads = static_cast<int>(c.get_int("http.threads", s.http_threads));
  s.http_queue = static_cast<int>(c.get_int("http.queue", s.http_queue));
  s.max_body_bytes = c.get_int("http.max_body_bytes", s.max_body_bytes);
  s.base_domain = c.get("server.base_domain", "");
  s.base_scheme = c.get("server.base_scheme", s.base_scheme);
  std::string host_for_url =
      s.http_host == "0.0.0.0" || s.http_host == "::" ? "127.0.0.1" : s.http_host;
  s.public_url =
      c.get("server.public_url", "http://" + host_for_url + ":" + std::to_string(s.http_port));
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  s.data_dir = fs::absolute(c.get("data_dir", "./data")).lexically_normal().string();
  s.database_url = c.get("database.url", "");
  s.control_db = c.get("database.control_db", s.control_db);
  s.plugins = c.get("plugins", "");
  // Plugins live at ../lib/alpaca/plugins from the binary: the build tree and /usr alike.
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = fs::absolute(argv0);
  s.plugin_dir = c.get(
      "plugin_dir", (exe.parent_path() / ALPACA_PLUGIN_RELATIVE_DIR).lexically_normal().string());
  s.log_requests = c.get_bool("log.requests", true);
  s.cors_origin = c.get("cors.origin", "*");
  s.trust_forwarded_for = c.get_bool("server.trust_forwarded_for", false);
}

std::string App::conninfo(const std::string& dbname) const {
  if (pg_) return pg_->conninfo(dbname);
  return db::conninfo_with_dbname(settings_.database_url, dbname);
}

void App::forget_database(const std::string& dbname) {
  if (schema_watch_) schema_watch_->forget(dbname);
  for (auto* set : {pools_.get(), admin_pools_.get(), api_pools_.get()})
    if (set) set->forget(dbname);
}

std::string App::db_host() const {
  if (pg_) return pg_->socket_dir();
  PQconninfoOption* opts = PQconninfoParse(settings_.database_url.c_str(), nullptr);
  std::string host = "localhost";
  for (auto* o = opts; o && o->keyword; ++o)
    if (std::string(o->keyword) == "host" && o->val && *o->val) host = o->val;
  PQconninfoFree(opts);
  return host;
}

void App::start() {
  auto t0 = std::chrono::steady_clock::now();
  const auto& s = settings_;
  fs::create_directories(s.data_dir);
  lock_ = std::make_unique<db::DataDirLock>(s.data_dir);

  // Listen first so /health answers 503 while the rest comes up.
  http_ = std::make_unique<HttpServer>(*this);
  http_->start();

  if (s.database_url.empty()) {
    db::EmbeddedPostgres::Options o;
    o.data_dir = s.data_dir;
    o.bin_dir = config_.get("postgres.bin_dir", "");
    o.os_user = config_.get("postgres.os_user", "");
    o.port = static_cast<int>(config_.get_int("postgres.port", 5432));
    o.listen_addresses = config_.get("postgres.listen_addresses", "");
    if (auto v = config_.find("postgres.shared_buffers")) o.settings["shared_buffers"] = *v;
    if (auto v = config_.find("postgres.max_connections")) o.settings["max_connections"] = *v;
    pg_ = std::make_unique<db::EmbeddedPostgres>(o);
    pg_->start();
  } else {
    spdlog::info("using external PostgreSQL (database.url)");
  }
  {
    // Make sure the control database exists (the URL's own database is the way in).
    auto conn = db::Connection::open(pg_ ? pg_->conninfo("postgres") : s.database_url);
    auto r = conn.exec("SELECT 1 FROM pg_database WHERE datname = $1", {s.control_db});
    if (r.rows() == 0) {
      try {
        conn.exec("CREATE DATABASE " + conn.escape_identifier(s.control_db));
        spdlog::info("created control database {}", s.control_db);
      } catch (const db::PgError& e) {
        if (e.sqlstate != "42P04") throw;  // another host created it first
      }
    }
  }

  pools_ = std::make_unique<db::PoolSet>(
      [this](const std::string& dbname) { return conninfo(dbname); },
      static_cast<size_t>(config_.get_int("database.system_pool_size", 8)),
      std::chrono::milliseconds(config_.get_int("database.acquire_timeout_ms", 5000)),
      std::chrono::seconds(config_.get_int("database.idle_timeout_s", 60)));

  control_ = std::make_unique<ControlPlane>(*this);
  control_->start();
  auto login_pools = [this](const char* user, const char* size_key, int64_t size) {
    return std::make_unique<db::PoolSet>(
        [this, user](const std::string& dbname) {
          return db::conninfo_with(conninfo(dbname),
                                   {{"user", user}, {"password", control_->admin_password()}});
        },
        static_cast<size_t>(config_.get_int(size_key, size)),
        std::chrono::milliseconds(config_.get_int("database.acquire_timeout_ms", 5000)),
        std::chrono::seconds(config_.get_int("database.idle_timeout_s", 60)));
  };
  admin_pools_ = login_pools("alpaca_admin", "database.admin_pool_size", 8);
  api_pools_ = login_pools("authenticator", "database.pool_size", 16);
  schema_watch_ = std::make_unique<db::SchemaWatch>(
      [this](const std::string& dbname) { return conninfo(dbname); },
      [](db::Connection& conn) { return ensure_ddl_watch(conn); });
  schema_watch_->start();

  interfaces_.provide(ALPACA_DB_INTERFACE, ALPACA_DB_VERSION, db_interface(*this), "host");
  plugins_ = std::make_unique<PluginManager>(*this);
  plugins_->add_builtin(core_plugin(*control_));
  spdlog::info("plugin directory: {}", s.plugin_dir);
  plugins_->load(s.plugin_dir, s.plugins);
  plugins_->create_all();
  plugins_->start_all();

  ready_.store(true, std::memory_order_release);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  spdlog::info("alpaca-server {} ready in {} ms (data dir {}, {} route(s))", ALPACA_VERSION, ms,
               s.data_dir, router_.size());
}

void App::stop() {
  if (stopped_ || (!http_ && !pg_ && !plugins_)) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  ready_.store(false, std::memory_order_release);
  spdlog::info("shutting down: finishing in-flight requests");
  if (http_) http_->stop();
  http_.reset();
  if (plugins_) {
    plugins_->stop_all();
    plugins_->destroy_all();
  }
  if (control_) control_->stop();
  if (schema_watch_) schema_watch_->stop();
  if (admin_pools_) admin_pools_->stop();
  if (api_pools_) api_pools_->stop();
  if (pools_) pools_->stop();
  if (pg_) pg_->stop();
  schema_watch_.reset();
  admin_pools_.reset();
  api_pools_.reset();
  pools_.reset();
  pg_.reset();
  lock_.reset();
  // plugins_ (and so the libraries) are kept: no unloading, and plugin code may still be on
  // the stack of a detached thread. They go when the process exits.
  spdlog::info("stopped");
}

int App::run() {
  // Block the signals here so every thread inherits the mask; sigwait picks them up below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  start();
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
  return 0;
}

}  // namespace alpaca
