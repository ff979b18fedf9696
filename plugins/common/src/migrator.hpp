#pragma once
// Versioned migrations of a plugin's schema in each project database: applied in order, each once,
// recorded in a table of the plugin's choosing, under an advisory lock so two hosts never race.
// This host remembers which projects it has migrated.
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "project_tx.hpp"

namespace plugin_common {

class Migrator {
 public:
  // `table`: e.g. "auth.schema_migrations" (created with a `version varchar(255)` key);
  // `lock_key`: a number unique to the plugin for pg_advisory_xact_lock.
  Migrator(std::string table, int lock_key) : table_(std::move(table)), lock_key_(lock_key) {}

  // Runs the migrations not yet recorded. `log` gets one line per migration applied.
  template <size_t N, typename Log>
  void ensure(const alpaca_db_api* db, const std::string& ref,
              const std::pair<const char*, const char*> (&migrations)[N], Log&& log) {
    {
      std::lock_guard lock(mu_);
      if (done_.count(ref)) return;
    }
    Tx tx(db, ref);
    tx.exec(("SELECT pg_advisory_xact_lock(7243011, " + std::to_string(lock_key_) + ")").c_str());
    tx.exec(
        ("CREATE TABLE IF NOT EXISTS " + table_ + " (version varchar(255) PRIMARY KEY)").c_str());
    std::string seen = "SELECT 1 FROM " + table_ + " WHERE version = $1";
    std::string record = "INSERT INTO " + table_ + " (version) VALUES ($1)";
    for (const auto& [version, sql] : migrations) {
      if (tx.value(seen.c_str(), {version})) continue;
      try {
        tx.exec_script(sql);
      } catch (const DbError& e) {
        if (e.sqlstate != "42501") throw;
        // Projects made before the management role could create in the plugin's schema.
        throw DbError(std::string(e.what()) +
                          "; as a superuser run: GRANT USAGE, CREATE ON SCHEMA " +
                          table_.substr(0, table_.find('.')) + " TO alpaca_admin",
                      e.sqlstate);
      }
      tx.exec(record.c_str(), {version});
      log(std::string("migrated ") + table_ + " to " + version);
    }
    tx.commit();
    std::lock_guard lock(mu_);
    done_.insert(ref);
  }

 private:
  std::string table_;
  int lock_key_;
  std::mutex mu_;
  std::set<std::string> done_;
};

}  // namespace plugin_common
