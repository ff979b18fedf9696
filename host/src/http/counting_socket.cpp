#include "http/counting_socket.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocketImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <sys/socket.h>

namespace alpaca {
namespace {

class CountingStreamSocketImpl : public Poco::Net::StreamSocketImpl {
 public:
  explicit CountingStreamSocketImpl(poco_socket_t fd) : StreamSocketImpl(fd) {}
  using StreamSocketImpl::receiveBytes;
  // Every read of HTTPSession (request line, headers, bodies) comes through here.
  int receiveBytes(void* buffer, int length, int flags) override {
    int n = StreamSocketImpl::receiveBytes(buffer, length, flags);
    if (n > 0 && !(flags & MSG_PEEK)) received += n;
    return n;
  }
  int64_t received = 0;  // only the connection's own thread reads the socket
};

class CountingServerSocketImpl : public Poco::Net::ServerSocketImpl {
 public:
  // SocketImpl::acceptConnection, making our impl instead of a plain StreamSocketImpl.
  Poco::Net::SocketImpl* acceptConnection(Poco::Net::SocketAddress& client) override {
    if (sockfd() == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
    sockaddr_storage addr;
    poco_socklen_t len = sizeof addr;
    poco_socket_t fd;
    do {
      len = sizeof addr;
      fd = ::accept(sockfd(), reinterpret_cast<sockaddr*>(&addr), &len);
    } while (fd == POCO_INVALID_SOCKET && lastError() == POCO_EINTR);
    if (fd == POCO_INVALID_SOCKET) error();  // throws
    client = Poco::Net::SocketAddress(reinterpret_cast<sockaddr*>(&addr), len);
    return new CountingStreamSocketImpl(fd);
  }
};

}  // namespace

CountingServerSocket::CountingServerSocket() : ServerSocket(new CountingServerSocketImpl, true) {}

int64_t bytes_received(const Poco::Net::StreamSocket& socket) {
  auto* impl = dynamic_cast<CountingStreamSocketImpl*>(socket.impl());
  return impl ? impl->received : 0;
}

}  // namespace alpaca
