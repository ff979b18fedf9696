#include "control/cache_listener.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace alpaca {

CacheListener::CacheListener(std::string conninfo,
                             std::function<void(const std::string&)> on_message,
                             std::function<void()> on_reset)
    : conninfo_(std::move(conninfo)),
      on_message_(std::move(on_message)),
      on_reset_(std::move(on_reset)) {}

CacheListener::~CacheListener() {
  stop();
}

void CacheListener::start() {
  thread_ = std::thread([this] { run(); });
}

void CacheListener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void CacheListener::run() {
  bool first = true;
  while (!stopping_) {
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    PGresult* r = nullptr;
    if (PQstatus(conn) == CONNECTION_OK) {
      r = PQexec(conn, (std::string("LISTEN ") + kChannel).c_str());
    }
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
      spdlog::warn("cache listener: cannot listen ({}); retrying", PQerrorMessage(conn));
      PQclear(r);
      PQfinish(conn);
      for (int i = 0; i < 10 && !stopping_; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    PQclear(r);
    if (!first) on_reset_();  // we may have missed notifications while away
    first = false;
    while (!stopping_) {
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      int n = ::poll(&pfd, 1, 200);  // wake up regularly to notice stop()
      if (n < 0) continue;
      if (n > 0 && !PQconsumeInput(conn)) break;
      while (PGnotify* note = PQnotifies(conn)) {
        on_message_(note->extra ? note->extra : "");
        PQfreemem(note);
      }
      if (PQstatus(conn) != CONNECTION_OK) break;
    }
    if (!stopping_) spdlog::warn("cache listener: connection lost; reconnecting");
    PQfinish(conn);
  }
}

}  // namespace alpaca
