#pragma once
// The host's "alpaca.db" interface (see plugin.h): project-scoped pooled sessions.
#include <alpaca/plugin.h>

namespace alpaca {
class App;
// The table is static; `app` must outlive every call.
const alpaca_db_api* db_interface(App& app);
}  // namespace alpaca
