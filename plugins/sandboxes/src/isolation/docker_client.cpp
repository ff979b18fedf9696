#include "isolation/docker_client.hpp"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace sandboxes::docker {

namespace {

using Clock = std::chrono::steady_clock;

int ms_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count() + 1, INT_MAX));
}

Poco::Dynamic::Var parse_json(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(body);
  } catch (const Poco::Exception& e) {
    std::string msg = "the Docker engine sent bad JSON: ";
    msg += e.displayText();
    throw std::runtime_error(msg);
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Decodes a complete chunked body; returns false when `raw` is not complete yet.
bool dechunk(const std::string& raw, std::string* out) {
  out->clear();
  size_t pos = 0;
  for (;;) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    size_t size = 0;
    try {
      size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    } catch (const std::exception&) {
      return true;  // garbage: give up with what we have
    }
    pos = eol + 2;
    if (size == 0) return true;
    if (raw.size() < pos + size + 2) return false;
    out->append(raw, pos, size);
    pos += size + 2;
  }
}

}  // namespace

// ---- Response ----

std::string Response::message() const {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
      auto o = v.extract<Poco::JSON::Object::Ptr>();
      if (o->has("message")) return o->getValue<std::string>("message");
    }
  } catch (const std::exception&) {
    // not JSON (Poco::Exception is a std::exception): fall through
  }
  std::string t = trim(body);
  if (!t.empty()) return t;
  std::string msg = "HTTP ";
  msg += std::to_string(status);
  return msg;
}

Poco::JSON::Object::Ptr Response::object() const {
  auto v = parse_json(body);
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw std::runtime_error("the Docker engine sent JSON that is not an object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr Response::array() const {
  auto v = parse_json(body);
  if (v.type() != typeid(Poco::JSON::Array::Ptr))
    throw std::runtime_error("the Docker engine sent JSON that is not an array");
  return v.extract<Poco::JSON::Array::Ptr>();
}

// ---- Stream ----

Stream::Stream(Poco::Net::StreamSocket socket, std::string already_read)
    : socket_(std::move(socket)), pending_(std::move(already_read)) {
  fd_ = socket_.impl()->sockfd();
}

Stream::~Stream() {
  close();
}

void Stream::close() {
  if (fd_ < 0) return;
  try {
    socket_.close();
  } catch (const Poco::Exception&) {
  }
  fd_ = -1;
  eof_ = true;
}

void Stream::set_input(std::string data, bool close_after) {
  input_ = std::move(data);
  input_pos_ = 0;
  close_input_ = close_after;
}

void Stream::feed(const char* data, size_t size, const Sink& sink,
                  const std::function<bool()>& stop, bool* stopped) {
  while (size > 0) {
    if (frame_left_ == 0) {
      size_t take = std::min(sizeof(header_) - header_len_, size);
      std::memcpy(header_ + header_len_, data, take);
      header_len_ += take;
      data += take;
      size -= take;
      if (header_len_ < sizeof(header_)) return;
      header_len_ = 0;
      frame_stream_ = header_[0];
      frame_left_ = (size_t{header_[4]} << 24) | (size_t{header_[5]} << 16) |
                    (size_t{header_[6]} << 8) | size_t{header_[7]};
      continue;
    }
    size_t take = std::min(frame_left_, size);
    if (sink) sink(frame_stream_, data, take);
    frame_left_ -= take;
    data += take;
    size -= take;
    if (stop && stop()) {
      pending_.assign(data, size);
      *stopped = true;
      return;
    }
  }
}

bool Stream::pump(const Sink& sink, Clock::time_point deadline, const std::function<bool()>& stop) {
  bool stopped = false;
  if (!pending_.empty()) {
    std::string p;
    p.swap(pending_);
    feed(p.data(), p.size(), sink, stop, &stopped);
    if (stopped) return false;
  }
  if (eof_ || fd_ < 0) return true;
  char buf[64 * 1024];
  for (;;) {
    bool want_write = false;
    if (!input_closed_) {
      if (input_pos_ < input_.size()) {
        want_write = true;
      } else if (close_input_) {
        ::shutdown(fd_, SHUT_WR);
        input_closed_ = true;
        std::string().swap(input_);
      }
    }
    int wait = ms_until(deadline);
    if (wait == 0) return false;
    pollfd p{};
    p.fd = fd_;
    p.events = static_cast<short>(POLLIN | (want_write ? POLLOUT : 0));
    int rc = ::poll(&p, 1, wait);
    if (rc < 0) {
      if (errno == EINTR) continue;
      eof_ = true;
      return true;
    }
    if (rc == 0) continue;
    if (want_write && (p.revents & POLLOUT)) {
      size_t chunk = std::min<size_t>(input_.size() - input_pos_, 64 * 1024);
      ssize_t n = ::send(fd_, input_.data() + input_pos_, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        input_pos_ += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        // The process stopped reading and the engine closed our side: drop the rest.
        input_closed_ = true;
        std::string().swap(input_);
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        feed(buf, static_cast<size_t>(n), sink, stop, &stopped);
        if (stopped) return false;
      } else if (n == 0) {
        eof_ = true;
        return true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        eof_ = true;
        return true;
      }
    }
  }
}

bool Stream::write_all(std::string_view data, Clock::time_point deadline) {
  size_t pos = 0;
  while (pos < data.size()) {
    if (fd_ < 0) return false;
    int wait = ms_until(deadline);
    if (wait == 0) return false;
    pollfd p{};
    p.fd = fd_;
    p.events = POLLOUT;
    int rc = ::poll(&p, 1, wait);
    if (rc < 0 && errno != EINTR) return false;
    if (rc <= 0) continue;
    ssize_t n = ::send(fd_, data.data() + pos, data.size() - pos, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pos += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return false;
    }
  }
  return true;
}

// ---- Client ----

Client::Client(std::string socket_path, std::string api_prefix)
    : socket_path_(std::move(socket_path)), prefix_(std::move(api_prefix)) {}

Poco::Net::StreamSocket Client::connect() const {
  try {
    Poco::Net::SocketAddress address(Poco::Net::SocketAddress::UNIX_LOCAL, socket_path_);
    return Poco::Net::StreamSocket(address);
  } catch (const Poco::Exception& e) {
    std::string msg = "cannot reach the Docker engine at ";
    msg += socket_path_;
    msg += ": ";
    msg += e.displayText();
    throw std::runtime_error(msg);
  }
}

Response Client::request(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& content_type,
                         int timeout_ms) const {
  Poco::Net::StreamSocket socket = connect();
  try {
    Poco::Net::HTTPClientSession session(socket);
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout_ms / 1000),
                                      static_cast<long>(timeout_ms % 1000) * 1000));
    session.setKeepAlive(false);
    std::string uri = prefix_;
    uri += path;
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost("docker");
    request.setKeepAlive(false);
    if (!body.empty() || method == "POST" || method == "PUT") {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    std::ostream& out = session.sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Response result;
    result.status = static_cast<int>(response.getStatus());
    Poco::StreamCopier::copyToString(in, result.body);
    return result;
  } catch (const Poco::Exception& e) {
    std::string msg = "Docker engine request ";
    msg += method;
    msg += ' ';
    msg += path;
    msg += " failed: ";
    msg += e.displayText();
    throw std::runtime_error(msg);
  }
}

