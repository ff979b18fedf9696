/* Depends on a plugin nobody enabled. */
#include "bad_common.h"
static const char* const deps[] = {"nonexistent", 0};
BAD_DESCRIPTOR("bad_dep", ALPACA_ABI_MAJOR, ALPACA_ABI_MINOR, deps);
ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
