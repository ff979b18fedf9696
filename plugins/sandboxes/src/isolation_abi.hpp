// The alpaca.isolation C table (sdk/include/alpaca/isolation.h) over the Service's driver.
#pragma once

#include <alpaca/isolation.h>

namespace sandboxes {

class Service;

// The table; valid until exit. bind() must run before other plugins call it (in create()).
const alpaca_isolation_api* isolation_table();
void bind_isolation(Service* svc);

}  // namespace sandboxes
