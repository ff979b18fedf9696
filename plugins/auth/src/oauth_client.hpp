#pragma once
// Outbound HTTP(S) for OAuth2 sign-in: the code exchange at the provider's token endpoint and the
// profile reads (userinfo, emails). Plain Poco sessions, no redirects followed, bounded bodies.
#include <string>
#include <utility>
#include <vector>

namespace auth {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One request to an http(s) URL; throws std::runtime_error on a network, TLS or timeout failure
// (the message names the host, never a header or body). `body` is sent when non-empty, with
// `content_type`. The reply body is cut at 1 MiB.
HttpReply http_call(const std::string& method, const std::string& url, const HttpHeaders& headers,
                    const std::string& body = {}, const std::string& content_type = {},
                    int timeout_ms = 10000);

// application/x-www-form-urlencoded / query component encoding (everything but RFC 3986's
// unreserved characters).
std::string url_encode(const std::string& s);

}  // namespace auth
