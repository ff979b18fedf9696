#pragma once
// The control plane: accounts, personal access tokens and projects in the control database,
// with in-memory caches so authenticating a request needs no database round trip.
#include <Poco/JSON/Object.h>

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/cache_listener.hpp"
#include "control/project_record.hpp"

namespace alpaca {
class App;

struct TokenOwner {
  std::string account_id;
  std::string token_id;
  int64_t expires_at = 0;  // unix seconds, 0 = never
};

// A client-facing failure: status + message (+ detail), answered as {"error","detail"}.
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& msg, std::string detail = {})
      : std::runtime_error(msg), status(status), detail(std::move(detail)) {}
  int status;
  std::string detail;
};

class ControlPlane {
 public:
  explicit ControlPlane(App& app);

  ~ControlPlane();
  // Migrates the control database, makes the API roles and the admin account, and starts
  // listening for cache invalidations from other hosts.
  void start();
  void stop();

  // Password of the login roles alpaca_admin and authenticator (generated once, shared by all
  // hosts on this database).
  const std::string& admin_password() const { return admin_password_; }

  // ---- projects ----
  std::shared_ptr<const ProjectRecord> project(const std::string& ref);  // cached; null = none
  std::vector<std::shared_ptr<const ProjectRecord>> list_projects(const std::string& owner);
  std::shared_ptr<const ProjectRecord> create_project(const std::string& owner,
                                                      const std::string& name);
  std::shared_ptr<const ProjectRecord> update_project(const std::string& ref,
                                                      const Poco::JSON::Object& patch);
  std::shared_ptr<const ProjectRecord> delete_project(const std::string& ref);
  std::shared_ptr<const ProjectRecord> rotate_keys(const std::string& ref);

  // ---- personal access tokens ----
  std::optional<TokenOwner> token_owner(const std::string& token);  // cached by hash
  // Returns the JSON of the new token, including the token itself (shown once).
  std::string create_token(const std::string& account, const std::string& name,
                           int64_t expires_in_days);
  std::string list_tokens(const std::string& account);
  std::optional<std::string> revoke_token(const std::string& account, const std::string& id);

 private:
  std::shared_ptr<const ProjectRecord> load_project(const std::string& ref);
  std::shared_ptr<ProjectRecord> record_from_row(const std::vector<std::string>& row);
  void cache_project(const std::shared_ptr<const ProjectRecord>& p);
  void forget_project(const std::string& ref);
  void bootstrap_admin();
  // Tells every host (this one included) to drop a cache entry: "project:<ref>" or
  // "token:<sha256>".
  void announce(const std::string& what);
  void on_announcement(const std::string& what);
  std::string insert_token(const std::string& account, const std::string& name,
                           const std::string& token, int64_t expires_in_days);
  std::pair<std::string, std::string> mint_keys(const std::string& ref,
                                                const std::string& secret) const;

  App& app_;
  std::shared_mutex projects_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const ProjectRecord>> projects_;
  std::shared_mutex tokens_mutex_;
  std::unordered_map<std::string, TokenOwner> tokens_;  // by SHA-256 hex of the token
  std::unique_ptr<CacheListener> listener_;
  std::string admin_password_;
};

}  // namespace alpaca
