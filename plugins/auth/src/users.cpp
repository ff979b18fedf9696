#include "users.hpp"

#include "errors.hpp"
#include "json.hpp"

namespace auth {

std::optional<std::string> insert_user(Tx& tx, const NewUser& u) {
  return tx.value(
      "WITH u AS (INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, "
      "email_confirmed_at, invited_at, raw_app_meta_data, raw_user_meta_data, created_at, "
      "updated_at, is_sso_user, is_anonymous) VALUES ('00000000-0000-0000-0000-000000000000', "
      "gen_random_uuid(), 'authenticated', 'authenticated', $1, nullif($2, ''), "
      "CASE WHEN $3::boolean THEN now() END, CASE WHEN $4::boolean THEN now() END, "
      "jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email')) || "
      "$5::jsonb, $6::jsonb, now(), now(), false, false) "
      "ON CONFLICT (email) WHERE is_sso_user = false DO NOTHING RETURNING id, email), "
      "i AS (INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, "
      "last_sign_in_at, created_at, updated_at, id) SELECT id::text, id, jsonb_build_object('sub', "
      "id::text, 'email', email, 'email_verified', $3::boolean, 'phone_verified', false), "
      "'email', NULL, now(), now(), gen_random_uuid() FROM u) "
      "SELECT id::text FROM u",
      {u.email, u.password_hash, u.confirmed ? "true" : "false", u.invited ? "true" : "false",
       u.app_metadata, u.user_metadata});
}

std::optional<UserRow> find_user_by_email(Tx& tx, const std::string& email) {
  auto row = tx.value(
      "SELECT json_build_object('id', id, 'p', coalesce(encrypted_password, ''), 'c', "
      "email_confirmed_at IS NOT NULL, 'b', coalesce(banned_until > now(), false))::text "
      "FROM auth.users WHERE email = $1 AND is_sso_user = false AND deleted_at IS NULL",
      {email});
  if (!row) return std::nullopt;
  auto o = parse_object(*row);
  UserRow r;
  r.id = o->getValue<std::string>("id");
  r.encrypted_password = o->getValue<std::string>("p");
  r.confirmed = o->getValue<bool>("c");
  r.banned = o->getValue<bool>("b");
  return r;
}

void check_password(const std::string& password, size_t min_length) {
  if (password.size() > 72)
    throw AuthError(422, "validation_failed", "Password cannot be longer than 72 characters");
  if (password.size() < min_length)
    throw AuthError(422, "weak_password",
                    "Password should be at least " + std::to_string(min_length) + " characters.",
                    R"("weak_password":{"reasons":["length"]})");
}

void merge_metadata(Tx& tx, const std::string& user_id, const char* column,
                    const std::string& data_json) {
  std::string sql = std::string("UPDATE auth.users SET ") + column + " = (coalesce(" + column +
                    ", '{}'::jsonb) || $2::jsonb) - ARRAY(SELECT key FROM jsonb_each($2::jsonb) "
                    "WHERE value = 'null'::jsonb), updated_at = now() WHERE id = $1::uuid";
  tx.exec(sql.c_str(), {user_id, data_json});
}

}  // namespace auth
