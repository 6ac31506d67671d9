// Identity (DESIGN.md section 5): device tokens, admin tokens, enrolment codes, and the limit on
// failed attempts.
//
// A token is "<id>.<secret>": the id names the account (a device id, or an admin token's id) so
// the server can find it without scanning; the secret is 256 random bits in hex, of which the
// server keeps only the SHA-256, compared in constant time. An enrolment code is 24 characters
// from an unambiguous alphabet (shown in groups of four): the first 8 name the code, the other
// 16 (80 bits) are its secret; it is bound to one user, works once, and expires.
//
// Failed attempts are counted per address and per account, in storage (so that the limits hold
// across server nodes); past the limit within the window, every attempt from there (right or
// wrong) gets 429 with Retry-After until the window moves on. A check that refuses must still
// keep its count, so the checks run in transactions of their own (run_transaction) that commit
// the failed attempt before the refusal is thrown; the caller's work runs in a later transaction.
//
// Threading: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "fieldsync/clock_source.h"
#include "fieldsync/server/server_storage.h"

namespace fieldsync::server {

struct CredentialOptions {
  int max_failures = 10;                         // per address and per account, in the window
  std::int64_t failure_window_ms = 15 * 60 * 1000;
  std::int64_t enrolment_code_lifetime_ms = 24 * 60 * 60 * 1000;
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
  bool has_role(std::string_view role) const;
};

inline constexpr std::string_view kAdminRoles[] = {"monitor", "manage", "enrol"};

class Credentials {
 public:
  Credentials(ClockSource& clock, CredentialOptions options);

  // The device and its user behind an "Authorization: Bearer ..." header, checked in a
  // transaction of its own. Revoked and retiring devices authenticate (they must receive their
  // directives); wiped and retired ones do not. Throws Error(kUnauthorized), or RateLimitedError
  // past the failure limit.
  SyncIdentity authenticate_device(ServerStorage& storage, std::string_view authorization,
                                   const std::string& address);
  // The authenticated device as `tx` sees it: its status may have changed since it was checked.
  // Throws Error(kUnauthorized) if it may no longer sync (not counted as a failed attempt).
  SyncIdentity current_identity(StorageTransaction& tx, const OriginId& device_id);
  AdminIdentity authenticate_admin(ServerStorage& storage, std::string_view authorization,
                                   const std::string& address);

  // Uses an enrolment code, in a transaction of its own: a new device for the code's user, with
  // its token. Single use across server nodes: of two devices racing on one code, one wins.
  Enrolled enrol(ServerStorage& storage, std::string_view code, const Telemetry& telemetry,
                 const std::string& address);

  // A new single-use code for `user_id` (which must exist); returns the code text.
  std::string issue_enrolment_code(StorageTransaction& tx, const std::string& user_id,
                                   std::int64_t lifetime_ms, std::int64_t& expires_at_ms);
  // A new admin token; returns the token text. `lifetime_ms` 0: no expiry.
  std::string issue_admin_token(StorageTransaction& tx, const std::string& name,
                                const std::vector<std::string>& roles, std::int64_t lifetime_ms);

 private:
  struct Bearer {
    std::string id;
    std::string secret;
  };
  // A failed attempt: counted under the address and `account` (if any), then thrown as `message`.
  struct Refusal {
    std::string account;
    std::string message;
  };
  template <class Identity>
  using Outcome = std::variant<Identity, Refusal>;

  static std::optional<Bearer> parse_bearer(std::string_view authorization);
  // Runs `check(tx)` in a transaction of its own, after the limit check for `address` and
  // `account`; a Refusal is counted, committed, then thrown as Error(kUnauthorized).
  template <class Identity, class Check>
  Identity checked(ServerStorage& storage, const std::string& address, const std::string& account,
                   Check check);
  // Throws RateLimitedError when `address` or `account` is over the limit.
  void check_not_limited(StorageTransaction& tx, const std::string& address,
                         const std::string& account);
  void count_failure(StorageTransaction& tx, const std::string& address, const std::string& account);
  Outcome<SyncIdentity> check_device(StorageTransaction& tx, const std::optional<Bearer>& bearer);
  Outcome<AdminIdentity> check_admin(StorageTransaction& tx, const std::optional<Bearer>& bearer);
  // `code`: normalised, 24 characters of the code alphabet.
  Outcome<Enrolled> use_code(StorageTransaction& tx, const std::string& code,
                             const Telemetry& telemetry);
  // Every kSweepAt failed attempts, the ones older than the window are forgotten, so that random
  // accounts cannot grow the table without bound.
  static constexpr std::uint64_t kSweepAt = 10'000;

  ClockSource& clock_;
  const CredentialOptions options_;
  std::atomic<std::uint64_t> failures_counted_{0};
};

}  // namespace fieldsync::server
