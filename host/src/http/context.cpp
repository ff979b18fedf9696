#include "http/context.hpp"

#include <alpaca/plugin.hpp>

void alpaca_request::fill_caller_view() {
  caller.struct_size = sizeof(alpaca_caller);
  caller.account_id = account_id.empty() ? nullptr : account_id.c_str();
  caller.project_ref = caller_project.empty() ? nullptr : caller_project.c_str();
  caller.role = role.empty() ? nullptr : role.c_str();
  caller.subject = subject.empty() ? nullptr : subject.c_str();
  caller.claims_json = claims_json.c_str();
}

namespace alpaca {

void send_json(alpaca_response& res, int status, const std::string& body) {
  if (res.committed) return;
  res.committed = res.finished = true;
  res.http->setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  res.http->setContentType("application/json");
  try {
    res.http->sendBuffer(body.data(), body.size());
  } catch (const std::exception&) {
    // The client went away; nothing left to do.
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
