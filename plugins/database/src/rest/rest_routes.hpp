#pragma once
// /rest/v1: PostgREST's wire protocol over a project's exposed schemas, under RLS. Each request
// is one SQL statement that returns the finished JSON (and counts), sent with the caller's role
// and claims in one libpq pipeline (alpaca.db request_statement: one round trip, prepared once
// per connection).
#include <alpaca/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rest/schema.hpp"

namespace database::rest {

class RestRoutes {
 public:
  // exact_count_below: Prefer: count=estimated counts exactly while Postgres estimates at most
  // this many rows (database.max_rows, as PostgREST's db-max-rows), else answers the estimate.
  RestRoutes(std::vector<std::string> schemas, int64_t exact_count_below)
      : schemas_(std::move(schemas)), exact_count_below_(exact_count_below) {}
  void set_db(const alpaca_db_api* db) { db_ = db; }
  void add_to(alpaca::Host& host);

 private:
  void read(alpaca::Request& req, alpaca::Response& res);
  void write(alpaca::Request& req, alpaca::Response& res);
  void rpc(alpaca::Request& req, alpaca::Response& res);
  void openapi(alpaca::Request& req, alpaca::Response& res);
  // The keys of a body Poco cannot parse, listed by Postgres (one more round trip, rare).
  std::vector<std::string> postgres_keys(alpaca::Request& req, alpaca::Response& res,
                                         const std::string& body);

  // The project's schema cache, reloaded when its schema version moved.
  std::shared_ptr<const Schema> schema(const char* ref);
  // The exposed schema the request names (Accept-Profile / Content-Profile), else the first.
  const std::string& profile(alpaca::Request& req, bool write) const;
  // The table or view the request names in that schema; 404 PGRST205 when there is none.
  const Relation* relation(const Schema& schema, alpaca::Request& req, bool write) const;

  std::vector<std::string> schemas_;
  int64_t exact_count_below_;
  const alpaca_db_api* db_ = nullptr;
  const alpaca::Host* host_ = nullptr;  // for the log
  std::mutex mutex_;
  std::mutex load_mutex_;  // schema loads take turns
  std::map<std::string, std::pair<uint64_t, std::shared_ptr<const Schema>>> cache_;
};

}  // namespace database::rest
