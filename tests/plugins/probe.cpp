// Test plugin that exercises the ABI end to end: every scope, params, query, streamed bodies,
// the caller identity, the host's alpaca.db interface (role, claims, RLS) and file bodies sent
// with response_send_fd.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <alpaca/plugin.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "probe_counter.h"

using alpaca::HttpError;
using alpaca::json_escape;
using alpaca::Request;
using alpaca::Response;

namespace {

std::string str(const char* s) {
  if (!s) return "null";
  std::string out(1, '"');
  out += json_escape(s);
  out += '"';
  return out;
}

const char* kind(alpaca_caller_kind k) {
  return k == ALPACA_CALLER_ACCOUNT ? "account" : k == ALPACA_CALLER_PROJECT_JWT ? "jwt" : "none";
}

// A session that always ends (rolled back unless committed).
class Session {
 public:
  Session(const alpaca_db_api* db, alpaca_db_session* s) : db_(db), s_(s) {}
  Session(const Session&) = delete;
  ~Session() {
    if (s_) db_->session_end(s_, 0);
  }
  std::string text(const char* sql) {
    char* out = nullptr;
    if (db_->query_text(s_, sql, 0, nullptr, &out) != ALPACA_OK)
      throw HttpError(500, "query failed", db_->last_error(s_)->message);
    std::string v = out ? out : "null";
    db_->free_text(out);
    return v;
  }
  void commit() {
    db_->session_end(s_, 1);
    s_ = nullptr;
  }

