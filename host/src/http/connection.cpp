#include "http/connection.hpp"

#include <Poco/Delegate.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>

#include "core/app.hpp"
#include "http/context.hpp"
#include "http/counting_socket.hpp"
#include "http/dispatch.hpp"
#include "http/unreadable_request.hpp"

namespace alpaca {
namespace {

using Poco::Net::HTTPResponse;

// HTTPServerSession that can tell how many bytes of the connection it has handed out, and waits
// for the next request with poll(2): Poco 1.11's Socket::poll makes, waits on and closes an
// epoll instance per call (four system calls per keep-alive request instead of one).
class Session : public Poco::Net::HTTPServerSession {
 public:
  Session(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params)
      : HTTPServerSession(socket, params),
        keep_alive_timeout_(params->getKeepAliveTimeout()),
        requests_left_(params->getMaxKeepAliveRequests()) {}
  int64_t consumed() { return bytes_received(socket()) - buffered(); }

  // HTTPServerSession::hasMoreRequests (Poco 1.11), but with readable().
  bool more_requests() {
    if (first_) {
      first_ = false;
      --requests_left_;  // 0 (unlimited) becomes -1: never counts down to 0 again
      return readable(getTimeout());
    }
    if (requests_left_ == 0 || !getKeepAlive()) return false;
    if (requests_left_ > 0) --requests_left_;
    return buffered() > 0 || readable(keep_alive_timeout_);
  }
  int read_direct(char* buf, std::streamsize n) { return read(buf, n); }
  // Hides HTTPServerSession's, whose counter more_requests() leaves alone.
  bool canKeepAlive() const { return requests_left_ != 0; }

 private:
  // Data (or end of stream, or an error the next read reports) within `timeout`.
  bool readable(const Poco::Timespan& timeout) {
    pollfd p{socket().impl()->sockfd(), POLLIN, 0};
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(timeout.totalMicroseconds());
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (n >= 0) return n > 0;
      if (errno != EINTR) return true;  // let the read report it
    }
  }

  Poco::Timespan keep_alive_timeout_;
  int requests_left_;
  bool first_ = true;
};

// Poco's sendErrorResponse with our JSON body: HTTP/1.1, Connection: close, no more requests.
void send_error_response(Session& session, const App& app, int status, const std::string& error,
                         const std::string& detail = {}) {
  Poco::Net::HTTPServerResponseImpl response(session);
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
  response.setKeepAlive(false);
  response.setDate(Poco::Timestamp());
  // The path is unknown here, so the per-project APIs' CORS header goes on every such answer:
  // a browser then shows the error rather than a CORS failure.
  response.set("Access-Control-Allow-Origin", app.settings().cors_origin);
  if (app.settings().cors_origin != "*") response.set("Vary", "Origin");
  std::string body = error_body(error, detail);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body << std::flush;
  session.setKeepAlive(false);
  if (app.settings().log_requests)
    spdlog::info("http method=- path=- status={} error=\"{}\"", status, error);
}

// Reads and drops what the client still sends after an early answer (a long URI's rest, the
// headers, a body), for at most 2 s: closing with unread data resets the connection, and the
// client may then lose our answer.
void drain_before_close(Poco::Net::StreamSocket& socket) {
  try {
    socket.shutdownSend();
    socket.setReceiveTimeout(Poco::Timespan(0, 500000));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int64_t budget = 32 * 1024 * 1024;
    char buf[16384];
    while (budget > 0 && std::chrono::steady_clock::now() < deadline) {
      int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) break;
      budget -= n;
    }
  } catch (const Poco::Exception&) {
    // reset or timed out: nothing left to protect
  }
}

}  // namespace

int64_t read_from_session(Poco::Net::HTTPServerSession& session, char* buf, size_t n) {
  auto* ours = dynamic_cast<Session*>(&session);
  if (!ours) return -1;
  try {
    return ours->read_direct(buf, static_cast<std::streamsize>(std::min<size_t>(n, 1 << 30)));
  } catch (const Poco::Exception&) {
    return -1;
  }
}

