/* A third-party plugin in plain C that runs code in boxes through the sandboxes plugin's
 * "alpaca.isolation" interface (sdk/include/alpaca/isolation.h), the C ABI only: no C++ and
 * nothing of the sandboxes plugin but its header. tests/integration/isolation-interface.test.mjs
 * drives it. Management scope (admin token), all under /isolation-probe:
 *
 *   GET    /info                          {struct_size, known_size, newer_version_refused}
 *   POST   /boxes?memory_mb&cpu_millis&pids&disk_mb&network&m0..m7&big
 *                                         201 {id}        box_start (m<i>: "host:box[:rw]")
 *   GET    /boxes/:id                     {id, alive}     box_alive
 *   DELETE /boxes/:id                     {destroyed}     box_destroy
 *   POST   /boxes/:id/exec?a0..a31&e0..e31&cwd&timeout_ms&output_limit&big   body = stdin
 *                                         {exit_code, timed_out, out_of_memory, truncated,
 *                                          duration_ms, stdout, stderr, result_struct_size,
 *                                          canary_intact}
 *   POST   /boxes/:id/spawn?a0..&e0..&cwd&log&big  {handle}
 *   GET    /boxes/:id/processes/:h        {running, exit_code}  process_running
 *   DELETE /boxes/:id/processes/:h        {stopped}       process_stop
 *   POST   /boxes/:id/ports/:port         {host_port}     expose_port
 *   PUT    /boxes/:id/files?path          body = content, 201 {size}   write_file
 *   GET    /boxes/:id/files?path&max      200 raw bytes   read_file
 *   POST   /run?mount=<host dir>&marker=<word>[&memory_mb]  the whole flow a hosting-like
 *          plugin does, in C: a box with <host dir> read-only at /data, a program written to
 *          /app/x.py and run with stdin and env, its output file read back, a site written and
 *          served by a spawned `python3 -m http.server 8080`, polled until it listens, and port
 *          8080 exposed: {id, exec{...}, out_file, handle, host_port, polls, site, log}.
 *
 * Failures of an interface call answer 422 {error: "<function> failed", detail: err}.
 * With `big=1` the spec and command structs are passed with a struct_size larger than this
 * header's (trailing fields a newer header might add, filled with junk), and the result struct
 * has a canary after it: a provider must ignore what it does not know and write only its own
 * fields. Boxes still open when the plugin stops are destroyed. */
#include <alpaca/isolation.h>
#include <alpaca/plugin.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BOXES 64
#define MAX_ARGS 32
#define MAX_MOUNTS 8
#define CANARY 0x5a5a5a5a5a5a5a5aull

typedef struct Slot {
  int id;
  alpaca_isolation_box* box;
} Slot;

typedef struct State {
  alpaca_host* host;
  const alpaca_host_api* api;
  const alpaca_isolation_api* iso;
  pthread_mutex_t mu;
  Slot slots[MAX_BOXES];
  int next_id;
} State;

static State state = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Structs as a plugin built against a newer header would pass them. */
typedef struct BigSpec {
  alpaca_isolation_spec spec;
  uint64_t future[4];
} BigSpec;
typedef struct BigCommand {
  alpaca_isolation_command cmd;
  uint64_t future[4];
} BigCommand;
typedef struct GuardedResult {
  alpaca_isolation_result result;
  uint64_t canary[4];
} GuardedResult;

/* ---- a growable text buffer ------------------------------------------------------------------ */

typedef struct Buf {
  char* p;
  size_t len, cap;
  int failed;
} Buf;

