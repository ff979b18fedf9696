/*
 * Interface "alpaca.isolation" version 1 — provided by the sandboxes plugin.
 *
 * Runs untrusted code in a box: its own file system view, processes, network and limits
 * (memory, CPU, processes, disk). The sandboxes API is built on it; the functions and hosting
 * plugins use it to run user code: one-shot commands (exec), long-running processes (spawn)
 * with a TCP port reachable from the host (expose_port), and build output mounted read-only.
 *
 * Get it in start():  host_api->get_interface(host, ALPACA_ISOLATION_INTERFACE,
 *                                            ALPACA_ISOLATION_VERSION)
 * Pure C, like plugin.h. Strings passed in are borrowed for the call. Every function is safe to
 * call from several threads; a box may be used by several threads at once.
 */
#ifndef ALPACA_ISOLATION_H
#define ALPACA_ISOLATION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALPACA_ISOLATION_INTERFACE "alpaca.isolation"
#define ALPACA_ISOLATION_VERSION 1

typedef struct alpaca_isolation_box alpaca_isolation_box; /* owned by the provider */

/* What a box gets. Zero fields take the server's sandboxes.* defaults. */
typedef struct alpaca_isolation_spec {
  size_t struct_size;
  uint64_t memory_bytes;
  uint32_t cpu_millis; /* 1000 = one CPU */
  uint32_t pids;
  uint64_t disk_bytes; /* each writable mount: /app, /home/user, /tmp */
  int network;         /* -1 = server default, 0 = loopback only, 1 = outbound allowed */
  /* NULL-terminated list of "host_path:box_path" (read-only) or "host_path:box_path:rw"
   * bind mounts, e.g. a function's bundle or an app's build output; may be NULL. */
  const char* const* mounts;
} alpaca_isolation_spec;

/* One command. argv[0] is looked up in the box's PATH. */
typedef struct alpaca_isolation_command {
  size_t struct_size;
  const char* const* argv; /* NULL-terminated, at least one element */
  const char* const* env;  /* NULL-terminated "KEY=value" added to the box's defaults; or NULL */
  const char* cwd;         /* absolute path in the box; NULL = /app */
  const void* stdin_data;  /* exec only; may be NULL */
  size_t stdin_len;
  uint32_t timeout_ms;   /* exec only; 0 = the server's default */
  uint64_t output_limit; /* exec only, bytes kept per stream; 0 = the server's default */
} alpaca_isolation_command;

/* The outcome of exec. Buffers are owned by the provider until result_free. */
typedef struct alpaca_isolation_result {
  size_t struct_size;
  int exit_code; /* 128 + signal when killed */
  int timed_out; /* the timeout killed the process tree */
  int out_of_memory;
  int truncated;
  uint64_t duration_ms;
  char* stdout_data;
  size_t stdout_len;
  char* stderr_data;
  size_t stderr_len;
} alpaca_isolation_result;

typedef struct alpaca_isolation_api {
  size_t struct_size;
  /* ---- version 1 ---- */
  /* Starts a box and returns when it is ready; NULL on failure with a message in err. */
  alpaca_isolation_box* (*box_start)(const alpaca_isolation_spec* spec, char* err, size_t err_cap);
  /* Kills everything in the box and frees it. Calls on the box running in other threads return
   * (with an error or the killed process's result) and are waited for before the box is freed.
   * The pointer is invalid afterwards. A spec or command whose struct_size is smaller than
   * version 1's is refused with an error. */
  void (*box_destroy)(alpaca_isolation_box* box);
  /* 1 while the box runs. */
  int (*box_alive)(alpaca_isolation_box* box);
  /* Runs a command to completion; whatever it leaves running is killed. Fills *out (free it
   * with result_free). Returns 0, or -1 with a message in err (box gone, bad command). */
  int (*exec)(alpaca_isolation_box* box, const alpaca_isolation_command* cmd,
              alpaca_isolation_result* out, char* err, size_t err_cap);
  void (*result_free)(alpaca_isolation_result* r);
  /* Starts a long-running command, stdout and stderr appended to log_path in the box (NULL =
   * /tmp/process.log). Returns a handle > 0, or 0 with a message in err. */
  uint64_t (*spawn)(alpaca_isolation_box* box, const alpaca_isolation_command* cmd,
                    const char* log_path, char* err, size_t err_cap);
  /* 1 while the spawned process runs; 0 when it ended (*exit_code set), -1 unknown handle
   * (also after process_stop, which forgets it). */
  int (*process_running)(alpaca_isolation_box* box, uint64_t handle, int* exit_code);
  /* Kills the spawned process and everything it started. */
  void (*process_stop)(alpaca_isolation_box* box, uint64_t handle);
  /* Makes TCP box_port inside the box reachable at 127.0.0.1:<return value> on the host
   * (needs network). 0 on failure with a message in err. */
  uint16_t (*expose_port)(alpaca_isolation_box* box, uint16_t box_port, char* err, size_t err_cap);
  /* Files by absolute path in the box; paths cannot leave it. write: 0 or -1 (err).
   * read: a malloc'd buffer (free with free_buffer) and *len, or NULL (err); max_len 0 = the
   * server's sandboxes.max_file_bytes. */
  int (*write_file)(alpaca_isolation_box* box, const char* path, const void* data, size_t len,
                    char* err, size_t err_cap);
  void* (*read_file)(alpaca_isolation_box* box, const char* path, size_t max_len, size_t* len,
                     char* err, size_t err_cap);
  void (*free_buffer)(void* p);
} alpaca_isolation_api;

#ifdef __cplusplus
}
#endif

#endif /* ALPACA_ISOLATION_H */
