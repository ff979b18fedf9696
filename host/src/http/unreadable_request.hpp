#pragma once
// What to answer when Poco cannot read a request's line or headers (it would send an empty
// 400): 414 for a URI over its limit, 431 for headers over theirs, 400 for anything else.
#include <cstdint>
#include <string>

namespace Poco {
class Exception;
}

namespace alpaca {

// Poco 1.11's fixed limits (private to HTTPRequest and MessageHeader; not configurable).
inline constexpr int64_t kMaxUriBytes = 16384;
inline constexpr int64_t kMaxHeaderNameBytes = 256;
inline constexpr int64_t kMaxHeaderValueBytes = 8192;
inline constexpr int kMaxHeaderFields = 100;

struct UnreadableRequest {
  int status = 400;
  std::string error;  // {"error": ..., "detail": ...}
  std::string detail;
};

// `e`: what reading the request threw; `consumed`: bytes of the request read before it did.
UnreadableRequest describe_unreadable_request(const Poco::Exception& e, int64_t consumed);

}  // namespace alpaca
