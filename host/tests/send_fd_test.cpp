// response_send_fd (alpaca::send_fd) over a real loopback connection: the head and the byte range
// a client receives, the borrowed fd's offset, HEAD, the pread fallback without a socket, and
// each failure (argument, state, short file, client gone, client not reading).
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "http/context.hpp"

namespace alpaca {
namespace {

unsigned char pattern(uint64_t i) {
  return static_cast<unsigned char>((static_cast<uint32_t>(i) * 2654435761u) >> 24);
}

std::string expected(uint64_t offset, uint64_t length) {
  std::string s;
  s.reserve(length);
  for (uint64_t i = offset; i < offset + length; ++i) s += static_cast<char>(pattern(i));
  return s;
}

// A temp file of `size` pattern bytes, removed with the object.
class PatternFile {
 public:
  explicit PatternFile(uint64_t size) {
    char name[] = "/tmp/alpaca-send-fd-XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    std::string data = expected(0, size);
    EXPECT_EQ(::write(fd_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  ~PatternFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

struct Received {
  std::string status_line;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool closed = false;  // the server closed the connection
};

// One server-side response on a fresh loopback connection.
class Exchange {
 public:
  Exchange() : listener_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    client_.connect(listener_.address());
    server_ = listener_.acceptConnection();
    params_ = new Poco::Net::HTTPServerParams;
    session_.emplace(server_, params_);
    response_.emplace(*session_);
    response_->setKeepAlive(true);
    res.http = &*response_;
    res.socket = &server_;
  }

  // Reads the head and up to `want` body bytes (or until the server closes, or 5 s).
  Received read(size_t want) {
    Received r;
    std::string buf;
    client_.setReceiveTimeout(Poco::Timespan(5, 0));
    size_t head_end = std::string::npos;
    char chunk[65536];
    for (;;) {
      if (head_end == std::string::npos) head_end = buf.find("\r\n\r\n");
      if (head_end != std::string::npos && buf.size() - head_end - 4 >= want) break;
      int n = 0;
      try {
        n = client_.receiveBytes(chunk, sizeof chunk);
      } catch (const Poco::Exception&) {
        n = 0;
      }
      if (n <= 0) {
        r.closed = true;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    if (head_end == std::string::npos) return r;
    std::string head = buf.substr(0, head_end);
    r.body = buf.substr(head_end + 4);
    size_t eol = head.find("\r\n");
    r.status_line = head.substr(0, eol);
    while (eol != std::string::npos) {
      size_t next = head.find("\r\n", eol + 2);
      std::string line = head.substr(eol + 2, next - eol - 2);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers.emplace(name, v == std::string::npos ? "" : line.substr(v));
      eol = next;
    }
    return r;
  }
  // Ends the connection from the server's side, as the connection loop does.
  void close_server() { server_.close(); }
  void close_client() { client_.close(); }
  Poco::Net::StreamSocket& server() { return server_; }
  Poco::Net::HTTPServerResponseImpl& response() { return *response_; }

  alpaca_response res;

 private:
  Poco::Net::ServerSocket listener_;
  Poco::Net::StreamSocket client_;
  Poco::Net::StreamSocket server_;
  Poco::Net::HTTPServerParams::Ptr params_;
  std::optional<Poco::Net::HTTPServerSession> session_;
  std::optional<Poco::Net::HTTPServerResponseImpl> response_;
};

std::string header(const Received& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "<absent>" : it->second;
}

class SendFd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }  // as the server does
};

TEST_F(SendFd, SendsTheRangeWithTheHandlersHeadersAndLeavesTheOffset) {
  PatternFile file(300000);
  ASSERT_EQ(::lseek(file.fd(), 1234, SEEK_SET), 1234);
  Exchange x;
  x.response().setStatusAndReason(Poco::Net::HTTPResponse::HTTP_PARTIAL_CONTENT);
  x.response().add("Content-Range", "bytes 1000-200999/300000");
  x.response().add("Content-Length", "5");  // replaced by the length
  x.response().add("content-length", "7");
  x.response().setChunkedTransferEncoding(true);  // dropped: never chunked
  ASSERT_EQ(send_fd(x.res, file.fd(), 1000, 200000), ALPACA_OK);
  EXPECT_TRUE(x.res.committed);
  EXPECT_TRUE(x.res.finished);
  EXPECT_TRUE(x.response().getKeepAlive());
  EXPECT_EQ(::lseek(file.fd(), 0, SEEK_CUR), 1234);
  Received r = x.read(200000);
  EXPECT_EQ(r.status_line, "HTTP/1.0 206 Partial Content");
  EXPECT_EQ(r.headers.count("content-length"), 1u);
  EXPECT_EQ(header(r, "content-length"), "200000");
  EXPECT_EQ(header(r, "content-range"), "bytes 1000-200999/300000");
  EXPECT_EQ(header(r, "transfer-encoding"), "<absent>");
  EXPECT_TRUE(r.body == expected(1000, 200000)) << "body differs, " << r.body.size() << " bytes";
  // Nothing more follows.
  x.close_server();
  EXPECT_TRUE(x.read(1).body.empty());
}

TEST_F(SendFd, EmptyRangeAndHeadSendOnlyTheHead) {
  PatternFile file(4096);
  {
    Exchange x;
    ASSERT_EQ(send_fd(x.res, file.fd(), 4096, 0), ALPACA_OK);
    x.close_server();
    Received r = x.read(1);
    EXPECT_EQ(header(r, "content-length"), "0");
    EXPECT_EQ(r.body, "");
  }
  {
    Exchange x;
    x.res.head_only = true;
    ASSERT_EQ(send_fd(x.res, file.fd(), 0, 4096), ALPACA_OK);
    x.close_server();
    Received r = x.read(1);
    EXPECT_EQ(header(r, "content-length"), "4096");
    EXPECT_EQ(r.body, "");
  }
}

TEST_F(SendFd, WithoutASocketThePocoStreamCarriesTheSameBytes) {
  PatternFile file(700000);
  Exchange x;
  x.res.socket = nullptr;
  ASSERT_EQ(send_fd(x.res, file.fd(), 5, 699995), ALPACA_OK);
  EXPECT_EQ(::lseek(file.fd(), 0, SEEK_CUR), 700000);  // where write() left it
  Received r = x.read(699995);
  EXPECT_EQ(header(r, "content-length"), "699995");
  EXPECT_TRUE(r.body == expected(5, 699995)) << "body differs, " << r.body.size() << " bytes";
}

TEST_F(SendFd, RefusesBadArgumentsBeforeSendingAnything) {
  PatternFile file(10);
  Exchange x;
  EXPECT_EQ(send_fd(x.res, -1, 0, 1), ALPACA_ERR_INVALID);
  EXPECT_EQ(send_fd(x.res, 1000000, 0, 1), ALPACA_ERR_INVALID);  // not open
  int wo = ::open(file.path().c_str(), O_WRONLY);
  EXPECT_EQ(send_fd(x.res, wo, 0, 1), ALPACA_ERR_INVALID);  // not readable
  ::close(wo);
  EXPECT_EQ(send_fd(x.res, file.fd(), UINT64_MAX, 1), ALPACA_ERR_INVALID);
  EXPECT_EQ(send_fd(x.res, file.fd(), 1, INT64_MAX), ALPACA_ERR_INVALID);
  EXPECT_FALSE(x.res.committed);
  // Still answerable; then committed.
  ASSERT_EQ(send_fd(x.res, file.fd(), 0, 10), ALPACA_OK);
  EXPECT_EQ(send_fd(x.res, file.fd(), 0, 10), ALPACA_ERR_STATE);
  Received r = x.read(10);
  EXPECT_TRUE(r.body == expected(0, 10));
}

TEST_F(SendFd, AFileShorterThanTheLengthEndsTheConnection) {
  PatternFile file(100000);
  Exchange x;
  ASSERT_EQ(send_fd(x.res, file.fd(), 50000, 80000), ALPACA_ERR_IO);
  EXPECT_TRUE(x.res.committed);
  EXPECT_TRUE(x.res.finished);
  EXPECT_FALSE(x.response().getKeepAlive());
  x.close_server();  // what the connection loop does without keep-alive
  Received r = x.read(80000);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(header(r, "content-length"), "80000");
  EXPECT_TRUE(r.body == expected(50000, 50000)) << r.body.size() << " bytes";
}

TEST_F(SendFd, FailsWhenTheClientIsGone) {
  PatternFile file(8 << 20);
  Exchange x;
  x.close_client();
  EXPECT_EQ(send_fd(x.res, file.fd(), 0, 8 << 20), ALPACA_ERR_IO);
  EXPECT_FALSE(x.response().getKeepAlive());
}

TEST_F(SendFd, FailsWhenTheClientStopsReadingForTheSendTimeout) {
  PatternFile file(64 << 20);
  Exchange x;
  x.server().setSendTimeout(Poco::Timespan(0, 200000));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(send_fd(x.res, file.fd(), 0, 64 << 20), ALPACA_ERR_IO);  // never read
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_LT(ms, 5000);
  EXPECT_FALSE(x.response().getKeepAlive());
}

}  // namespace
}  // namespace alpaca
