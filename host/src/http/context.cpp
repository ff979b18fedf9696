#include "http/context.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <alpaca/plugin.hpp>
#include <cerrno>
#include <chrono>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>

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

namespace {

enum class Copied { all, file_ended, failed };

// Waits until `sock` takes more bytes, at most its send timeout (SO_SNDTIMEO; 60 s without one).
bool wait_writable(int sock) {
  auto timeout = std::chrono::milliseconds(60000);
  timeval tv{};
  socklen_t size = sizeof tv;
  if (::getsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, &size) == 0 &&
      (tv.tv_sec > 0 || tv.tv_usec > 0))
    timeout = std::chrono::milliseconds(int64_t{tv.tv_sec} * 1000 + (tv.tv_usec + 999) / 1000);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd p{sock, POLLOUT, 0};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n > 0) return true;  // writable, or an error the next write reports
    if (n == 0 || errno != EINTR) return false;
  }
}

// `left` bytes of fd from `off` through pread into write(data, n), which throws on failure.
template <typename Write>
Copied copy_pread(int fd, off_t off, uint64_t left, Write&& write) {
  const size_t cap = static_cast<size_t>(std::min<uint64_t>(left, 256 * 1024));
  std::unique_ptr<char[]> buf(new char[cap]);
  while (left > 0) {
    ssize_t n = ::pread(fd, buf.get(), static_cast<size_t>(std::min<uint64_t>(left, cap)), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Copied::failed;
    if (n == 0) return Copied::file_ended;
    write(buf.get(), static_cast<size_t>(n));
    off += n;
    left -= static_cast<uint64_t>(n);
  }
  return Copied::all;
}

// `left` bytes of fd from `off` to the socket with sendfile(2); pread + send when fd cannot be
// sent from (sendfile says EINVAL/ENOSYS: not a regular, mmap-able file).
Copied copy_sendfile(Poco::Net::StreamSocket& socket, int fd, off_t off, uint64_t left) {
  const int sock = socket.impl()->sockfd();
  while (left > 0) {
    // Linux moves at most 0x7ffff000 bytes per call.
    ssize_t n = ::sendfile(sock, fd, &off, static_cast<size_t>(std::min<uint64_t>(left, 1 << 30)));
    if (n > 0) {
      left -= static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) return Copied::file_ended;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {  // the send timeout passed with no progress
      if (wait_writable(sock)) continue;
      return Copied::failed;
    }
    if (errno == EINVAL || errno == ENOSYS)
      return copy_pread(fd, off, left, [&](const char* p, size_t len) {
        socket.sendBytes(p, static_cast<int>(len));
      });
    return Copied::failed;  // EPIPE, ECONNRESET, EIO, ...
  }
  return Copied::all;
}

}  // namespace

alpaca_status send_fd(alpaca_response& res, int fd, uint64_t offset, uint64_t length) {
  if (res.committed) return ALPACA_ERR_STATE;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  if (fd < 0 || offset > kMax || length > kMax - offset) return ALPACA_ERR_INVALID;
  int mode = ::fcntl(fd, F_GETFL);
  if (mode == -1 || (mode & O_ACCMODE) == O_WRONLY) return ALPACA_ERR_INVALID;
  res.committed = res.finished = true;

  auto& http = *res.http;
  http.setChunkedTransferEncoding(false);
  http.erase(Poco::Net::HTTPMessage::CONTENT_LENGTH);  // every one the handler added
  http.setContentLength64(static_cast<Poco::Int64>(length));
  const int status = static_cast<int>(http.getStatus());
  // What Poco's send() leaves without a body too: HEAD, 1xx, 204 and 304.
  const bool body = length > 0 && !res.head_only && status >= 200 && status != 204 && status != 304;
  const off_t off = static_cast<off_t>(offset);
  Copied copied = Copied::all;
  try {
    if (res.socket) {
      std::ostringstream head;
      http.write(head);
      std::string out = head.str();
      // MSG_MORE: the head waits for the first body bytes, so they share a packet.
      res.socket->sendBytes(out.data(), static_cast<int>(out.size()), body ? MSG_MORE : 0);
      if (body) copied = copy_sendfile(*res.socket, fd, off, length);
    } else {
      std::ostream& stream = http.send();  // Poco's stream stops at Content-Length
      res.stream = &stream;
      if (body)
        copied = copy_pread(fd, off, length, [&](const char* p, size_t len) {
          if (!stream.write(p, static_cast<std::streamsize>(len)))
            throw std::runtime_error("write failed");
        });
      if (!stream.flush()) copied = Copied::failed;
    }
  } catch (const std::exception&) {
    copied = Copied::failed;
  }
  if (copied == Copied::all) return ALPACA_OK;
  // The head promised `length` bytes: this connection cannot carry another response.
  http.setKeepAlive(false);
  return ALPACA_ERR_IO;
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
