/* Built for a future ABI major: its entry symbol carries the other major. */
#include "bad_common.h"
BAD_DESCRIPTOR("bad_major", 2, 0, 0);
ALPACA_EXPORT const alpaca_plugin_descriptor* alpaca_plugin_v2(void) {
  return &descriptor;
}
