/*
 * Alpaca plugin ABI — the only contract between alpaca-server and a plugin.
 *
 * Pure C. No C++ type, exception or allocator crosses this boundary.
 * Rules (see sdk/ABI.md for the long form):
 *   - A plugin exports one function, ALPACA_PLUGIN_ENTRY (alpaca_plugin_v1), returning a const
 *     descriptor. The ABI major is part of the symbol name.
 *   - Every struct starts with `struct_size`. Structs and function tables are append-only; each
 *     field is grouped under the minor version that added it. A reader checks struct_size before
 *     touching a field added after minor 0.
 *   - A plugin loads when its major equals the host's and its minor is <= the host's.
 *   - Ownership is written on every function: "borrowed" means valid only for the duration of the
 *     call (or the handler invocation, for request data); "copied" means the receiver copies.
 *   - Libraries are never unloaded.
 */
#ifndef ALPACA_PLUGIN_H
#define ALPACA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALPACA_ABI_MAJOR 1
#define ALPACA_ABI_MINOR 2

#if defined(_WIN32)
#define ALPACA_EXPORT __declspec(dllexport)
#else
#define ALPACA_EXPORT __attribute__((visibility("default")))
#endif

/* The one symbol a plugin exports. The major is in the name: a plugin built for another major
 * exports alpaca_plugin_v2 (etc.) and is recognised without running any of its code. */
#define ALPACA_PLUGIN_ENTRY alpaca_plugin_v1
#define ALPACA_PLUGIN_ENTRY_NAME "alpaca_plugin_v1"

/* ---- Opaque handles (all owned by the host) ------------------------------------------------ */

/* One per loaded plugin; valid from create() until the process exits. */
typedef struct alpaca_host alpaca_host;
/* One per HTTP request; valid only inside the handler call that received it. */
typedef struct alpaca_request alpaca_request;
typedef struct alpaca_response alpaca_response;

/* ---- Status codes --------------------------------------------------------------------------- */

typedef enum alpaca_status {
  ALPACA_OK = 0,
  ALPACA_ERR_INVALID = 1,   /* bad argument */
  ALPACA_ERR_CONFLICT = 2,  /* duplicate route / interface */
  ALPACA_ERR_NOT_FOUND = 3, /* unknown interface, missing value */
  ALPACA_ERR_STATE = 4,     /* called at the wrong time (e.g. route after create) */
  ALPACA_ERR_IO = 5,        /* client went away, write failed */
  ALPACA_ERR_INTERNAL = 6
} alpaca_status;

typedef enum alpaca_log_level {
  ALPACA_LOG_TRACE = 0,
  ALPACA_LOG_DEBUG = 1,
  ALPACA_LOG_INFO = 2,
  ALPACA_LOG_WARN = 3,
  ALPACA_LOG_ERROR = 4
} alpaca_log_level;

/* Where a route lives and who may call it. */
typedef enum alpaca_route_scope {
  /* Management API at the server root (/projects/..., /sandboxes). The host requires a personal
   * access token or a project's service_role key. When the pattern begins with /projects/:id the
   * host resolves that project, checks the caller may manage it (404 unknown, 403 foreign), and
   * exposes it through request_project(). */
  ALPACA_SCOPE_MANAGEMENT = 0,
  /* Per-project API, mounted under /p/<ref> and under <ref>.<base_domain>. The pattern is
   * relative to the project base (e.g. "/rest/v1/:table"). The host resolves the project and
   * verifies apikey / Authorization JWTs against the project's secret; a request without a valid
   * key gets 401 unless the route has ALPACA_ROUTE_ANONYMOUS. */
  ALPACA_SCOPE_PROJECT = 1,
  /* At the server root, no authentication (health checks, webhooks that verify their own
   * signature). */
  ALPACA_SCOPE_PUBLIC = 2
} alpaca_route_scope;

/* Route flags (bitwise or). */
#define ALPACA_ROUTE_ANONYMOUS                                       \
  0x1u /* project scope: a missing key is allowed (caller kind NONE) \
        */
/* minor 1, project scope: an Authorization: Bearer token that fails verification does not get
 * the host's 401; the request goes on with the apikey's identity (if any) and
 * alpaca_caller.bearer_error says why the token was refused, so the plugin answers in its own
 * protocol (GoTrue's 403 bad_jwt, say). An invalid apikey is still the host's 401. */