Response Client::post(const std::string& path, const Poco::JSON::Object& body,
                      int timeout_ms) const {
  return request("POST", path, to_json(body), "application/json", timeout_ms);
}

std::unique_ptr<Stream> Client::upgrade(const std::string& path, const std::string& body,
                                        Response* failure, int timeout_ms) const {
  Poco::Net::StreamSocket socket = connect();
  const int fd = socket.impl()->sockfd();
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fail = [&](const std::string& why) {
    std::string msg = "Docker engine request POST ";
    msg += path;
    msg += " failed: ";
    msg += why;
    throw std::runtime_error(msg);
  };

  std::string head = "POST ";
  head += prefix_;
  head += path;
  head += " HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n";
  head += "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ";
  head += std::to_string(body.size());
  head += "\r\n\r\n";
  head += body;
  size_t sent = 0;
  while (sent < head.size()) {
    int wait = ms_until(deadline);
    if (wait == 0) fail("timed out");
    pollfd p{};
    p.fd = fd;
    p.events = POLLOUT;
    if (::poll(&p, 1, wait) <= 0) continue;
    ssize_t n = ::send(fd, head.data() + sent, head.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail(std::strerror(errno));
    }
  }

  // Read until the end of the response headers (and, for an error, of its body).
  std::string data;
  char buf[16 * 1024];
  size_t header_end = std::string::npos;
  int status = 0;
  size_t content_length = std::string::npos;
  bool chunked = false;
  bool closed = false;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::istringstream lines(data.substr(0, header_end));
        std::string line;
        std::getline(lines, line);
        size_t sp = line.find(' ');
        if (sp == std::string::npos) fail("bad response line");
        status = std::atoi(line.c_str() + sp + 1);
        while (std::getline(lines, line)) {
          size_t colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string name = lower(trim(line.substr(0, colon)));
          std::string value = lower(trim(line.substr(colon + 1)));
          if (name == "content-length") content_length = std::stoul(value);
          if (name == "transfer-encoding" && value.find("chunked") != std::string::npos)
            chunked = true;
        }
        if (status == 101 || status == 200) {
          return std::make_unique<Stream>(std::move(socket), data.substr(header_end + 4));
        }
      }
    }
    if (header_end != std::string::npos) {
      std::string raw = data.substr(header_end + 4);
      Response r;
      r.status = status;
      bool complete = closed;
      if (content_length != std::string::npos) {
        complete = complete || raw.size() >= content_length;
        r.body = raw.substr(0, std::min(raw.size(), content_length));
      } else if (chunked) {
        complete = dechunk(raw, &r.body) || complete;
      } else {
        r.body = raw;
      }
      if (complete) {
        if (failure) *failure = std::move(r);
        return nullptr;
      }
    } else if (closed) {
      fail("the engine closed the connection");
    }
    int wait = ms_until(deadline);
    if (wait == 0) fail("timed out");
    pollfd p{};
    p.fd = fd;
    p.events = POLLIN;
    int rc = ::poll(&p, 1, wait);
    if (rc < 0 && errno != EINTR) fail(std::strerror(errno));
    if (rc <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      if (data.size() > (16u << 20)) fail("response too large");
    } else if (n == 0) {
      closed = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      closed = true;
    }
  }
}

bool Client::ping(int timeout_ms) const {
  try {
    Response r = get("/_ping", timeout_ms);
    return r.status == 200 && trim(r.body) == "OK";
  } catch (const std::exception&) {
    return false;
  }
}

std::string Client::url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string Client::to_json(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

}  // namespace sandboxes::docker
