#pragma once
// Several commands in one libpq pipeline: one round trip. Commands go out as they are queued;
// run() sends the rest, reads every result and leaves pipeline mode, so the connection is
// usable (or visibly broken) afterwards. The first error wins; later commands of the same sync
// block are skipped by the server (PGRES_PIPELINE_ABORTED).
#include <libpq-fe.h>

#include <optional>
#include <string>
#include <vector>

#include "db/pg.hpp"

namespace alpaca::db {

class Pipeline {
 public:
  explicit Pipeline(PGconn* c);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Each returns the command's index for ok() and take(). Values are text; nullptr is NULL.
  size_t query(const char* sql, int n = 0, const char* const* values = nullptr);
  size_t prepare(const char* name, const char* sql, int n);
  size_t execute(const char* name, int n, const char* const* values);
  // A sync point: ends the implicit transaction of the commands before it.
  void sync();

  // Syncs (unless the last call was sync()), reads everything, leaves pipeline mode.
  // The first failure, or nullopt.
  std::optional<PgError> run();

  bool ok(size_t command) const { return commands_[command].ok; }
  // The command's result (tuples or command status); empty if it failed.
  Result take(size_t command) { return std::move(commands_[command].result); }

 private:
  size_t add(bool sent);
  struct Command {
    bool sync = false;
    bool ok = false;
    Result result;
  };
  PGconn* c_;
  bool sending_ = true;  // false after a send failed: nothing more goes out
  std::vector<Command> commands_;
  std::optional<PgError> failure_;
};

}  // namespace alpaca::db
