/* Needs a newer minor than this server offers. */
#include "bad_common.h"
BAD_DESCRIPTOR("bad_minor", ALPACA_ABI_MAJOR, ALPACA_ABI_MINOR + 1, 0);
ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
