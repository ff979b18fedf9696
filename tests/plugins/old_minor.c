/* A plugin that declares an older ABI minor than this SDK's (OLD_MINOR, 0 or 1): a newer host
 * must keep loading it. GET /probe/old-minor<N> tells what it sees of the host. */
#include <alpaca/plugin.h>
#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static const alpaca_host_api* g_api;

static alpaca_status handle(void* user, alpaca_request* req, alpaca_response* res) {
  (void)user;
  (void)req;
  char body[200];
  int n = snprintf(body, sizeof body,
                   "{\"declared_minor\":%d,\"host_minor\":%u,\"has_minor1\":%s,\"has_minor2\":%s}",
                   OLD_MINOR, (unsigned)g_api->abi_minor,
                   ALPACA_HOST_HAS_MINOR(g_api, 1) ? "true" : "false",
                   ALPACA_HOST_HAS_MINOR(g_api, 2) ? "true" : "false");
  g_api->response_header(res, "Content-Type", "application/json");
  return g_api->response_send(res, body, (size_t)n);
}

static alpaca_status create(alpaca_host* host, const alpaca_host_api* api, void** state) {
  g_api = api;
  *state = NULL;
  return api->register_route(host, ALPACA_SCOPE_PUBLIC, "GET", "/probe/old-minor" STR(OLD_MINOR), 0,
                             handle, NULL);
}

static const alpaca_plugin_descriptor descriptor = {sizeof(alpaca_plugin_descriptor),
                                                    ALPACA_ABI_MAJOR,
                                                    OLD_MINOR,
                                                    "old_minor" STR(OLD_MINOR),
                                                    "1.0.0",
                                                    "declares an older ABI minor",
                                                    NULL,
                                                    create,
                                                    NULL,
                                                    NULL,
                                                    NULL};

ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
