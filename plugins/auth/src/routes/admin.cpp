// GoTrue's admin routes (service_role only) and the spec's management routes for users and
// providers.
#include "../json.hpp"
#include "../links.hpp"
#include "../password.hpp"
#include "../project_settings.hpp"
#include "../users.hpp"
#include "route_util.hpp"
#include "routes.hpp"

namespace auth {

namespace {

void require_admin(const Caller& c) {
  require_valid_bearer(c);
  if (c.role != "service_role") throw AuthError(403, "not_admin", "User not allowed");
}

std::string uid_param(alpaca::Request& req) {
  std::string uid(req.param("uid"));
  if (!valid_uuid(uid)) throw AuthError(404, "user_not_found", "User not found");
  return uid;
}

int64_t positive_query(alpaca::Request& req, const char* name, int64_t fallback, int64_t max) {
  const char* v = req.query(name);
  if (!v || !*v) return fallback;
  try {
    size_t used = 0;
    int64_t n = std::stoll(v, &used);
    if (used == std::string(v).size() && n >= 1) return std::min(n, max);
  } catch (const std::exception&) {
  }
  throw validation(std::string(name) + " must be a positive whole number");
}

struct Page {
  std::string users;  // JSON array text
  int64_t total = 0;
};
Page list_users(Tx& tx, int64_t page, int64_t per_page) {
  auto row = tx.value(
      "SELECT json_build_object('users', coalesce((SELECT json_agg(auth.alpaca_user_json(u) "
      "ORDER BY u.created_at DESC, u.id) FROM (SELECT * FROM auth.users WHERE deleted_at IS NULL "
      "ORDER BY created_at DESC, id LIMIT $1::bigint OFFSET $2::bigint) u), '[]'), 'total', "
      "(SELECT count(*) FROM auth.users WHERE deleted_at IS NULL))::text",
      {std::to_string(per_page), std::to_string((page - 1) * per_page)});
  auto o = parse_object(row.value_or("{}"));
  return {to_text(o->get("users")), o->getValue<int64_t>("total")};
}

// POST /admin/users and the management API's POST: a user from a JSON body.
std::string create_user(Service& svc, Tx& tx, const Poco::JSON::Object& body,
                        bool confirm_default) {
  std::string email = normalize_email(str_field(body, "email"));
  if (email.empty()) throw validation("email is required");
  if (!valid_email(email)) throw validation("Unable to validate email address: invalid format");
  NewUser nu;
  nu.email = email;
  if (body.has("password") && !body.isNull("password")) {
    std::string password = str_field(body, "password");
    check_password(password, svc.config().password_min_length);
    nu.password_hash = hash_password(password, svc.config().bcrypt_cost);
  }
  std::string um = object_field(body, "user_metadata");
  std::string am = object_field(body, "app_metadata");
  nu.user_metadata = um.empty() ? "{}" : um;
  nu.app_metadata = am.empty() ? "{}" : am;
  nu.confirmed = bool_field(body, "email_confirm", confirm_default);
  auto id = insert_user(tx, nu);
  if (!id)
    throw AuthError(422, "email_exists",
                    "A user with this email address has already been registered");
  return *id;
}

void update_user(Service& svc, Tx& tx, const std::string& uid, const Poco::JSON::Object& body) {
  if (!tx.value("SELECT 1 FROM auth.users WHERE id = $1::uuid", {uid}))
    throw AuthError(404, "user_not_found", "User not found");
  if (body.has("email") && !body.isNull("email")) {
    std::string email = normalize_email(str_field(body, "email"));
    if (!valid_email(email)) throw validation("Unable to validate email address: invalid format");
    if (tx.value("SELECT 1 FROM auth.users WHERE email = $1 AND id <> $2::uuid", {email, uid}))
      throw AuthError(422, "email_exists",
                      "A user with this email address has already been registered");
    apply_email_change(tx, uid, email);
  }
  if (body.has("password") && !body.isNull("password")) {
    std::string password = str_field(body, "password");
    check_password(password, svc.config().password_min_length);
    tx.exec("UPDATE auth.users SET encrypted_password = $2, updated_at = now() WHERE id = $1::uuid",
            {uid, hash_password(password, svc.config().bcrypt_cost)});
  }
  if (body.has("email_confirm") && bool_field(body, "email_confirm", false))
    tx.exec(
        "UPDATE auth.users SET email_confirmed_at = coalesce(email_confirmed_at, now()) "
        "WHERE id = $1::uuid",
        {uid});
  std::string um = object_field(body, "user_metadata");
  if (!um.empty()) merge_metadata(tx, uid, "raw_user_meta_data", um);
  std::string am = object_field(body, "app_metadata");
  if (!am.empty()) merge_metadata(tx, uid, "raw_app_meta_data", am);
  if (body.has("ban_duration") && !body.isNull("ban_duration")) {
    std::string ban = str_field(body, "ban_duration");
    if (ban == "none") {
      tx.exec("UPDATE auth.users SET banned_until = NULL WHERE id = $1::uuid", {uid});
    } else {
      try {
        tx.exec("UPDATE auth.users SET banned_until = now() + $2::interval WHERE id = $1::uuid",
                {uid, ban});
      } catch (const DbError&) {
        throw validation("ban_duration must be a duration such as 24h, or none");
      }
      tx.exec("DELETE FROM auth.sessions WHERE user_id = $1::uuid", {uid});
    }
  }
}

void admin_list(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  int64_t page = positive_query(req, "page", 1, 1000000000);
  int64_t per_page = positive_query(req, "per_page", 50, 1000);
  auto tx = svc.begin(c.ref);
  Page p = list_users(*tx, page, per_page);
  tx->commit();
  int64_t last = std::max<int64_t>(1, (p.total + per_page - 1) / per_page);
  std::string link;
  auto add = [&](int64_t n, const char* rel) {
    if (!link.empty()) link += ", ";
    link += "</admin/users?page=" + std::to_string(n) + "&per_page=" + std::to_string(per_page) +
            ">; rel=\"" + rel + "\"";
  };
  if (page < last) add(page + 1, "next");
  add(last, "last");
  res.header("X-Total-Count", std::to_string(p.total)).header("Link", link);
  send_json(res, 200, "{\"users\":" + p.users + ",\"aud\":\"authenticated\"}");
}

void admin_create(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  auto body = body_object(req);
  auto tx = svc.begin(c.ref);
  std::string id = create_user(svc, *tx, *body, false);
  auto user = svc.user_json(*tx, id);
  tx->commit();
  send_json(res, 200, user.value_or("{}"));
}

void admin_get(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  std::string uid = uid_param(req);
  auto tx = svc.begin(c.ref);
  auto user = svc.user_json(*tx, uid);
  tx->commit();
  if (!user) throw AuthError(404, "user_not_found", "User not found");
  send_json(res, 200, *user);
}

void admin_put(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  std::string uid = uid_param(req);
  auto body = body_object(req);
  auto tx = svc.begin(c.ref);
  update_user(svc, *tx, uid, *body);
  auto user = svc.user_json(*tx, uid);
  tx->commit();
  send_json(res, 200, user.value_or("{}"));
}

void admin_delete(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  std::string uid = uid_param(req);
  auto tx = svc.begin(c.ref);
  auto user = svc.user_json(*tx, uid);
  if (!user) throw AuthError(404, "user_not_found", "User not found");
  tx->exec("DELETE FROM auth.users WHERE id = $1::uuid", {uid});
  tx->commit();
  send_json(res, 200, "{}");
}

void generate_link(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  require_admin(c);
  auto body = body_object(req);
  std::string type = str_field(*body, "type");
  std::string email = normalize_email(str_field(*body, "email"));
  if (!valid_email(email)) throw validation("Unable to validate email address: invalid format");
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  const char* query_redirect = req.query("redirect_to");
  std::string redirect = s.pick_redirect(query_redirect ? std::string(query_redirect)
                                                        : str_field(*body, "redirect_to"));
  auto user = find_user_by_email(*tx, email);
  std::string uid = user ? user->id : "";
  std::string kind = type, address = email;
  if (type == "signup" || type == "invite") {
    if (user && user->confirmed)
      throw AuthError(422, "email_exists",
                      "A user with this email address has already been registered");
    if (!user) {
      NewUser nu;
      nu.email = email;
      nu.invited = type == "invite";
      std::string data = object_field(*body, "data");
      nu.user_metadata = data.empty() ? "{}" : data;
      if (type == "signup") {
        std::string password = str_field(*body, "password");
        check_password(password, svc.config().password_min_length);
        nu.password_hash = hash_password(password, svc.config().bcrypt_cost);
      }
      auto id = insert_user(*tx, nu);
      if (!id) throw AuthError(409, "conflict", "The user was created concurrently; retry");
      uid = *id;
    }
  } else if (type == "magiclink" || type == "recovery") {
    if (!user) throw AuthError(404, "user_not_found", "User with this email not found");
  } else if (type == "email_change_new" || type == "email_change_current") {
    if (!user) throw AuthError(404, "user_not_found", "User with this email not found");
    address = normalize_email(str_field(*body, "new_email"));
    if (!valid_email(address)) throw validation("new_email must be a valid email address");
    tx->exec("UPDATE auth.users SET email_change = $2 WHERE id = $1::uuid", {uid, address});
    kind = "email_change";
  } else {
    throw validation(
        "type must be signup, invite, magiclink, recovery, email_change_current or "
        "email_change_new");
  }
  Link l = make_link(*tx, c, uid, kind, address, redirect);
  auto u = parse_object(svc.user_json(*tx, uid).value_or("{}"));
  tx->commit();
  u->set("action_link", l.action_link);
  u->set("email_otp", l.otp);
  u->set("hashed_token", l.secret);
  u->set("redirect_to", l.redirect_to);
  u->set("verification_type", kind);
  send_json(res, 200, to_text(u));
}

// ---- management API ----

void mgmt_list(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  int64_t page = positive_query(req, "page", 1, 1000000000);
  int64_t per_page = positive_query(req, "per_page", 50, 1000);
  auto tx = svc.begin(c.ref);
  Page p = list_users(*tx, page, per_page);
  tx->commit();
  send_json(res, 200, "{\"users\":" + p.users + ",\"total\":" + std::to_string(p.total) + "}");
}

void mgmt_create(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  auto body = body_object(req);
  if (!body->has("password")) throw validation("password is required");
  auto tx = svc.begin(c.ref);
  std::string id = create_user(svc, *tx, *body, true);
  auto user = svc.user_json(*tx, id);
  tx->commit();
  send_json(res, 201, user.value_or("{}"));
}

void mgmt_delete(Service& svc, alpaca::Request& req, alpaca::Response& res, const Caller& c) {
  std::string uid(req.param("uid"));
  if (!valid_uuid(uid)) throw AuthError(404, "user_not_found", "No user '" + uid + "'");
  auto tx = svc.begin(c.ref);
  if (tx->exec("DELETE FROM auth.users WHERE id = $1::uuid", {uid}) == 0)
    throw AuthError(404, "user_not_found", "No user '" + uid + "'");
  tx->commit();
  send_json(res, 200, "{\"deleted\":\"" + uid + "\"}");
}

void mgmt_get_providers(Service& svc, alpaca::Request&, alpaca::Response& res, const Caller& c) {
  auto tx = svc.begin(c.ref);
  ProjectSettings s = ProjectSettings::load(*tx);
  tx->commit();
  send_json(res, 200, to_text(s.to_json()));
}

void mgmt_patch_providers(Service& svc, alpaca::Request& req, alpaca::Response& res,
                          const Caller& c) {
  auto body = body_object(req);
  auto tx = svc.begin(c.ref);
  ProjectSettings s = patch_settings(*tx, *body);
  tx->commit();
  svc.host().info("auth: settings of project " + c.ref + " changed");
  send_json(res, 200, to_text(s.to_json()));
}

}  // namespace

void add_admin_routes(alpaca::Host& host, Service& svc) {
  gotrue_route(host, svc, "GET", "/admin/users", admin_list);
  gotrue_route(host, svc, "POST", "/admin/users", admin_create);
  gotrue_route(host, svc, "GET", "/admin/users/:uid", admin_get);
  gotrue_route(host, svc, "PUT", "/admin/users/:uid", admin_put);
  gotrue_route(host, svc, "DELETE", "/admin/users/:uid", admin_delete);
  gotrue_route(host, svc, "POST", "/admin/generate_link", generate_link);
}

void add_management_routes(alpaca::Host& host, Service& svc) {
  management_route(host, svc, "GET", "/users", mgmt_list);
  management_route(host, svc, "POST", "/users", mgmt_create);
  management_route(host, svc, "DELETE", "/users/:uid", mgmt_delete);
  management_route(host, svc, "GET", "/providers", mgmt_get_providers);
  management_route(host, svc, "PATCH", "/providers", mgmt_patch_providers);
}

}  // namespace auth
