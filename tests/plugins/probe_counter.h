/* Interface "probe.counter" version 1, provided by the probe test plugin: a cross-plugin
 * function table, as plugins share services (provide_interface / get_interface). */
#ifndef PROBE_COUNTER_H
#define PROBE_COUNTER_H
#include <stddef.h>
#include <stdint.h>

typedef struct ProbeCounter {
  size_t struct_size;
  int64_t (*next)(void* self); /* increments and returns the counter */
  void* self;
} ProbeCounter;

#endif
