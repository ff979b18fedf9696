#pragma once
// The auth plugin reaches project databases through the code first-party plugins share.
#include <project_tx.hpp>

namespace auth {
using plugin_common::DbError;
using plugin_common::Param;
using plugin_common::Params;
using plugin_common::Tx;
}  // namespace auth
