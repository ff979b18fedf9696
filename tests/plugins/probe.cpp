// Test plugin that exercises the ABI end to end: every scope, params, query, streamed bodies,
// the caller identity, and the host's alpaca.db interface (role, claims, RLS).
#include <algorithm>
#include <alpaca/plugin.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
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

  const alpaca_db_api* db_ = nullptr;
  ProbeCounter counter_table_{sizeof(ProbeCounter), &Probe::next, nullptr};
  std::atomic<int64_t> counter_{0};
};

}  // namespace

ALPACA_PLUGIN(Probe, "probe", "1.0.0", "test probe for the plugin ABI")
