#include "control/migrations.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "db/pg.hpp"

namespace alpaca {
namespace {

// Append only: never edit a migration that has shipped; add a new one.
const std::vector<const char*> kMigrations = {
    // 1: accounts, personal access tokens, projects.
    R"sql(
CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  is_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE access_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,      -- SHA-256 hex of the token; the token itself is never stored
  token_prefix text NOT NULL,           -- first characters, to recognise a token in lists
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX access_tokens_account ON access_tokens(account_id);
CREATE TABLE projects (
  id text PRIMARY KEY,
  name text NOT NULL,
  owner_id uuid NOT NULL REFERENCES accounts(id),
  status text NOT NULL DEFAULT 'active',
  database_name text NOT NULL UNIQUE,
  jwt_secret text NOT NULL,
  anon_key text NOT NULL,
  service_key text NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}',  -- public settings (repo_url, build_command, ...)
  secrets jsonb NOT NULL DEFAULT '{}',   -- stored, never returned in clear
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_owner ON projects(owner_id);
)sql",
    // 2: secrets the server generates for itself (e.g. the management role's password), shared
    // by every host on this database.
    R"sql(
CREATE TABLE server_secrets (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
)sql",
};

}  // namespace

int control_schema_version() {
  return static_cast<int>(kMigrations.size());
}

int apply_control_migrations(db::Connection& conn) {
  conn.exec("SELECT pg_advisory_lock(7405141)");  // 'alpaca' migrations lock
  int ran = 0;
  try {
    conn.exec(
        "CREATE TABLE IF NOT EXISTS alpaca_schema_migrations (version int PRIMARY KEY, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
    auto r = conn.exec("SELECT coalesce(max(version), 0) FROM alpaca_schema_migrations");
    int current = std::stoi(r.get(0, 0));
    if (current > control_schema_version())
      spdlog::warn("control database schema version {} is newer than this server's ({})", current,
                   control_schema_version());
    for (int v = current + 1; v <= control_schema_version(); ++v) {
      conn.exec("BEGIN");
      try {
        conn.exec(kMigrations[v - 1]);
        conn.exec("INSERT INTO alpaca_schema_migrations(version) VALUES ($1)", {std::to_string(v)});
        conn.exec("COMMIT");
      } catch (...) {
        conn.exec("ROLLBACK");
        throw;
      }
      spdlog::info("control database: applied migration {}", v);
      ++ran;
    }
  } catch (...) {
    conn.exec("SELECT pg_advisory_unlock(7405141)");
    throw;
  }
  conn.exec("SELECT pg_advisory_unlock(7405141)");
  return ran;
}

}  // namespace alpaca
