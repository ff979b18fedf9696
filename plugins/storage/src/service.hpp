#pragma once
// What the storage routes share: the database interface and the per-project schema.
#include <alpaca/plugin.hpp>
#include <migrator.hpp>

namespace storage {

class Service {
 public:
  explicit Service(alpaca::Host& host) : host_(host), migrator_("storage.alpaca_migrations", 2) {}
  void set_db(const alpaca_db_api* db) { db_ = db; }
  const alpaca_db_api* db() const { return db_; }
  alpaca::Host& host() { return host_; }
  // Lays out storage.buckets / storage.objects in the project's database (once per host).
  void ensure_schema(const std::string& ref);

 private:
  alpaca::Host& host_;
  const alpaca_db_api* db_ = nullptr;
  plugin_common::Migrator migrator_;
};

}  // namespace storage