static void buf_add(Buf* b, const char* s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char* p = (char*)realloc(b->p, cap);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void buf_str(Buf* b, const char* s) {
  buf_add(b, s, strlen(s));
}

static void buf_fmt(Buf* b, const char* fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal of n bytes (UTF-8 passed through, control bytes escaped). */
static void buf_json(Buf* b, const char* s, size_t n) {
  buf_add(b, "\"", 1);
  for (size_t i = 0; s && i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_add(b, e, 2);
    } else if (c == '\n') {
      buf_add(b, "\\n", 2);
    } else if (c < 0x20 || c == 0x7f) {
      buf_fmt(b, "\\u%04x", c);
    } else {
      buf_add(b, (const char*)&c, 1);
    }
  }
  buf_add(b, "\"", 1);
}

static void buf_free(Buf* b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- responses ------------------------------------------------------------------------------- */

static alpaca_status send_json(State* s, alpaca_response* res, int status, Buf* b) {
  if (b->failed) {
    buf_free(b);
    return s->api->response_error(res, 500, "out of memory", NULL);
  }
  s->api->response_status(res, status);
  s->api->response_header(res, "Content-Type", "application/json");
  alpaca_status st = s->api->response_send(res, b->p ? b->p : "{}", b->p ? b->len : 2);
  buf_free(b);
  return st;
}

static alpaca_status call_failed(State* s, alpaca_response* res, const char* fn, const char* err) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s failed", fn);
  return s->api->response_error(res, 422, msg, err && *err ? err : "(no message)");
}

/* ---- the box table --------------------------------------------------------------------------- */

static int table_add(State* s, alpaca_isolation_box* box) {
  int id = -1;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < MAX_BOXES; ++i) {
    if (!s->slots[i].box) {
      s->slots[i].box = box;
      s->slots[i].id = id = ++s->next_id;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return id;
}

static alpaca_isolation_box* table_find(State* s, int id, int remove) {
  alpaca_isolation_box* box = NULL;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < MAX_BOXES; ++i) {
    if (s->slots[i].box && s->slots[i].id == id) {
      box = s->slots[i].box;
      if (remove) s->slots[i].box = NULL;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return box;
}

/* The box named by the route's :id, or NULL after answering 404. */
static alpaca_isolation_box* box_of(State* s, alpaca_request* req, alpaca_response* res, int remove,
                                    int* id_out) {
  const char* id = s->api->request_param(req, "id");
  int n = id ? atoi(id) : 0;
  alpaca_isolation_box* box = n > 0 ? table_find(s, n, remove) : NULL;
  if (!box) s->api->response_error(res, 404, "no such box", id);
  if (id_out) *id_out = n;
  return box;
}

/* ---- request helpers ------------------------------------------------------------------------- */

static long long query_num(State* s, alpaca_request* req, const char* name, long long fallback) {
  const char* v = s->api->request_query(req, name);
  return v && *v ? strtoll(v, NULL, 10) : fallback;
}

/* prefix0, prefix1, ... (stops at the first missing one) into list, NULL-terminated. */
static int query_list(State* s, alpaca_request* req, char prefix, const char** list, int max) {
  int n = 0;
  for (; n < max; ++n) {
    char name[8];
    snprintf(name, sizeof name, "%c%d", prefix, n);
    const char* v = s->api->request_query(req, name);
    if (!v) break;
    list[n] = v;
  }
  list[n] = NULL;
  return n;
}

/* The whole body, malloc'd (NUL-terminated for convenience); NULL when it cannot be read. */
static char* read_body(State* s, alpaca_request* req, size_t* len) {
  Buf b = {0};
  buf_add(&b, "", 0);
  char chunk[16384];
  for (;;) {
    int64_t n = s->api->request_read(req, chunk, sizeof chunk);
    if (n < 0) {
      buf_free(&b);
      return NULL;
    }
    if (n == 0) break;
    buf_add(&b, chunk, (size_t)n);
  }
  if (b.failed) {
    buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.p;
}

static void fill_command(State* s, alpaca_request* req, BigCommand* big, const char** argv,
                         const char** env) {
  memset(big, 0, sizeof *big);
  int use_big = query_num(s, req, "big", 0) != 0;
  big->cmd.struct_size = use_big ? sizeof(BigCommand) : sizeof(alpaca_isolation_command);
  if (use_big)
    for (int i = 0; i < 4; ++i) big->future[i] = 0xdeadbeefdeadbeefull;
  query_list(s, req, 'a', argv, MAX_ARGS);
  query_list(s, req, 'e', env, MAX_ARGS);
  big->cmd.argv = argv;
  big->cmd.env = env[0] ? env : NULL;
  big->cmd.cwd = s->api->request_query(req, "cwd");
  big->cmd.timeout_ms = (uint32_t)query_num(s, req, "timeout_ms", 0);
  big->cmd.output_limit = (uint64_t)query_num(s, req, "output_limit", 0);
}

static void result_json(Buf* b, const GuardedResult* g) {
  const alpaca_isolation_result* r = &g->result;
  int canary = 1;
  for (int i = 0; i < 4; ++i) canary = canary && g->canary[i] == CANARY;
  buf_fmt(b,
          "{\"exit_code\":%d,\"timed_out\":%s,\"out_of_memory\":%s,\"truncated\":%s,"
          "\"duration_ms\":%llu,\"result_struct_size\":%zu,\"canary_intact\":%s,\"stdout\":",
          r->exit_code, r->timed_out ? "true" : "false", r->out_of_memory ? "true" : "false",
          r->truncated ? "true" : "false", (unsigned long long)r->duration_ms, r->struct_size,
          canary ? "true" : "false");
  buf_json(b, r->stdout_data, r->stdout_len);
  buf_str(b, ",\"stderr\":");
  buf_json(b, r->stderr_data, r->stderr_len);
  buf_str(b, "}");
}

static void guard_init(GuardedResult* g) {
  memset(g, 0, sizeof *g);
  g->result.struct_size = sizeof g->result;
  for (int i = 0; i < 4; ++i) g->canary[i] = CANARY;
}

/* ---- handlers -------------------------------------------------------------------------------- */

static alpaca_status h_info(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  (void)req;
  Buf b = {0};
  buf_fmt(&b, "{\"struct_size\":%zu,\"known_size\":%zu,\"newer_version_refused\":%s}",
          s->iso->struct_size, sizeof(alpaca_isolation_api),
          s->api->get_interface(s->host, ALPACA_ISOLATION_INTERFACE,
                                ALPACA_ISOLATION_VERSION + 1) == NULL
              ? "true"
              : "false");
  return send_json(s, res, 200, &b);
}

static alpaca_status h_box_create(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  BigSpec big;
  memset(&big, 0, sizeof big);
  int use_big = query_num(s, req, "big", 0) != 0;
  big.spec.struct_size = use_big ? sizeof(BigSpec) : sizeof(alpaca_isolation_spec);
  if (use_big)
    for (int i = 0; i < 4; ++i) big.future[i] = 0xdeadbeefdeadbeefull;
  big.spec.memory_bytes = (uint64_t)query_num(s, req, "memory_mb", 0) << 20;
  big.spec.cpu_millis = (uint32_t)query_num(s, req, "cpu_millis", 0);
  big.spec.pids = (uint32_t)query_num(s, req, "pids", 0);
  big.spec.disk_bytes = (uint64_t)query_num(s, req, "disk_mb", 0) << 20;
  big.spec.network = (int)query_num(s, req, "network", -1);
  const char* mounts[MAX_MOUNTS + 1];
  query_list(s, req, 'm', mounts, MAX_MOUNTS);
  big.spec.mounts = mounts[0] ? mounts : NULL;
  char err[512] = "";
  alpaca_isolation_box* box = s->iso->box_start(&big.spec, err, sizeof err);
  if (!box) return call_failed(s, res, "box_start", err);
  int id = table_add(s, box);
  if (id < 0) {
    s->iso->box_destroy(box);
    return s->api->response_error(res, 429, "too many boxes", NULL);
  }
  Buf b = {0};
  buf_fmt(&b, "{\"id\":%d,\"alive\":%s}", id, s->iso->box_alive(box) ? "true" : "false");
  return send_json(s, res, 201, &b);
}

static alpaca_status h_box_get(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  int id;
  alpaca_isolation_box* box = box_of(s, req, res, 0, &id);
  if (!box) return ALPACA_OK;
  Buf b = {0};
  buf_fmt(&b, "{\"id\":%d,\"alive\":%s}", id, s->iso->box_alive(box) ? "true" : "false");
  return send_json(s, res, 200, &b);
}

static alpaca_status h_box_delete(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  int id;
  alpaca_isolation_box* box = box_of(s, req, res, 1, &id);
  if (!box) return ALPACA_OK;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  s->iso->box_destroy(box);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  Buf b = {0};
  buf_fmt(&b, "{\"id\":%d,\"destroyed\":true,\"ms\":%lld}", id, ms);
  return send_json(s, res, 200, &b);
}

static alpaca_status h_exec(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  size_t in_len = 0;
  char* in = read_body(s, req, &in_len);
  if (!in) return s->api->response_error(res, 400, "cannot read the body", NULL);
  const char* argv[MAX_ARGS + 1];
  const char* env[MAX_ARGS + 1];
  BigCommand cmd;
  fill_command(s, req, &cmd, argv, env);
  cmd.cmd.stdin_data = in_len ? in : NULL;
  cmd.cmd.stdin_len = in_len;
  GuardedResult g;
  guard_init(&g);
  char err[512] = "";
  int rc = s->iso->exec(box, &cmd.cmd, &g.result, err, sizeof err);
  free(in);
  if (rc != 0) return call_failed(s, res, "exec", err);
  Buf b = {0};
  result_json(&b, &g);
  s->iso->result_free(&g.result);
  return send_json(s, res, 200, &b);
}

static alpaca_status h_spawn(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  const char* argv[MAX_ARGS + 1];
  const char* env[MAX_ARGS + 1];
  BigCommand cmd;
  fill_command(s, req, &cmd, argv, env);
  char err[512] = "";
  uint64_t h = s->iso->spawn(box, &cmd.cmd, s->api->request_query(req, "log"), err, sizeof err);
  if (!h) return call_failed(s, res, "spawn", err);
  Buf b = {0};
  buf_fmt(&b, "{\"handle\":%llu}", (unsigned long long)h);
  return send_json(s, res, 200, &b);
}

static alpaca_status h_process_get(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  const char* h = s->api->request_param(req, "h");
  int code = -12345;
  int running = s->iso->process_running(box, strtoull(h ? h : "0", NULL, 10), &code);
  Buf b = {0};
  buf_fmt(&b, "{\"running\":%d,\"exit_code\":%d}", running, code);
  return send_json(s, res, 200, &b);
}

static alpaca_status h_process_delete(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  const char* h = s->api->request_param(req, "h");
  s->iso->process_stop(box, strtoull(h ? h : "0", NULL, 10));
  Buf b = {0};
  buf_str(&b, "{\"stopped\":true}");
  return send_json(s, res, 200, &b);
}

static alpaca_status h_port(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  const char* p = s->api->request_param(req, "port");
  char err[512] = "";
  uint16_t host_port = s->iso->expose_port(box, (uint16_t)atoi(p ? p : "0"), err, sizeof err);
  if (!host_port) return call_failed(s, res, "expose_port", err);
  Buf b = {0};
  buf_fmt(&b, "{\"host_port\":%u}", (unsigned)host_port);
  return send_json(s, res, 200, &b);
}

static alpaca_status h_file_put(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  size_t len = 0;
  char* data = read_body(s, req, &len);
  if (!data) return s->api->response_error(res, 400, "cannot read the body", NULL);
  char err[512] = "";
  int rc = s->iso->write_file(box, s->api->request_query(req, "path"), data, len, err, sizeof err);
  free(data);
  if (rc != 0) return call_failed(s, res, "write_file", err);
  Buf b = {0};
  buf_fmt(&b, "{\"size\":%zu}", len);
  return send_json(s, res, 201, &b);
}

static alpaca_status h_file_get(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  alpaca_isolation_box* box = box_of(s, req, res, 0, NULL);
  if (!box) return ALPACA_OK;
  size_t max = (size_t)query_num(s, req, "max", 1 << 20);
  size_t len = 12345;
  char err[512] = "";
  void* data =
      s->iso->read_file(box, s->api->request_query(req, "path"), max, &len, err, sizeof err);
  if (!data) return call_failed(s, res, "read_file", err);
  s->api->response_status(res, 200);
  s->api->response_header(res, "Content-Type", "application/octet-stream");
  alpaca_status st = s->api->response_send(res, data, len);
  s->iso->free_buffer(data);
  return st;
}

/* ---- the whole flow in C --------------------------------------------------------------------- */

static const char kProgram[] =
    "import os, sys\n"
    "data = sys.stdin.read()\n"
    "mounted = open('/data/input.txt').read().strip()\n"
    "with open('/app/out.txt', 'w') as f:\n"
    "    f.write('upper:' + data.upper())\n"
    "print('stdin=' + data)\n"
    "print('env=' + os.environ.get('GREETING', '-'))\n"
    "print('mounted=' + mounted)\n"
    "print('cwd=' + os.getcwd())\n"
    "sys.exit(3)\n";

static alpaca_status h_run(void* user, alpaca_request* req, alpaca_response* res) {
  State* s = (State*)user;
  const alpaca_isolation_api* iso = s->iso;
  const char* mount = s->api->request_query(req, "mount");
  const char* marker = s->api->request_query(req, "marker");
  if (!mount || !*mount || !marker || !*marker || strchr(marker, '/') || strchr(mount, ':'))
    return s->api->response_error(res, 400, "mount and marker are required", NULL);
  char err[512] = "";
  const char* fn = NULL;
  Buf b = {0};
  int id = -1;

  char mount_spec[1024];
  snprintf(mount_spec, sizeof mount_spec, "%s:/data", mount);
  const char* mounts[] = {mount_spec, NULL};
  alpaca_isolation_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.struct_size = sizeof spec;
  spec.memory_bytes = (uint64_t)query_num(s, req, "memory_mb", 0) << 20;
  spec.network = 1;
  spec.mounts = mounts;
  alpaca_isolation_box* box = iso->box_start(&spec, err, sizeof err);
  if (!box) return call_failed(s, res, "box_start", err);

  /* A program, run with stdin and env; it writes a file we read back. */
  fn = "write_file";
  if (iso->write_file(box, "/app/x.py", kProgram, sizeof kProgram - 1, err, sizeof err) != 0)
    goto fail;
  const char* argv[] = {"python3", "/app/x.py", NULL};
  const char* env[] = {"GREETING=hello from C", NULL};
  alpaca_isolation_command cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.struct_size = sizeof cmd;
  cmd.argv = argv;
  cmd.env = env;
  cmd.stdin_data = "piped in";
  cmd.stdin_len = 8;
  cmd.timeout_ms = 30000;
  GuardedResult g;
  guard_init(&g);
  fn = "exec";
  if (iso->exec(box, &cmd, &g.result, err, sizeof err) != 0) goto fail;
  buf_str(&b, "{\"exec\":");
  result_json(&b, &g);
  iso->result_free(&g.result);
  size_t len = 0;
  fn = "read_file";
  char* out = (char*)iso->read_file(box, "/app/out.txt", 4096, &len, err, sizeof err);
  if (!out) goto fail;
  buf_str(&b, ",\"out_file\":");
  buf_json(&b, out, len);
  iso->free_buffer(out);

  /* A site, served by a long-running process. */
  char site[256], page[320], text[256];
  snprintf(site, sizeof site, "/app/site-%s", marker);
  snprintf(page, sizeof page, "%s/hello.txt", site);
  int text_len = snprintf(text, sizeof text, "hello from %s\n", marker);
  fn = "write_file";
  if (iso->write_file(box, page, text, (size_t)text_len, err, sizeof err) != 0) goto fail;
  const char* serve_argv[] = {"python3", "-m",          "http.server", "8080", "--bind",
                              "0.0.0.0", "--directory", site,          NULL};
  const char* serve_env[] = {"PYTHONUNBUFFERED=1", NULL};
  alpaca_isolation_command serve;
  memset(&serve, 0, sizeof serve);
  serve.struct_size = sizeof serve;
  serve.argv = serve_argv;
  serve.env = serve_env;
  fn = "spawn";
  uint64_t handle = iso->spawn(box, &serve, "/tmp/http.log", err, sizeof err);
  if (!handle) goto fail;

  /* Poll from inside the box until it listens (or it died). */
  const char* probe_argv[] = {
      "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), 1).close()",
      NULL};
  alpaca_isolation_command probe;
  memset(&probe, 0, sizeof probe);
  probe.struct_size = sizeof probe;
  probe.argv = probe_argv;
  probe.timeout_ms = 5000;
  int polls = 0, listening = 0;
  for (; polls < 100 && !listening; ++polls) {
    int code = -1;
    if (iso->process_running(box, handle, &code) != 1) {
      snprintf(err, sizeof err, "http.server ended with %d", code);
      fn = "process_running";
      goto fail;
    }
    GuardedResult pr;
    guard_init(&pr);
    fn = "exec";
    if (iso->exec(box, &probe, &pr.result, err, sizeof err) != 0) goto fail;
    listening = pr.result.exit_code == 0;
    iso->result_free(&pr.result);
    if (!listening) nanosleep(&(struct timespec){0, 100000000}, NULL);
  }
  if (!listening) {
    fn = "poll";
    snprintf(err, sizeof err, "http.server not listening after %d polls", polls);
    goto fail;
  }
  fn = "expose_port";
  uint16_t host_port = iso->expose_port(box, 8080, err, sizeof err);
  if (!host_port) goto fail;

  id = table_add(s, box);
  if (id < 0) {
    fn = "table_add";
    snprintf(err, sizeof err, "too many boxes");
    goto fail;
  }
  buf_fmt(&b,
          ",\"id\":%d,\"handle\":%llu,\"host_port\":%u,\"polls\":%d,\"log\":\"/tmp/http.log\","
          "\"site\":",
          id, (unsigned long long)handle, (unsigned)host_port, polls);
  buf_json(&b, site, strlen(site));
  buf_str(&b, "}");
  return send_json(s, res, 200, &b);

fail:
  buf_free(&b);
  iso->box_destroy(box);
  return call_failed(s, res, fn, err);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

typedef struct RouteDef {
  const char* method;
  const char* pattern;
  alpaca_handler_fn fn;
} RouteDef;

static const RouteDef kRoutes[] = {
    {"GET", "/isolation-probe/info", h_info},
    {"POST", "/isolation-probe/run", h_run},
    {"POST", "/isolation-probe/boxes", h_box_create},
    {"GET", "/isolation-probe/boxes/:id", h_box_get},
    {"DELETE", "/isolation-probe/boxes/:id", h_box_delete},
    {"POST", "/isolation-probe/boxes/:id/exec", h_exec},
    {"POST", "/isolation-probe/boxes/:id/spawn", h_spawn},
    {"GET", "/isolation-probe/boxes/:id/processes/:h", h_process_get},
    {"DELETE", "/isolation-probe/boxes/:id/processes/:h", h_process_delete},
    {"POST", "/isolation-probe/boxes/:id/ports/:port", h_port},
    {"PUT", "/isolation-probe/boxes/:id/files", h_file_put},
    {"GET", "/isolation-probe/boxes/:id/files", h_file_get},
};

static alpaca_status create(alpaca_host* host, const alpaca_host_api* api, void** out) {
  state.host = host;
  state.api = api;
  *out = &state;
  for (size_t i = 0; i < sizeof kRoutes / sizeof kRoutes[0]; ++i) {
    alpaca_status st = api->register_route(host, ALPACA_SCOPE_MANAGEMENT, kRoutes[i].method,
                                           kRoutes[i].pattern, 0, kRoutes[i].fn, &state);
    if (st != ALPACA_OK) return st;
  }
  return ALPACA_OK;
}

static alpaca_status start(void* st) {
  State* s = (State*)st;
  s->iso = (const alpaca_isolation_api*)s->api->get_interface(s->host, ALPACA_ISOLATION_INTERFACE,
                                                              ALPACA_ISOLATION_VERSION);
  if (!s->iso || s->iso->struct_size < sizeof(alpaca_isolation_api)) {
    s->api->set_error(s->host, "interface alpaca.isolation v1 is missing or too small");
    return ALPACA_ERR_NOT_FOUND;
  }
  return ALPACA_OK;
}

/* Stops before sandboxes (reverse dependency order): whatever boxes are left go now. */
static void stop(void* st) {
  State* s = (State*)st;
  for (;;) {
    alpaca_isolation_box* box = NULL;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_BOXES && !box; ++i) {
      if (s->slots[i].box) {
        box = s->slots[i].box;
        s->slots[i].box = NULL;
      }
    }
    pthread_mutex_unlock(&s->mu);
    if (!box) break;
    s->iso->box_destroy(box);
  }
}

static const char* const deps[] = {"sandboxes", NULL};
static const alpaca_plugin_descriptor descriptor = {sizeof(alpaca_plugin_descriptor),
                                                    ALPACA_ABI_MAJOR,
                                                    0,
                                                    "isolation_client",
                                                    "1.0.0",
                                                    "runs code in boxes through alpaca.isolation",
                                                    deps,
                                                    create,
                                                    start,
                                                    stop,
                                                    NULL};

ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) {
  return &descriptor;
}