#define ALPACA_ROUTE_OWN_BEARER_ERRORS 0x2u
/* minor 2: the request body is not held to the server's http.max_body_bytes; the handler
 * enforces its own limit while it streams the body (uploads of large files). A 1.1 host ignores
 * the flag and keeps its limit. */
#define ALPACA_ROUTE_OWN_BODY_LIMIT 0x4u

typedef enum alpaca_caller_kind {
  ALPACA_CALLER_NONE = 0,       /* no credentials */
  ALPACA_CALLER_ACCOUNT = 1,    /* personal access token */
  ALPACA_CALLER_PROJECT_JWT = 2 /* JWT signed with a project's secret (anon, service_role, user) */
} alpaca_caller_kind;

/* Who is calling, resolved once by the host. Borrowed: valid during the handler call. */
typedef struct alpaca_caller {
  size_t struct_size;
  /* minor 0 */
  alpaca_caller_kind kind;
  const char* account_id;  /* ACCOUNT: the account's id; otherwise NULL */
  const char* project_ref; /* PROJECT_JWT: the project whose secret verified the token */
  const char* role;        /* PROJECT_JWT: the `role` claim (anon, authenticated, service_role) */
  const char* subject;     /* PROJECT_JWT: the `sub` claim, or NULL */
  const char* claims_json; /* PROJECT_JWT: all claims as a JSON object; otherwise "{}" */
  /* minor 1 (check struct_size) */
  /* Routes with ALPACA_ROUTE_OWN_BEARER_ERRORS: why the Bearer token was refused; else NULL. */
  const char* bearer_error;
} alpaca_caller;

/* The project a request addresses. Borrowed: valid during the handler call. */
typedef struct alpaca_project {
  size_t struct_size;
  /* minor 0 */
  const char* ref; /* the project's id (also its subdomain) */
  const char* name;
  const char* database;   /* name of the project's Postgres database */
  const char* server_url; /* base URL of the per-project APIs */
} alpaca_project;

/* A route handler. Runs on one of the host's worker threads, concurrently with other requests.
 * Return ALPACA_OK after writing a response. Returning anything else without having written a
 * response makes the host answer 500 with the message last given to response_error(), or a
 * generic one. `user` is the pointer given at registration. */
typedef alpaca_status (*alpaca_handler_fn)(void* user, alpaca_request* req, alpaca_response* res);

/* minor 1: called after a project's database is made, before POST /projects answers. */
typedef void (*alpaca_project_hook_fn)(void* user, const char* project_ref);

