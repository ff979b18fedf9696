#pragma once
// Versioned schema of the control database `alpaca`. Applied at start; re-running is a no-op.
namespace alpaca::db {
class Connection;
}

namespace alpaca {
// Applies every migration newer than the recorded version, each in its own transaction, under
// an advisory lock so several hosts starting at once do not race. Returns how many ran.
int apply_control_migrations(db::Connection& conn);
// Latest schema version this build knows.
int control_schema_version();
}  // namespace alpaca
