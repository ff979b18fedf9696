#include "http/context.hpp"

#include <algorithm>
#include <alpaca/plugin.hpp>
#include <sstream>

void alpaca_request::fill_caller_view() {
  caller.struct_size = sizeof(alpaca_caller);
  caller.account_id = account_id.empty() ? nullptr : account_id.c_str();
  caller.project_ref = caller_project.empty() ? nullptr : caller_project.c_str();
  caller.role = role.empty() ? nullptr : role.c_str();
  caller.subject = subject.empty() ? nullptr : subject.c_str();
  caller.claims_json = claims_json.c_str();
  caller.bearer_error = bearer_error.empty() ? nullptr : bearer_error.c_str();
}

namespace alpaca {

void send_json(alpaca_response& res, int status, const std::string& body) {
  if (res.committed) return;
  res.committed = res.finished = true;
  res.http->setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  res.http->setContentType("application/json");
  try {
    send_whole(res, body.data(), body.size());
  } catch (const std::exception&) {
    // The client went away; nothing left to do.
  }
}

void send_whole(alpaca_response& res, const void* data, size_t len) {
  if (!res.socket) return res.http->sendBuffer(data, len);
  res.http->setChunkedTransferEncoding(false);
  res.http->setContentLength64(static_cast<Poco::Int64>(len));
  std::ostringstream head;
  res.http->write(head);
  std::string out = head.str();
  constexpr size_t kCopyAtMost = 256 * 1024;  // larger bodies: a second write, no copy
  bool together = !res.head_only && len <= kCopyAtMost;
  if (together) out.append(static_cast<const char*>(data), len);
  res.socket->sendBytes(out.data(), static_cast<int>(out.size()));
  if (!together && !res.head_only) {
    const char* p = static_cast<const char*>(data);
    for (size_t sent = 0; sent < len;) {  // sendBytes takes an int
      int n = static_cast<int>(std::min<size_t>(len - sent, 1 << 30));
      res.socket->sendBytes(p + sent, n);
      sent += static_cast<size_t>(n);
    }
  }
}

std::string error_body(const std::string& message, const std::string& detail,
                       const std::string& code) {
  std::string body = "{\"error\":\"" + json_escape(message) + "\"";
  body += detail.empty() ? ",\"detail\":null" : ",\"detail\":\"" + json_escape(detail) + "\"";
  if (!code.empty()) {
    // PostgREST's fields too, for clients that read them (supabase-js reads code/message).
    body += ",\"code\":\"" + json_escape(code) + "\",\"message\":\"" + json_escape(message) + "\"";
    body += detail.empty() ? ",\"details\":null" : ",\"details\":\"" + json_escape(detail) + "\"";
    body += ",\"hint\":null";
  }
  body += '}';
  return body;
}

void send_error(alpaca_response& res, int status, const std::string& message,
                const std::string& detail, const std::string& code) {
  res.error_message = message;
  res.error_detail = detail;
  send_json(res, status, error_body(message, detail, code));
}

}  // namespace alpaca