/* Functions the host offers. Passed to create(); valid until the process exits. */
typedef struct alpaca_host_api {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* ---- minor 0: logging and configuration ---- */
  /* msg is borrowed. */
  void (*log)(alpaca_host* host, alpaca_log_level level, const char* msg);
  /* The plugin's own key `<plugin>.<key>` (env ALPACA_<PLUGIN>_<KEY> overrides the file).
   * Returns a host-owned string valid until exit, or `fallback` when unset. */
  const char* (*config_get)(alpaca_host* host, const char* key, const char* fallback);
  /* The server's data directory; host-owned, valid until exit. */
  const char* (*data_dir)(alpaca_host* host);

  /* ---- minor 0: routes (only during create) ---- */
  /* pattern: "/segment/:param/.../ *rest" (no space); a trailing "*name" matches the rest of the
   * path (possibly empty). method is an HTTP method in capitals, or "*" for any. Strings are
   * copied. A duplicate method+pattern in the same scope returns ALPACA_ERR_CONFLICT and the host
   * refuses the plugin. */
  alpaca_status (*register_route)(alpaca_host* host, alpaca_route_scope scope, const char* method,
                                  const char* pattern, uint32_t flags, alpaca_handler_fn handler,
                                  void* user);

  /* ---- minor 0: request accessors (all returned strings borrowed for the handler call) ---- */
  const char* (*request_method)(alpaca_request* req);
  /* Path relative to the route's scope (project prefix stripped), without the query string. */
  const char* (*request_path)(alpaca_request* req);
  /* A :param or *wildcard captured by the route pattern, percent-decoded; NULL if absent. */
  const char* (*request_param)(alpaca_request* req, const char* name);
  /* The raw query string without '?', possibly "". */
  const char* (*request_query_string)(alpaca_request* req);
  /* First value of a query parameter, percent-decoded; NULL if absent. */
  const char* (*request_query)(alpaca_request* req, const char* name);
  /* A header by case-insensitive name; NULL if absent. */
  const char* (*request_header)(alpaca_request* req, const char* name);
  /* Iterate headers: returns ALPACA_ERR_NOT_FOUND past the end. */
  alpaca_status (*request_header_at)(alpaca_request* req, size_t index, const char** name,
                                     const char** value);
  /* Content-Length, or -1 when the body is chunked / unknown. */
  int64_t (*request_content_length)(alpaca_request* req);
  /* Stream the body: copies up to `cap` bytes into buf. Returns the count, 0 at the end, -1 on
   * error or when the body exceeds the server's limit (the host then answers 413 itself). */
  int64_t (*request_read)(alpaca_request* req, void* buf, size_t cap);
  const alpaca_project* (*request_project)(alpaca_request* req); /* NULL when none */
  const alpaca_caller* (*request_caller)(alpaca_request* req);   /* never NULL */

  /* ---- minor 0: response writers ---- */
  alpaca_status (*response_status)(alpaca_response* res, int status);
  /* Adds a header (copied). Must come before the first body byte. */
  alpaca_status (*response_header)(alpaca_response* res, const char* name, const char* value);
  /* Sends a complete body with Content-Length (copied). Ends the response. */
  alpaca_status (*response_send)(alpaca_response* res, const void* data, size_t len);
  /* Streams part of a body: chunked, or with the Content-Length the handler set through
   * response_header (it must then write exactly that many bytes). Call response_end() when done. */
  alpaca_status (*response_write)(alpaca_response* res, const void* data, size_t len);
  alpaca_status (*response_end)(alpaca_response* res);
  /* Sends a file from disk (path borrowed) with its length; content_type may be NULL. */
  alpaca_status (*response_send_file)(alpaca_response* res, const char* path,
                                      const char* content_type);
  /* Sends the management API's error body {"error": message, "detail": detail} with `status`.
   * detail may be NULL. Strings copied. Also records the message for logs. */
  alpaca_status (*response_error)(alpaca_response* res, int status, const char* message,
                                  const char* detail);

  /* ---- minor 0: named, versioned interfaces between plugins and host ---- */
  /* `table` must stay valid until exit and start with a size_t struct_size. Name copied. */
  alpaca_status (*provide_interface)(alpaca_host* host, const char* name, uint32_t version,
                                     const void* table);
  /* Returns the table of `name` whose version >= min_version, or NULL. Call from start() or
   * later (all plugins' create() have run by then). */
  const void* (*get_interface)(alpaca_host* host, const char* name, uint32_t min_version);

  /* ---- minor 0: errors from lifecycle functions ---- */
  /* Records why create/start failed (copied); the host prints it in its refusal line. */
  void (*set_error)(alpaca_host* host, const char* message);

  /* ---- minor 1: client address and project tokens (check abi_minor >= 1) ---- */
  /* The client's IP address as text ("127.0.0.1", "::1"): the peer of the connection, or the
   * first X-Forwarded-For hop when the server trusts a proxy (server.trust_forwarded_for).
   * Borrowed for the handler call; never NULL ("" when unknown). */
  const char* (*request_client_address)(alpaca_request* req);
  /* Signs `payload_json` (a JSON object text, copied) as an HS256 JWT with the secret of project
   * `project_ref`, so plugins can issue tokens the host will accept without ever seeing the
   * secret. Returns a malloc'd string freed with free_string, or NULL when the project is unknown
   * or the payload is not a JSON object. */
  char* (*project_jwt_sign)(alpaca_host* host, const char* project_ref, const char* payload_json);
  void (*free_string)(char* s);
  /* Only during create: `fn(user, ref)` runs on a worker thread each time a project is created,
   * once its database exists (alpaca.db works on it) and before the creation is answered, so a
   * plugin can lay out its schema there (the auth plugin makes auth.users, so a table created
   * next can reference it). The hook must not fail the creation: it logs its own errors. */
  alpaca_status (*on_project_created)(alpaca_host* host, alpaca_project_hook_fn fn, void* user);

  /* ---- minor 2: zero-copy file bodies (check abi_minor >= 2) ---- */
  /* Sends `length` bytes of the open file `fd` from `offset` as the whole body, with sendfile(2)
   * straight to the connection. Set the status and headers first (Content-Range, ETag, ...):
   * the host sends them with Content-Length = length (a Content-Length the handler set is
   * replaced; never chunked), then the bytes, none for a HEAD request. `fd` is borrowed: the
   * host never closes it and does not move its file offset (it may be shared between threads).
   * Ends the response. Returns ALPACA_ERR_STATE when the response was already started,
   * ALPACA_ERR_INVALID for fd < 0 or a range beyond INT64_MAX, ALPACA_ERR_IO when the file ends
   * before `length` bytes or the client goes away or stops reading for the server's send timeout
   * (the head may be out then: the host closes the connection, the client sees a short body). */
  alpaca_status (*response_send_fd)(alpaca_response* res, int fd, uint64_t offset, uint64_t length);
} alpaca_host_api;

