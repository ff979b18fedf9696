/* Takes the name of the probe plugin. */
#include "bad_common.h"
BAD_DESCRIPTOR("probe", ALPACA_ABI_MAJOR, ALPACA_ABI_MINOR, 0);
ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
