#include "control/project_database.hpp"

#include "db/pg.hpp"

namespace alpaca {

void ensure_api_roles(db::Connection& conn) {
  // CREATE ROLE has no IF NOT EXISTS; two hosts may race, hence the exception handlers.
  conn.exec(R"sql(
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES ('anon', ''), ('authenticated', ''),
                                 ('service_role', ' BYPASSRLS')) AS t(name, extra) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT%s', r.name, r.extra);
        -- Supabase's defaults, applied per /rest/v1 request; ALTER ROLE changes them.
        IF r.name IN ('anon', 'authenticated') THEN
          EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r.name,
                         CASE r.name WHEN 'anon' THEN '3s' ELSE '8s' END);
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, r.name, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO %I', r.name, current_user);
    END IF;
  END LOOP;
END
$$)sql");
}

void ensure_login_roles(db::Connection& conn, const std::string& password) {
  conn.exec(R"sql(
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alpaca_admin') THEN
    BEGIN
      CREATE ROLE alpaca_admin LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    BEGIN
      CREATE ROLE authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  -- The API roles are reached from authenticator by SET LOCAL ROLE, as with PostgREST.
  GRANT anon, authenticated, service_role TO authenticator;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    IF NOT pg_has_role(current_user, 'alpaca_admin', 'MEMBER') THEN
      EXECUTE format('GRANT alpaca_admin TO %I', current_user);
    END IF;
  END IF;
END $$)sql");
  // DDL takes no parameters: the password is quoted by libpq.
  for (const char* role : {"alpaca_admin", "authenticator"})
    conn.exec(std::string("ALTER ROLE ") + role + " LOGIN PASSWORD " +
              conn.escape_literal(password));
}

void provision_project_database(db::Connection& conn) {
  conn.exec("BEGIN");
  try {
    conn.exec(R"sql(
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS storage;
CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA public, auth, storage, extensions TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA public TO service_role;
-- The management role creates and owns what /query and the table API make.
GRANT USAGE, CREATE ON SCHEMA public, extensions TO alpaca_admin;
-- The auth and storage plugins create their tables there as the management role (Supabase's
-- supabase_auth_admin / supabase_storage_admin play that part).
GRANT USAGE, CREATE ON SCHEMA auth, storage TO alpaca_admin;
DO $$ BEGIN
  EXECUTE format('GRANT CREATE ON DATABASE %I TO alpaca_admin', current_database());
END $$;

-- Supabase's helpers: claims come from request.jwt.claims (PostgREST >= 9) or the older
-- per-claim settings.
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
CREATE OR REPLACE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text
$$;
GRANT EXECUTE ON FUNCTION auth.jwt(), auth.uid(), auth.role(), auth.email()
  TO anon, authenticated, service_role;

-- Tables, sequences and functions made in public are reachable by the API roles, subject to
-- RLS and to grants revoked later (Supabase's defaults).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE alpaca_admin IN SCHEMA public
  GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE alpaca_admin IN SCHEMA public
  GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE alpaca_admin IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO anon, authenticated, service_role;
)sql");
    ensure_ddl_watch(conn);
    conn.exec("COMMIT");
  } catch (...) {
    conn.exec("ROLLBACK");
    throw;
  }
}

bool ensure_ddl_watch(db::Connection& conn) {
  auto r = conn.exec(
      "SELECT (SELECT count(*) FROM pg_event_trigger WHERE evtname IN ('alpaca_ddl_watch', "
      "'alpaca_drop_watch'))::text, (SELECT rolsuper FROM pg_roles WHERE rolname = "
      "current_user)::text");
  if (r.get(0, 0) == "2") return true;
  if (r.get(0, 1) != "true") return false;
  // Temporary objects (CREATE TEMP TABLE in a function) change no schema anyone caches.
  conn.exec(R"sql(
CREATE OR REPLACE FUNCTION extensions.alpaca_ddl_watch() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
              WHERE schema_name IS NULL OR schema_name NOT LIKE 'pg\_temp%') THEN
    NOTIFY pgrst, 'reload schema';
  END IF;
END $$;
CREATE OR REPLACE FUNCTION extensions.alpaca_drop_watch() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() WHERE NOT is_temporary) THEN
    NOTIFY pgrst, 'reload schema';
  END IF;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'alpaca_ddl_watch') THEN
    CREATE EVENT TRIGGER alpaca_ddl_watch ON ddl_command_end
      EXECUTE FUNCTION extensions.alpaca_ddl_watch();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'alpaca_drop_watch') THEN
    CREATE EVENT TRIGGER alpaca_drop_watch ON sql_drop
      EXECUTE FUNCTION extensions.alpaca_drop_watch();
  END IF;
END $$;
)sql");
  return true;
}

}  // namespace alpaca
