#pragma once
// Creating and changing users in auth.users / auth.identities.
#include <optional>
#include <string>

#include "db.hpp"

namespace auth {

struct NewUser {
  std::string email;
  std::string password_hash;         // "" = no password (invited, OAuth)
  std::string user_metadata = "{}";  // JSON object text
  std::string app_metadata = "{}";   // merged over {"provider", "providers"}
  bool confirmed = false;
  bool invited = false;
};

// Inserts the user and its email identity; nullopt when the email is taken.
std::optional<std::string> insert_user(Tx& tx, const NewUser& u);

struct UserRow {
  std::string id, encrypted_password;
  bool confirmed = false, banned = false;
};
// By (normalised) email; nullopt when there is none.
std::optional<UserRow> find_user_by_email(Tx& tx, const std::string& email);

// Password checks as GoTrue makes them; throws AuthError (422 weak_password / validation_failed).
void check_password(const std::string& password, size_t min_length);

// `data` merged into a metadata column: keys set to null are removed.
void merge_metadata(Tx& tx, const std::string& user_id, const char* column,
                    const std::string& data_json);

}  // namespace auth
