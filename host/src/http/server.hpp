#pragma once
// The HTTP front: a TCPServer with our thread pool and our connections (http/connection.hpp),
// handing every request to dispatch().
#include <Poco/SharedPtr.h>

#include <memory>

namespace Poco {
class ThreadPool;
namespace Net {
class TCPServer;
}
}  // namespace Poco

namespace alpaca {
class App;
class ConnectionFactory;

class HttpServer {
 public:
  explicit HttpServer(App& app);
  ~HttpServer();
  void start();  // binds and listens (throws when the port is taken)
  // Stops accepting, lets in-flight requests finish (up to a grace period), closes idle ones.
  void stop();

 private:
  App& app_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  Poco::SharedPtr<ConnectionFactory> factory_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
};

}  // namespace alpaca
