#pragma once
// What every project database contains: the Supabase-compatible roles, schemas and auth helpers,
// so that RLS policies written for Supabase work unchanged.
#include <string>

namespace alpaca::db {
class Connection;
}

namespace alpaca {
// Cluster-wide roles anon, authenticated, service_role (idempotent, race-safe). The connected
// user is made a member of each so it can SET ROLE to them.
void ensure_api_roles(db::Connection& conn);
// The roles sessions log in as, neither of them a superuser, so no SQL sent through a session
// can become one (a superuser session could RESET ROLE): `alpaca_admin` (BYPASSRLS) for
// management sessions, `authenticator` (NOINHERIT, member of the API roles) for API sessions
// that SET LOCAL ROLE anon/authenticated/service_role. Both get `password`.
void ensure_login_roles(db::Connection& conn, const std::string& password);
// Schemas auth/storage/extensions, auth.uid()/role()/jwt(), grants and default privileges.
// Runs inside one transaction on a connection to the new project database.
void provision_project_database(db::Connection& conn);
// The event triggers that announce committed DDL with NOTIFY pgrst, 'reload schema' (the channel
// and payload Supabase's own trigger uses, so a hand-sent NOTIFY works too). Idempotent. Needs
// a superuser; returns false (creating nothing) when the connected user is not one and the
// triggers are missing.
bool ensure_ddl_watch(db::Connection& conn);
inline constexpr const char* kSchemaChannel = "pgrst";
}  // namespace alpaca
