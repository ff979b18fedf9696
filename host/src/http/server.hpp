#pragma once
// The HTTP front: Poco's HTTPServer with our thread pool, handing every request to dispatch().
#include <memory>

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
}  // namespace Poco

namespace alpaca {
class App;

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
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace alpaca