 private:
  const alpaca_db_api* db_;
  alpaca_db_session* s_;
};

class Probe : public alpaca::Plugin {
 public:
  explicit Probe(alpaca::Host& host) : Plugin(host) {
    counter_table_.self = this;
    host.provide("probe.counter", 1, &counter_table_);
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/whoami", [](Request& req, Response& res) {
      const auto& c = req.caller();
      res.json(200, std::string("{\"kind\":\"") + kind(c.kind) + "\",\"role\":" + str(c.role) +
                        ",\"subject\":" + str(c.subject) +
                        ",\"project\":" + str(req.project() ? req.project()->ref : nullptr) +
                        ",\"claims\":" + c.claims_json + "}");
    });
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/db", [this](Request& req, Response& res) {
      Session s = for_request(req);
      res.json(200, s.text("SELECT json_build_object('current_user', current_user, "
                           "'session_user', session_user, 'session_superuser', (SELECT rolsuper "
                           "FROM pg_roles WHERE rolname = session_user), 'auth_role', auth.role(), "
                           "'auth_uid', auth.uid(), 'claims', auth.jwt())::text"));
    });
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/rls", [this](Request& req, Response& res) {
      {
        Session admin = management(req.project()->ref);
        admin.text(
            "DO $$ BEGIN IF to_regclass('public.probe_notes') IS NULL THEN "
            "CREATE TABLE public.probe_notes(id serial PRIMARY KEY, owner uuid, body text); "
            "ALTER TABLE public.probe_notes ENABLE ROW LEVEL SECURITY; "
            "CREATE POLICY own ON public.probe_notes USING (owner = auth.uid()); "
            "INSERT INTO public.probe_notes(owner, body) VALUES "
            "('11111111-1111-1111-1111-111111111111', 'one'), "
            "('22222222-2222-2222-2222-222222222222', 'two'); END IF; END $$");
        admin.commit();
      }
      Session s = for_request(req);
      res.json(200, s.text("SELECT coalesce(json_agg(n ORDER BY id), '[]')::text FROM "
                           "public.probe_notes n"));
    });
    host.route(
        ALPACA_SCOPE_PUBLIC, "GET", "/probe/echo/:name/*rest", [](Request& req, Response& res) {
          res.json(200, "{\"name\":" + str(req.param("name").data()) + ",\"rest\":" +
                            str(req.param("rest").data()) + ",\"x\":" + str(req.query("x")) + "}");
        });
    host.route(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/:id/probe",
               [](Request& req, Response& res) {
                 res.json(200, "{\"project\":" + str(req.project()->ref) + ",\"kind\":\"" +
                                   kind(req.caller().kind) + "\"}");
               });
    // The result accessors and parameters of alpaca.db, reported as JSON.
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/query", [this](Request& req, Response& res) {
      char err[256];
      alpaca_db_session* s = db_->session_begin_for_request(req.raw(), err, sizeof err);
      if (!s) throw HttpError(500, "no database session", err);
      const char* params[] = {req.query("x"), nullptr};
      alpaca_db_result* r = nullptr;
      alpaca_status st =
          db_->query(s, "SELECT $1::int + 1 AS n, $2::text AS z, 'é\"' AS s", 2, params, &r);
      if (st != ALPACA_OK) {
        const alpaca_db_error* e = db_->last_error(s);
        std::string body = "{\"error\":" + str(e->message) + ",\"sqlstate\":" + str(e->sqlstate) +
                           ",\"position\":" + std::to_string(e->position) + "}";
        db_->session_end(s, 0);
        return res.json(400, body);
      }
      auto list = [&](auto item) {
        std::string o = "[";
        for (int c = 0; c < db_->result_columns(r); ++c) {
          if (c) o += ',';
          o += item(c);
        }
        return o + "]";
      };
      std::string out =
          "{\"rows\":" + std::to_string(db_->result_rows(r)) +
          ",\"columns\":" + std::to_string(db_->result_columns(r)) +
          ",\"names\":" + list([&](int c) { return str(db_->result_column_name(r, c)); }) +
          ",\"types\":" +
          list([&](int c) { return std::to_string(db_->result_column_type(r, c)); }) +
          ",\"values\":" + list([&](int c) { return str(db_->result_value(r, 0, c)); }) + "}";
      db_->result_free(r);
      db_->session_end(s, 1);
      res.json(200, out);
    });
    // A management session: who it logs in as, and whether SQL can leave its role.
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/admin-session",
               [this](Request& req, Response& res) {
                 Session admin = management(req.project()->ref);
                 std::string who = admin.text(
                     "SELECT json_build_object('current_user', current_user, 'session_user', "
                     "session_user, "
                     "'superuser', (SELECT rolsuper FROM pg_roles WHERE rolname = session_user), "
                     "'bypassrls', (SELECT rolbypassrls FROM pg_roles WHERE rolname = "
                     "current_user))::text");
                 res.json(200, who);
               });
    // Committing a transaction whose statement failed must not report success.
    host.route(ALPACA_SCOPE_PROJECT, "GET", "/probe/v1/commit-after-error",
               [this](Request& req, Response& res) {
                 char err[256];
                 alpaca_db_session* s = db_->session_begin_for_request(req.raw(), err, sizeof err);
                 if (!s) throw HttpError(500, "no database session", err);
                 alpaca_status q = db_->query(s, "SELECT 1/0", 0, nullptr, nullptr);
                 std::string sqlstate = db_->last_error(s)->sqlstate;
                 alpaca_status e = db_->session_end(s, 1);
                 res.json(200, "{\"query_status\":" + std::to_string(q) +
                                   ",\"sqlstate\":" + str(sqlstate.c_str()) +
                                   ",\"end_status\":" + std::to_string(e) + "}");
               });
    // A slow request, to test that shutdown lets in-flight requests finish.
    host.route(ALPACA_SCOPE_PUBLIC, "GET", "/probe/slow", [](Request& req, Response& res) {
      const char* ms = req.query("ms");
      int wait = ms ? std::min(std::atoi(ms), 10000) : 500;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
      res.json(200, "{\"slept_ms\":" + std::to_string(wait) + "}");
    });
    host.route(ALPACA_SCOPE_PUBLIC, "POST", "/probe/body", [](Request& req, Response& res) {
      char buf[4096];
      size_t total = 0;
      for (size_t n; (n = req.read(buf, sizeof buf)) > 0;) total += n;
      res.json(200, "{\"bytes\":" + std::to_string(total) + "}");
    });
    // response_send_fd (minor 2). A file of `size` bytes (byte i is pattern(i)), made once in
    // the data dir; `length` bytes of it from `offset` (default: to the end) go out with
    // send_fd, on an fd of this request whose offset is set elsewhere first (send_fd must not
    // move it). range=1: 206 with Content-Range; cl=N: a wrong Content-Length set first;
    // fd=N: that fd instead; twice=1: send_fd again after; via=write: the body through
    // response_write instead (the path before send_fd, for comparison). GET /probe/sendfd/stats
    // counts the outcomes.
    host.route(ALPACA_SCOPE_PUBLIC, "GET", "/probe/sendfd",
               [this](Request& req, Response& res) { send_fd(req, res); });
    host.route(ALPACA_SCOPE_PUBLIC, "GET", "/probe/sendfd/stats", [this](Request&, Response& res) {
      res.json(200, "{\"ok\":" + std::to_string(fd_ok_.load()) +
                        ",\"failed\":" + std::to_string(fd_failed_.load()) +
                        ",\"offset_moved\":" + std::to_string(fd_offset_moved_.load()) +
                        ",\"second_status\":" + std::to_string(fd_second_status_.load()) + "}");
    });
  }

  // The byte at position i of every /probe/sendfd file (tests compute the same).
  static unsigned char pattern(uint64_t i) {
    return static_cast<unsigned char>((static_cast<uint32_t>(i) * 2654435761u) >> 24);
  }

  // "probe.counter" v1: a table other plugins get through the host (see probe_client.cpp).
  static int64_t next(void* self) { return ++static_cast<Probe*>(self)->counter_; }

  void start() override {
    db_ = host().get<alpaca_db_api>(ALPACA_DB_INTERFACE, ALPACA_DB_VERSION);
    if (!db_) throw std::runtime_error("alpaca.db interface missing");
  }

 private:
  Session for_request(Request& req) {
    char err[256];
    alpaca_db_session* s = db_->session_begin_for_request(req.raw(), err, sizeof err);
    if (!s) throw HttpError(500, "no database session", err);
    return Session(db_, s);
  }
  Session management(const char* ref) {
    char err[256];
    alpaca_db_session* s = db_->session_begin(ref, nullptr, nullptr, err, sizeof err);
    if (!s) throw HttpError(500, "no database session", err);
    return Session(db_, s);
  }

  static uint64_t number(const char* s, uint64_t fallback) {
    return s ? std::strtoull(s, nullptr, 10) : fallback;
  }

  // The path of the pattern file of `size` bytes, written on first use.
  std::string pattern_file(uint64_t size) {
    std::string path = host().data_dir();
    path += "/probe-sendfd-";
    path += std::to_string(size);
    std::lock_guard<std::mutex> lock(files_mutex_);
    if (files_.count(size)) return path;
    std::string tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw HttpError(500, "cannot create the pattern file", tmp);
    std::string buf;
    for (uint64_t at = 0; at < size;) {
      buf.clear();
      for (; buf.size() < 65536 && at < size; ++at) buf += static_cast<char>(pattern(at));
      if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        ::close(fd);
        throw HttpError(500, "cannot write the pattern file", tmp);
      }
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw HttpError(500, "cannot rename the pattern file", path);
    files_.insert(size);
    return path;
  }

  void send_fd(Request& req, Response& res) {
    const uint64_t size = number(req.query("size"), 0);
    const uint64_t offset = number(req.query("offset"), 0);
    const uint64_t length = number(req.query("length"), size > offset ? size - offset : 0);
    const std::string path = pattern_file(size);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw HttpError(500, "cannot open the pattern file", path);
    std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
    const off_t mark = static_cast<off_t>(size / 3 + 1);  // where send_fd must leave it
    ::lseek(fd, mark, SEEK_SET);

    res.header("Content-Type", "application/octet-stream");
    std::string etag = "\"probe-";
    etag += std::to_string(size);
    etag += '"';
    res.header("ETag", etag);
    if (const char* cl = req.query("cl")) res.header("Content-Length", cl);
    if (req.query("range")) {
      res.status(206);
      std::string range = "bytes ";
      range += std::to_string(offset);
      range += '-';
      range += std::to_string(offset + length - 1);
      range += '/';
      range += std::to_string(size);
      res.header("Content-Range", range);
    }
    if (const char* via = req.query("via"); via && std::string_view(via) == "write") {
      res.header("Content-Length", std::to_string(length));
      char buf[65536];
      for (uint64_t at = offset, left = length; left > 0;) {
        ssize_t n = ::pread(fd, buf, std::min<uint64_t>(left, sizeof buf), static_cast<off_t>(at));
        if (n <= 0) throw HttpError(500, "pread failed");
        res.write(std::string_view(buf, static_cast<size_t>(n)));
        at += static_cast<uint64_t>(n);
        left -= static_cast<uint64_t>(n);
      }
      return res.end();
    }
    const int use = req.query("fd") ? std::atoi(req.query("fd")) : fd;
    if (res.send_fd(use, offset, length))
      ++fd_ok_;
    else
      ++fd_failed_;
    if (req.query("twice"))
      fd_second_status_ = host().api()->response_send_fd(res.raw(), fd, 0, size);
    if (::lseek(fd, 0, SEEK_CUR) != mark) ++fd_offset_moved_;
    if (!res.done()) res.json(400, "{\"sent\":false}");
  }

  const alpaca_db_api* db_ = nullptr;
  std::mutex files_mutex_;
  std::set<uint64_t> files_;
  std::atomic<int64_t> fd_ok_{0}, fd_failed_{0}, fd_offset_moved_{0};
  std::atomic<int> fd_second_status_{-1};
  ProbeCounter counter_table_{sizeof(ProbeCounter), &Probe::next, nullptr};
  std::atomic<int64_t> counter_{0};
};

}  // namespace

ALPACA_PLUGIN(Probe, "probe", "1.0.0", "test probe for the plugin ABI")
