// The smallest useful plugin: GET /hello/:name at the server root.
#include <alpaca/plugin.hpp>

class Hello : public alpaca::Plugin {
 public:
  explicit Hello(alpaca::Host& host) : Plugin(host) {
    std::string greeting =
        host.config("greeting", "Hello");  // hello.greeting / ALPACA_HELLO_GREETING
    host.route(ALPACA_SCOPE_PUBLIC, "GET", "/hello/:name",
               [greeting](alpaca::Request& req, alpaca::Response& res) {
                 std::string name(req.param("name"));
                 if (name.size() > 100) throw alpaca::HttpError(400, "Name too long");
                 res.json(200, "{\"message\":\"" +
                                   alpaca::json_escape(greeting + ", " + name + "!") + "\"}");
               });
    host.info("hello plugin ready");
  }
};

ALPACA_PLUGIN(Hello, "hello", "1.0.0", "Example plugin: says hello")
