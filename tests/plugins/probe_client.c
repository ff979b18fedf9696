/* A plugin in plain C that depends on "probe" and uses its "probe.counter" interface:
 * dependency order, cross-plugin interfaces and the raw C ABI without the C++ layer. */
#include <alpaca/plugin.h>
#include <stdio.h>
#include <string.h>

#include "probe_counter.h"

typedef struct State {
  alpaca_host* host;
  const alpaca_host_api* api;
  const ProbeCounter* counter;
} State;

static State state;

static alpaca_status count(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  (void)req;
  char body[64];
  int n = snprintf(body, sizeof body, "{\"count\":%lld}",
                   (long long)s->counter->next(s->counter->self));
  s->api->response_status(res, 200);
  s->api->response_header(res, "Content-Type", "application/json");
  return s->api->response_send(res, body, (size_t)n);
}

static alpaca_status create(alpaca_host* host, const alpaca_host_api* api, void** out) {
  state.host = host;
  state.api = api;
  *out = &state;
  return api->register_route(host, ALPACA_SCOPE_PUBLIC, "GET", "/probe-client/count", 0, count,
                             &state);
}

static alpaca_status start(void* st) {
  State* s = (State*)st;
  s->counter = (const ProbeCounter*)s->api->get_interface(s->host, "probe.counter", 1);
  if (!s->counter || s->counter->struct_size < sizeof(ProbeCounter)) {
    s->api->set_error(s->host, "interface probe.counter v1 is missing");
    return ALPACA_ERR_NOT_FOUND;
  }
  /* A version we do not have yet must not be handed out. */
  if (s->api->get_interface(s->host, "probe.counter", 2) != NULL) {
    s->api->set_error(s->host, "get_interface returned a table older than asked for");
    return ALPACA_ERR_INTERNAL;
  }
  return ALPACA_OK;
}

static const char* const deps[] = {"probe", NULL};
static const alpaca_plugin_descriptor descriptor = {sizeof(alpaca_plugin_descriptor),
                                                    ALPACA_ABI_MAJOR,
                                                    ALPACA_ABI_MINOR,
                                                    "probe_client",
                                                    "1.0.0",
                                                    "uses probe's interface",
                                                    deps,
                                                    create,
                                                    start,
                                                    NULL,
                                                    NULL};

ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
