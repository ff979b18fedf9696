#include "db/pipeline.hpp"

namespace alpaca::db {

Pipeline::Pipeline(PGconn* c) : c_(c) {
  if (!PQenterPipelineMode(c_)) {
    sending_ = false;
    failure_ = PgError::from_connection(c_, "pipeline");
  }
}

Pipeline::~Pipeline() {
  if (PQpipelineStatus(c_) != PQ_PIPELINE_OFF) run();
}

size_t Pipeline::add(bool sent) {
  if (!sent && sending_) {
    sending_ = false;
    if (!failure_) failure_ = PgError::from_connection(c_, "pipeline send");
  }
  commands_.emplace_back();
  return commands_.size() - 1;
}

size_t Pipeline::query(const char* sql, int n, const char* const* values) {
  return add(sending_ && PQsendQueryParams(c_, sql, n, nullptr, values, nullptr, nullptr, 0));
}

size_t Pipeline::prepare(const char* name, const char* sql, int n) {
  return add(sending_ && PQsendPrepare(c_, name, sql, n, nullptr));
}

size_t Pipeline::execute(const char* name, int n, const char* const* values) {
  return add(sending_ && PQsendQueryPrepared(c_, name, n, values, nullptr, nullptr, 0));
}

void Pipeline::sync() {
  add(sending_ && PQpipelineSync(c_));
  commands_.back().sync = true;
}

std::optional<PgError> Pipeline::run() {
  if (PQpipelineStatus(c_) == PQ_PIPELINE_OFF) return failure_;
  if (commands_.empty() || !commands_.back().sync) sync();
  // Each command yields its result(s) then NULL, each sync one PGRES_PIPELINE_SYNC. After a
  // send failure nothing is read: the connection is not healthy and its owner drops it.
  for (auto& cmd : commands_) {
    if (!sending_) break;
    if (cmd.sync) {
      PQclear(PQgetResult(c_));
      continue;
    }
    while (PGresult* r = PQgetResult(c_)) {
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_FATAL_ERROR && !failure_) failure_ = PgError::from_result(r, c_);
      if (st == PGRES_PIPELINE_ABORTED && !failure_) failure_ = PgError("pipeline aborted");
      if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        cmd.ok = true;
        cmd.result = Result(r);
      } else {
        PQclear(r);
      }
    }
  }
  PQexitPipelineMode(c_);
  return failure_;
}

}  // namespace alpaca::db
