// A small Docker Engine API client over the engine's unix socket: plain requests through
// Poco's HTTPClientSession (one connection each, so a Client is safe to share between threads)
// and upgraded ("hijacked") connections for exec and attach streams.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sandboxes::docker {

struct Response {
  int status = 0;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // Docker's {"message": "..."}, else the body itself (trimmed), else "HTTP <status>".
  std::string message() const;
  // The body as a JSON object / array; throws std::runtime_error when it is not one.
  Poco::JSON::Object::Ptr object() const;
  Poco::JSON::Array::Ptr array() const;
};

// An upgraded connection carrying Docker's multiplexed stream: frames of an 8-byte header
// (stream type 0 stdin / 1 stdout / 2 stderr, three zero bytes, big-endian uint32 size) and
// the payload. Reading and writing run together in pump(), so a process that writes a lot
// while we still feed it input cannot deadlock us. One Stream is used by one thread.
class Stream {
 public:
  using Clock = std::chrono::steady_clock;
  // Called with each piece of a frame's payload: stream 1 stdout, 2 stderr.
  using Sink = std::function<void(int stream, const char* data, size_t size)>;

  Stream(Poco::Net::StreamSocket socket, std::string already_read);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Bytes to send on the next pump() calls; with close_after the write side is shut down once
  // they are all sent (the process then sees EOF on its stdin).
  void set_input(std::string data, bool close_after);
  // Moves bytes both ways until the engine closes the stream (returns true) or `deadline`
  // passes (returns false; call again to go on). `stop`, when given, is checked after every
  // frame piece: returning true ends pump() early (it then returns false).
  bool pump(const Sink& sink, Clock::time_point deadline, const std::function<bool()>& stop = {});
  // Sends everything now (blocking up to `deadline`); false if that failed.
  bool write_all(std::string_view data, Clock::time_point deadline);
  void close();
  bool eof() const { return eof_; }

 private:
  void feed(const char* data, size_t size, const Sink& sink, const std::function<bool()>& stop,
            bool* stopped);

  Poco::Net::StreamSocket socket_;
  int fd_ = -1;
  std::string pending_;  // bytes read with the response headers, not yet demultiplexed
  std::string input_;
  size_t input_pos_ = 0;
  bool close_input_ = false;
  bool input_closed_ = false;
  bool eof_ = false;
  // demultiplexer state
  unsigned char header_[8] = {};
  size_t header_len_ = 0;
  int frame_stream_ = 0;
  size_t frame_left_ = 0;
};

class Client {
 public:
  explicit Client(std::string socket_path = "/var/run/docker.sock",
                  std::string api_prefix = "/v1.41");

  const std::string& socket_path() const { return socket_path_; }

  // One request; `path` starts with '/' and goes after the API prefix (query included).
  // Throws std::runtime_error when the engine cannot be reached or the exchange fails.
  Response request(const std::string& method, const std::string& path, const std::string& body = {},
                   const std::string& content_type = "application/json",
                   int timeout_ms = 60000) const;
  Response get(const std::string& path, int timeout_ms = 60000) const {
    return request("GET", path, {}, "application/json", timeout_ms);
  }
  Response post(const std::string& path, const Poco::JSON::Object& body,
                int timeout_ms = 60000) const;
  Response post(const std::string& path, int timeout_ms = 60000) const {
    return request("POST", path, {}, "application/json", timeout_ms);
  }
  Response del(const std::string& path, int timeout_ms = 60000) const {
    return request("DELETE", path, {}, "application/json", timeout_ms);
  }

  // POST `path` asking for an upgraded connection (exec start, attach). On 101 (or a 200 that
  // carries the raw stream) returns the stream; otherwise returns nullptr and fills *failure.
  // Throws std::runtime_error when the engine cannot be reached.
  std::unique_ptr<Stream> upgrade(const std::string& path, const std::string& body,
                                  Response* failure, int timeout_ms = 30000) const;

  // GET /_ping answered "OK".
  bool ping(int timeout_ms = 2000) const;

  static std::string url_encode(std::string_view text);
  static std::string to_json(const Poco::JSON::Object& object);

 private:
  Poco::Net::StreamSocket connect() const;

  std::string socket_path_;
  std::string prefix_;
};

}  // namespace sandboxes::docker
