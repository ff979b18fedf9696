#include "http/unreadable_request.hpp"

#include <Poco/Net/NetException.h>

namespace alpaca {

UnreadableRequest describe_unreadable_request(const Poco::Exception& e, int64_t consumed) {
  // Poco's messages (HTTPRequest::read, MessageHeader::read) each name two causes: a limit
  // reached, or the line or the headers ending early. Only the first can happen after more
  // bytes than the limit, so the byte count picks the cause.
  const std::string& what = e.message();
  bool malformed = dynamic_cast<const Poco::Net::MessageException*>(&e) != nullptr;
  if (malformed) {
    if (what == "HTTP request URI invalid or too long" && consumed > kMaxUriBytes)
      return {414, "URI too long",
              "The request URI is longer than " + std::to_string(kMaxUriBytes) +
                  " bytes; send large filters in a POST body (e.g. an RPC) instead"};
    if (what == "Field value too long/no CRLF found" && consumed > kMaxHeaderValueBytes)
      return {431, "Request header too large",
              "A header value is longer than " + std::to_string(kMaxHeaderValueBytes) + " bytes"};
    if (what == "Field name too long/no colon found" && consumed > kMaxHeaderNameBytes)
      return {431, "Request header too large",
              "A header name is longer than " + std::to_string(kMaxHeaderNameBytes) + " bytes"};
    if (what == "Too many header fields")
      return {431, "Too many request headers",
              "The limit is " + std::to_string(kMaxHeaderFields) + " header fields"};
  }
  // Poco's own wording: "Malformed message: " is implied by our error; other kinds keep theirs.
  return {400, "Malformed HTTP request", malformed && !what.empty() ? what : e.displayText()};
}

}  // namespace alpaca
