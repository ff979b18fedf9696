#include "oauth_client.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/URI.h>

#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>

#include "tls_client.hpp"

namespace auth {

namespace {

constexpr size_t kMaxBody = 1 << 20;

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char ch : s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

HttpReply http_call(const std::string& method, const std::string& url, const HttpHeaders& headers,
                    const std::string& body, const std::string& content_type, int timeout_ms) {
  std::string where = url;
  try {
    Poco::URI u(url);
    where = u.getScheme() + "://" + u.getAuthority() + u.getPath();
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (u.getScheme() == "https")
      session = std::make_unique<Poco::Net::HTTPSClientSession>(u.getHost(), u.getPort(),
                                                                tls_client_context());
    else if (u.getScheme() == "http")
      session = std::make_unique<Poco::Net::HTTPClientSession>(u.getHost(), u.getPort());
    else
      throw std::runtime_error("not an http(s) URL");
    session->setTimeout(Poco::Timespan(static_cast<long>(timeout_ms) * 1000));
    std::string target = u.getPathEtc();
    if (target.empty()) target.push_back('/');  // (= "/" trips GCC 12's false -Wrestrict)
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(u.getHost(), u.getPort());
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == Poco::Net::HTTPRequest::HTTP_POST) {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!content_type.empty()) request.setContentType(content_type);
    }
    std::ostream& out = session->sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    HttpReply reply;
    reply.status = static_cast<int>(response.getStatus());
    reply.content_type = response.getContentType();
    char buf[8192];
    while (in && reply.body.size() < kMaxBody) {
      in.read(buf, sizeof buf);
      reply.body.append(buf, static_cast<size_t>(in.gcount()));
    }
    if (reply.body.size() > kMaxBody) reply.body.resize(kMaxBody);
    return reply;
  } catch (const Poco::Exception& e) {
    throw std::runtime_error(method + " " + where + ": " + e.displayText());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(method + " " + where + ": " + e.what());
  }
}

}  // namespace auth
