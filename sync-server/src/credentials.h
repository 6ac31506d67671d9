// Identity (DESIGN.md section 5): device tokens, admin tokens, enrolment codes, and the limit on
// failed attempts.
//
// A token is "<id>.<secret>": the id names the account (a device id, or an admin token's id) so
// the server can find it without scanning; the secret is 256 random bits in hex, of which the
// server keeps only the SHA-256, compared in constant time. An enrolment code is 24 characters
// from an unambiguous alphabet (shown in groups of four): the first 8 name the code, the other
// 16 (80 bits) are its secret; it is bound to one user, works once, and expires.
//
// An admin logs in to the dashboard with an admin token and gets a session: a random 256-bit
// secret for an HttpOnly cookie, of which the server keeps only the SHA-256. A session carries
// its token's name and roles, ends at logout, after its lifetime, or when its token expires.
// Its CSRF token is derived from the secret, so nothing more is stored for it.
//
// Failed attempts are counted per address and per account, in storage (so that the limits hold
// across server nodes); past the limit within the window, every attempt from there (right or
// wrong) gets 429 with Retry-After until the window moves on. A refusal is thrown as
// CredentialRefused, which rolls back the transaction that checked it; the caller then counts it
// with count_refusal in a transaction of its own (route_access.h does that).
//
// Threading: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "fieldsync/clock_source.h"
#include "fieldsync/error.h"
#include "fieldsync/server/server_storage.h"

namespace fieldsync::server {

struct CredentialOptions {
  int max_failures = 10;                         // per address and per account, in the window
  std::int64_t failure_window_ms = 15 * 60 * 1000;
  std::int64_t enrolment_code_lifetime_ms = 24 * 60 * 60 * 1000;
  std::int64_t admin_session_lifetime_ms = 8 * 60 * 60 * 1000;
};

// Who is syncing, as the token said.
struct SyncIdentity {
  Device device;
  User user;
};

struct Enrolled {
  Device device;
  std::string token;  // shown to the device once; the server keeps only its hash
};

struct AdminIdentity {
  AdminToken token;
  bool by_session = false;         // a dashboard session, not a bearer token
  std::int64_t expires_at_ms = 0;  // when this login stops working (0: never)
  bool has_role(std::string_view role) const;
};

struct OpenedAdminSession {
  std::string secret;  // for the cookie; the server keeps only its hash
  AdminIdentity admin;
  std::int64_t opened_at_ms = 0;
};

inline constexpr std::string_view kAdminRoles[] = {"monitor", "manage", "enrol"};

// A credential refused (401): names the account the failed attempt counts against, besides the
// caller's address (empty: the address only).
class CredentialRefused : public Error {
 public:
  CredentialRefused(std::string account, const std::string& message)
      : Error(ErrorCode::kUnauthorized, message), account_(std::move(account)) {}
  const std::string& account() const { return account_; }

 private:
  std::string account_;
};

class Credentials {
 public:
  Credentials(ClockSource& clock, CredentialOptions options);

  // The device and its user behind an "Authorization: Bearer ..." header. Revoked and retiring
  // devices authenticate (they must receive their directives); wiped and retired ones do not.
  // Throws CredentialRefused, or RateLimitedError past the failure limit.
  SyncIdentity authenticate_device(StorageTransaction& tx, std::string_view authorization,
                                   const std::string& address);
  AdminIdentity authenticate_admin(StorageTransaction& tx, std::string_view authorization,
                                   const std::string& address);

  // A dashboard login with an admin token's text ("<id>.<secret>", as pasted in the form): a new
  // session, ending after the session lifetime or at the token's expiry, whichever comes first.
  // Expired sessions are dropped on the way. Throws as authenticate_admin does.
  OpenedAdminSession open_admin_session(StorageTransaction& tx, std::string_view token_text,
                                        const std::string& address);
  // The admin behind a session cookie's secret; Error(kUnauthorized) once it has ended.
  AdminIdentity authenticate_admin_session(StorageTransaction& tx, std::string_view secret,
                                           const std::string& address);
  // Logout: the session no longer works (nothing happens for an unknown secret).
  void close_admin_session(StorageTransaction& tx, std::string_view secret);
  // The CSRF token of a session: what the dashboard sends back in a header with each change.
  static std::string csrf_token_for(std::string_view session_secret);

  // Uses an enrolment code: a new device for the code's user, with its token.
  Enrolled enrol(StorageTransaction& tx, std::string_view code, const Telemetry& telemetry,
                 const std::string& address);

  // A new single-use code for `user_id` (which must exist); returns the code text.
  std::string issue_enrolment_code(StorageTransaction& tx, const std::string& user_id,
                                   std::int64_t lifetime_ms, std::int64_t& expires_at_ms);
  // A new admin token; returns the token text. `lifetime_ms` 0: no expiry.
  std::string issue_admin_token(StorageTransaction& tx, const std::string& name,
                                const std::vector<std::string>& roles, std::int64_t lifetime_ms);

  // Counts a failed attempt from `address` at `account` (CredentialRefused::account).
  void count_refusal(StorageTransaction& tx, const std::string& address,
                     const std::string& account);

  // The account a bearer token names (the hex id before its '.'), for the audit log; never any
  // of the secret. Empty when the header holds no such id.
  static std::string claimed_account(std::string_view authorization);

 private:
  struct Bearer {
    std::string id;
    std::string secret;
  };
  static std::optional<Bearer> parse_bearer(std::string_view authorization);
  static std::optional<Bearer> parse_token(std::string_view token);
  AdminIdentity check_admin_token(StorageTransaction& tx, const std::optional<Bearer>& bearer,
                                  const std::string& address);
  // Throws RateLimitedError when `address` or `account` (if any) is over the limit.
  void check_not_limited(StorageTransaction& tx, const std::string& address,
                         const std::string& account) const;
  // Throws CredentialRefused: the caller records it (count_refusal) once `tx` is rolled back.
  [[noreturn]] static void fail(const std::string& account, const std::string& message);
  static std::vector<std::string> failure_keys(const std::string& address,
                                               const std::string& account);
  // Every kSweepAt failed attempts, the ones older than the window are forgotten, so that random
  // accounts cannot grow the table without bound.
  static constexpr std::uint64_t kSweepAt = 10'000;

  ClockSource& clock_;
  const CredentialOptions options_;
  std::atomic<std::uint64_t> failures_counted_{0};
};

}  // namespace fieldsync::server