/* The size of alpaca_host_api up to the last member of minor `minor` (<= ALPACA_ABI_MINOR). */
#define ALPACA_HOST_API_END_(field) \
  (offsetof(alpaca_host_api, field) + sizeof(((alpaca_host_api*)0)->field))
#define ALPACA_HOST_API_SIZE(minor)                          \
  ((minor) >= 2   ? ALPACA_HOST_API_END_(response_send_fd)   \
   : (minor) == 1 ? ALPACA_HOST_API_END_(on_project_created) \
                  : ALPACA_HOST_API_END_(set_error))

/* True when the host offers minor `minor` of the ABI (its fields may be used). A plugin built
 * with a newer SDK than the host's still sees the host's own minors. */
#define ALPACA_HOST_HAS_MINOR(api, minor) \
  ((api)->abi_minor >= (minor) && (api)->struct_size >= ALPACA_HOST_API_SIZE(minor))

/* What a plugin exports. Static const storage in the plugin; the host only reads it. */
typedef struct alpaca_plugin_descriptor {
  size_t struct_size;
  uint32_t abi_major; /* ALPACA_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor; /* the highest host minor it needs */
  const char* name;   /* unique: [a-z0-9_-]+ */
  const char* version;
  const char* description;
  /* NULL-terminated list of plugin names that must be enabled (their create() runs first), or
   * NULL. */
  const char* const* depends;

  /* Lifecycle, all on the host's main thread, in dependency order (stop/destroy reversed).
   * create: register routes and provide interfaces; return plugin state in *state.
   * start:  the database and all interfaces are available; begin background work.
   * stop:   no more requests will arrive; end background work.
   * destroy: free the state. Any of them may be NULL. */
  alpaca_status (*create)(alpaca_host* host, const alpaca_host_api* api, void** state);
  alpaca_status (*start)(void* state);
  void (*stop)(void* state);
  void (*destroy)(void* state);
} alpaca_plugin_descriptor;

typedef const alpaca_plugin_descriptor* (*alpaca_plugin_entry_fn)(void);

/* ============================================================================================
 * Interface "alpaca.db" version 1 — provided by the host.
 * A session is one pooled connection to one project's database running one transaction.
 * ============================================================================================ */

#define ALPACA_DB_INTERFACE "alpaca.db"
#define ALPACA_DB_VERSION 1

typedef struct alpaca_db_session alpaca_db_session; /* owned by the host until session_end */
typedef struct alpaca_db_result alpaca_db_result;   /* owned by the plugin until result_free */

/* Error details of the last failed call on a session. Borrowed until the next call. */
typedef struct alpaca_db_error {
  size_t struct_size;
  const char* message;  /* never NULL */
  const char* sqlstate; /* 5 chars, or "" when not from Postgres */
  const char* detail;   /* may be NULL */
  const char* hint;     /* may be NULL */
  int position;         /* 1-based character position in the statement, or 0 */
} alpaca_db_error;

