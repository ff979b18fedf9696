/* Exports something, but not alpaca_plugin_v1. */
#include "bad_common.h"
BAD_DESCRIPTOR("bad_nosymbol", ALPACA_ABI_MAJOR, ALPACA_ABI_MINOR, 0);
ALPACA_EXPORT const alpaca_plugin_descriptor* alpaca_plugin(void) {
  return &descriptor;
}
