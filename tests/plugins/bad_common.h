/* Helpers for the deliberately broken test plugins (plain C: the ABI needs nothing else). */
#include <alpaca/plugin.h>

static alpaca_status bad_create(alpaca_host* host, const alpaca_host_api* api, void** state) {
  (void)host;
  (void)api;
  *state = 0;
  return ALPACA_OK;
}

#define BAD_DESCRIPTOR(NAME, MAJOR, MINOR, DEPS)                                        \
  static const alpaca_plugin_descriptor descriptor = {sizeof(alpaca_plugin_descriptor), \
                                                      MAJOR,                            \
                                                      MINOR,                            \
                                                      NAME,                             \
                                                      "0.0.1",                          \
                                                      "test plugin",                    \
                                                      DEPS,                             \
                                                      bad_create,                       \
                                                      0,                                \
                                                      0,                                \
                                                      0}
