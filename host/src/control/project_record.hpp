#pragma once
// A project as the host caches it: what routing and auth need, plus its public JSON.
#include <string>

namespace alpaca {

struct ProjectRecord {
  std::string ref;  // also the project's id in the API
  std::string name;
  std::string owner_id;
  std::string status;
  std::string database;
  std::string jwt_secret;
  std::string anon_key;
  std::string service_key;
  std::string server_url;
  std::string json;  // the flat project object the API returns
};

}  // namespace alpaca
