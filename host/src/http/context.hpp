#pragma once
// The host-side definitions of the ABI's opaque request/response handles.
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <alpaca/plugin.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/router.hpp"

namespace alpaca {
struct ProjectRecord;
}

struct alpaca_request {
  Poco::Net::HTTPServerRequest* http = nullptr;
  std::string method;
  std::string path;          // relative to the scope (project prefix stripped)
  std::string query_string;  // without '?'
  alpaca::Params params;
  std::optional<alpaca::Params> query;  // parsed on first use

  std::shared_ptr<const alpaca::ProjectRecord> project;  // keeps the strings below alive
  alpaca_project project_view{};

  // Caller identity; the views point into the strings below.
  alpaca_caller caller{};
  std::string account_id, caller_project, role, subject, claims_json = "{}";
  std::string bearer_error;  // ALPACA_ROUTE_OWN_BEARER_ERRORS: why the Bearer token was refused

  std::string client_address;  // filled on first request_client_address()
  bool client_address_known = false;
  bool trust_forwarded_for = false;  // server.trust_forwarded_for

  int64_t body_limit = 0;
  int64_t body_read = 0;
  bool body_too_large = false;
  bool body_eof = false;  // the handler read the body to its end
  std::vector<std::pair<std::string, std::string>> header_list;  // for header_at, built lazily
  bool headers_listed = false;

  void fill_caller_view();
};

struct alpaca_response {
  Poco::Net::HTTPServerResponse* http = nullptr;
  // The connection's socket, for sending head and body in one write (send_whole); null when
  // the request did not come from our connection loop.
  Poco::Net::StreamSocket* socket = nullptr;
  bool head_only = false;  // a HEAD request: the body is not sent
  bool committed = false;  // headers sent
  bool finished = false;   // body complete
  std::ostream* stream = nullptr;
  std::string error_message;  // for the log line
  std::string error_detail;
};

namespace alpaca {
// {"error": message, "detail": detail}; with `code` also PostgREST's fields (see send_error).
std::string error_body(const std::string& message, const std::string& detail = {},
                       const std::string& code = {});
// Writes {"error": message, "detail": detail} with `status` (no-op when already committed);
// with `code` also PostgREST's {"code","message","details","hint"}.
void send_error(alpaca_response& res, int status, const std::string& message,
                const std::string& detail = {}, const std::string& code = {});
// Sends a complete JSON body.
void send_json(alpaca_response& res, int status, const std::string& body);
// Sends the status line, headers (Content-Length set) and the whole body: in one write when it
// is small enough to copy (Poco's sendBuffer goes out in 4 KiB pieces: a syscall and a packet
// each).
void send_whole(alpaca_response& res, const void* data, size_t len);
// response_send_fd: the status line and headers with Content-Length = length, then `length`
// bytes of `fd` from `offset` with sendfile(2) (pread + the Poco stream without a socket). The
// fd is borrowed and its offset left alone. After a failure once the head is out, keep-alive is
// off: the client sees a short body and the connection closes.
alpaca_status send_fd(alpaca_response& res, int fd, uint64_t offset, uint64_t length);
}  // namespace alpaca