Connection::Connection(const Poco::Net::StreamSocket& socket, ConnectionFactory& factory)
    : TCPServerConnection(socket), factory_(factory) {
  factory_.stopped_event_ += Poco::delegate(this, &Connection::on_server_stopped);
  // Made while the server was stopping: the event may have fired before we listened.
  if (factory_.stopped_) stopped_ = true;
}

Connection::~Connection() {
  try {
    factory_.stopped_event_ -= Poco::delegate(this, &Connection::on_server_stopped);
  } catch (...) {
  }
}

// HTTPServerConnection::run of Poco 1.11, but requests go straight to dispatch(), and what
// Poco answers with an empty 400 or 500 gets our JSON error.
void Connection::run() {
  App& app = factory_.app_;
  const Poco::Net::HTTPServerParams& params = *factory_.params_;
  const std::string server = params.getSoftwareVersion();
  // A client that stops reading must not hold this thread forever (sendfile and every write).
  try {
    socket().setSendTimeout(params.getTimeout());
  } catch (const Poco::Exception&) {
  }
  Session session(socket(), factory_.params_);
  while (!stopped_ && session.more_requests()) {
    Poco::FastMutex::ScopedLock lock(mutex_);
    if (stopped_) break;
    Poco::Net::HTTPServerResponseImpl response(session);
    std::optional<Poco::Net::HTTPServerRequestImpl> request;
    const int64_t start = session.consumed();
    try {
      request.emplace(response, session, factory_.params_.get());
    } catch (const Poco::Net::NoMessageException&) {
      break;  // the client closed the connection between requests
    } catch (const Poco::Exception& e) {
      // A reset, timed-out or vanished connection is not a bad request: it just ends.
      bool socket_error = dynamic_cast<const Poco::Net::NetException*>(&e) &&
                          !dynamic_cast<const Poco::Net::MessageException*>(&e);
      if (session.networkException() || socket_error) {
        spdlog::debug("http connection ended while reading a request: {}", e.displayText());
        break;
      }
      UnreadableRequest bad = describe_unreadable_request(e, session.consumed() - start);
      try {
        send_error_response(session, app, bad.status, bad.error, bad.detail);
      } catch (const Poco::Exception&) {
        break;
      }
      drain_before_close(socket());
      break;
    }

    response.setDate(Poco::Timestamp());
    response.setVersion(request->getVersion());
    response.setKeepAlive(params.getKeepAlive() && request->getKeepAlive() &&
                          session.canKeepAlive());
    if (!server.empty()) response.set("Server", server);
    try {
      if (request->getExpectContinue() && response.getStatus() == HTTPResponse::HTTP_OK)
        response.sendContinue();
      dispatch(app, *request, response);
      session.setKeepAlive(params.getKeepAlive() && response.getKeepAlive() &&
                           session.canKeepAlive());
    } catch (const std::exception& e) {
      // Poco: a 500 unless the answer was already under way, then the connection ends.
      if (session.networkException())
        spdlog::debug("http connection ended while answering: {}", e.what());
      else
        spdlog::error("http connection failed: {}", e.what());
      if (!response.sent()) {
        try {
          send_error_response(session, app, 500, "Internal error");
        } catch (...) {
        }
      }
      break;
    }
  }
}

void Connection::on_server_stopped() {
  stopped_ = true;
  // Wait for a request in progress; then wake run() from its keep-alive wait.
  Poco::FastMutex::ScopedLock lock(mutex_);
  try {
    socket().shutdown();
  } catch (...) {
  }
}

ConnectionFactory::ConnectionFactory(App& app, Poco::Net::HTTPServerParams::Ptr params)
    : app_(app), params_(std::move(params)) {}

Poco::Net::TCPServerConnection* ConnectionFactory::createConnection(
    const Poco::Net::StreamSocket& socket) {
  return new Connection(socket, *this);
}

void ConnectionFactory::stop_all() {
  stopped_ = true;
  stopped_event_.notify(this);
}

}  // namespace alpaca