typedef struct alpaca_db_api {
  size_t struct_size;
  /* ---- version 1 ---- */
  /* Opens a session on the project's database and begins a transaction. When `role` is non-NULL
   * (anon, authenticated or service_role) the connection logs in as `authenticator` and the
   * transaction runs `SET LOCAL ROLE role` and sets `request.jwt.claims` to claims_json
   * (NULL = "{}") and `request.jwt.claim.role`/`.sub` locally, as Supabase does. role NULL =
   * the management role: the connection logs in as `alpaca_admin` (BYPASSRLS, owns what it
   * creates, not a superuser). Neither login role is a superuser, so no SQL run in a session can
   * RESET ROLE its way up. On failure returns NULL and copies a message into err. */
  alpaca_db_session* (*session_begin)(const char* project_ref, const char* role,
                                      const char* claims_json, char* err, size_t err_cap);
  /* Same, with role and claims taken from the request's caller (anon when no caller). */
  alpaca_db_session* (*session_begin_for_request)(alpaca_request* req, char* err, size_t err_cap);
  /* Ends the session: commit != 0 commits, else rolls back. The connection returns to the pool
   * (or is closed if broken). Returns ALPACA_OK, or an error if the commit failed. */
  alpaca_status (*session_end)(alpaca_db_session* s, int commit);
  /* Runs one parameterised statement ($1..$n; params are text, NULL = SQL NULL; copied). */
  alpaca_status (*query)(alpaca_db_session* s, const char* sql, int nparams,
                         const char* const* params, alpaca_db_result** out);
  /* Fast path: the first column of the first row as text, copied into a malloc'd string the
   * caller frees with free_text(). *out = NULL when there is no row or the value is NULL. */
  alpaca_status (*query_text)(alpaca_db_session* s, const char* sql, int nparams,
                              const char* const* params, char** out);
  void (*free_text)(char* text);
  const alpaca_db_error* (*last_error)(alpaca_db_session* s);
  /* The libpq connection (PGconn*), inside the session's open transaction. The caller may use
   * libpq directly (pipeline mode included) but must leave the connection idle in the
   * transaction before the next call or session_end. */
  void* (*raw_connection)(alpaca_db_session* s);

  /* Result accessors. Strings borrowed until result_free. */
  int (*result_rows)(const alpaca_db_result* r);
  int (*result_columns)(const alpaca_db_result* r);
  const char* (*result_column_name)(const alpaca_db_result* r, int col);
  uint32_t (*result_column_type)(const alpaca_db_result* r, int col);       /* pg_type oid */
  const char* (*result_value)(const alpaca_db_result* r, int row, int col); /* NULL for SQL NULL */
  int64_t (*result_affected)(const alpaca_db_result* r); /* rows affected by INSERT/UPDATE/... */
  void (*result_free)(alpaca_db_result* r);

  /* ---- version 1, addition 1: schema versions (present when struct_size reaches them) ---- */
  /* A number that changes whenever the project database's schema may have changed: DDL
   * committed by anyone (event triggers NOTIFY pgrst), a hand-sent NOTIFY pgrst, a call of
   * schema_changed, or a watch lost and regained. Cache what you derive from the catalog under
   * this number. 0 = not watched (yet): cache nothing. The first ask starts the watch. */
  uint64_t (*schema_version)(const char* project_ref);
  /* Reports DDL the caller just committed, so schema_version changes on this host before the
   * next request (other hosts and the watch learn it from Postgres). */
  void (*schema_changed)(const char* project_ref);

  /* ---- version 1, addition 2: one-round-trip statements ---- */
  /* Runs one statement as the request's caller (role and claims as session_begin_for_request,
   * plus request.method, request.path and request.headers — a JSON object of the lower-cased
   * headers — set locally, as PostgREST does; GET and HEAD requests run read-only) in one
   * implicit transaction: the settings and the
   * statement go out in one libpq pipeline, one round trip, and the statement is prepared once
   * per pooled connection and then reused. It commits when the statement succeeds. Returns
   * ALPACA_OK with *out set; or an error, with *out set to a result whose result_error tells
   * what Postgres said (NULL *out when no connection could be had). Free *out either way.
   * `path` is what request.path says (NULL: the request's path below the project), e.g. the
   * path below /rest/v1 as PostgREST behind Supabase's gateway sees it. */
  alpaca_status (*request_statement)(alpaca_request* req, const char* path, const char* sql,
                                     int nparams, const char* const* params,
                                     alpaca_db_result** out);
  /* The error carried by a failed request_statement result, NULL for a good one. Borrowed
   * until result_free. */
  const alpaca_db_error* (*result_error)(const alpaca_db_result* r);
} alpaca_db_api;

/* True when `api` (an alpaca_db_api*) has the member `field`. */
#define ALPACA_DB_HAS(api, field)                                                 \
  ((api)->struct_size >= offsetof(alpaca_db_api, field) + sizeof((api)->field) && \
   (api)->field != NULL)

#ifdef __cplusplus
}
#endif

#endif /* ALPACA_PLUGIN_H */
