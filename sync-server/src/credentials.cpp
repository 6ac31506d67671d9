// Credentials: tokens, enrolment codes and the failed-attempt limit. See credentials.h.
#include "credentials.h"

#include <algorithm>
#include <cctype>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "http/error_mapping.h"

namespace fieldsync::server {
namespace {

constexpr std::size_t kSecretBytes = 32;
// No 0/O, 1/I/L, U: codes are read aloud and typed on phones.
constexpr std::string_view kCodeAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789";
constexpr std::size_t kCodeIdChars = 8;
constexpr std::size_t kCodeSecretChars = 16;

Bytes hash_of(std::string_view secret) { return crypto::sha256(crypto::as_bytes(secret)); }

bool secret_matches(std::string_view secret, const Bytes& stored_hash) {
  return crypto::constant_time_equal(hash_of(secret), stored_hash);
}

std::string random_secret() { return crypto::to_hex(crypto::random_bytes(kSecretBytes)); }

std::string random_code_chars(std::size_t count) {
  // Rejection sampling keeps every character equally likely.
  const std::size_t limit = 256 - 256 % kCodeAlphabet.size();
  std::string chars;
  while (chars.size() < count) {
    for (const std::uint8_t byte : crypto::random_bytes(count * 2)) {
      if (byte < limit && chars.size() < count) chars.push_back(kCodeAlphabet[byte % kCodeAlphabet.size()]);
    }
  }
  return chars;
}

// The code as typed: group dashes and spaces dropped, letters upper-cased.
std::string normalise_code(std::string_view typed) {
  std::string code;
  for (const char c : typed) {
    if (c == '-' || c == ' ') continue;
    code.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  }
  return code;
}

std::string grouped(const std::string& code) {
  std::string text;
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (i > 0 && i % 4 == 0) text.push_back('-');
    text.push_back(code[i]);
  }
  return text;
}

std::optional<OriginId> device_id_from_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  const std::string text = std::string(hex.substr(0, 8)) + "-" + std::string(hex.substr(8, 4)) + "-" +
                           std::string(hex.substr(12, 4)) + "-" + std::string(hex.substr(16, 4)) +
                           "-" + std::string(hex.substr(20));
  return Uuid::parse(text);
}

std::string device_hex(const OriginId& id) { return crypto::to_hex(id.bytes()); }

}  // namespace

bool AdminIdentity::has_role(std::string_view role) const {
  return std::find(token.roles.begin(), token.roles.end(), role) != token.roles.end();
}

Credentials::Credentials(ClockSource& clock, CredentialOptions options)
    : clock_(clock), options_(options) {}

std::optional<Credentials::Bearer> Credentials::parse_bearer(std::string_view authorization) {
  // The scheme name is case-insensitive (RFC 9110); the token is not.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return std::nullopt;
  }
  return parse_token(authorization.substr(kScheme.size()));
}

std::optional<Credentials::Bearer> Credentials::parse_token(std::string_view token) {
  const std::size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == token.size() || token.size() > 256) {
    return std::nullopt;
  }
  // Tokens are visible ASCII; anything else is no token (and is never stored as an account name).
  if (std::any_of(token.begin(), token.end(), [](char c) { return c < '!' || c > '~'; })) {
    return std::nullopt;
  }
  return Bearer{std::string(token.substr(0, dot)), std::string(token.substr(dot + 1))};
}

std::string Credentials::claimed_account(std::string_view authorization) {
  const auto bearer = parse_bearer(authorization);
  constexpr std::size_t kLongestId = 32;  // a device id; admin token ids are shorter
  if (!bearer || bearer->id.size() > kLongestId ||
      bearer->id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return {};
  }
  return bearer->id;
}

void Credentials::check_not_limited(StorageTransaction& tx, const std::string& address,
                                    const std::string& account) const {
  const std::int64_t now = clock_.wall_ms();
  std::int64_t wait_ms = 0;
  for (const std::string& key : failure_keys(address, account)) {
    const AuthFailures failures = tx.auth_failures(key, now - options_.failure_window_ms);
    if (failures.count >= static_cast<std::uint64_t>(options_.max_failures)) {
      wait_ms = std::max(wait_ms, failures.oldest_ms + options_.failure_window_ms - now);
    }
  }
  if (wait_ms > 0) {
    throw http::RateLimitedError(std::chrono::seconds((wait_ms + 999) / 1000),
                                 "too many failed attempts: try again later");
  }
}

void Credentials::fail(const std::string& account, const std::string& message) {
  throw CredentialRefused(account, message);
}

void Credentials::count_refusal(StorageTransaction& tx, const std::string& address,
                                const std::string& account) {
  const std::int64_t now = clock_.wall_ms();
  if (++failures_counted_ % kSweepAt == 0) tx.forget_auth_failures(now - options_.failure_window_ms);
  for (const std::string& key : failure_keys(address, account)) tx.add_auth_failure(key, now);
}

std::vector<std::string> Credentials::failure_keys(const std::string& address,
                                                   const std::string& account) {
  std::vector<std::string> keys{"address:" + address};
  if (!account.empty()) keys.push_back("account:" + account);
  return keys;
}

SyncIdentity Credentials::authenticate_device(StorageTransaction& tx, std::string_view authorization,
                                              const std::string& address) {
  const auto bearer = parse_bearer(authorization);
  check_not_limited(tx, address, bearer ? bearer->id : "");
  if (!bearer) fail("", "a device token is required: Authorization: Bearer <token>");
  const auto device_id = device_id_from_hex(bearer->id);
  auto device = device_id ? tx.device(*device_id) : std::nullopt;
  if (!device || !secret_matches(bearer->secret, device->token_hash)) {
    fail(bearer->id, "the device token is not valid");
  }
  if (device->status == DeviceStatus::kWiped || device->status == DeviceStatus::kRetired) {
    fail(bearer->id, "this device was " + std::string(to_string(device->status)) +
                                  ": enrol it again to use it");
  }
  auto user = tx.user(device->user_id);
  if (!user) throw Error(ErrorCode::kIntegrity, "a device belongs to a user who does not exist");
  return SyncIdentity{std::move(*device), std::move(*user)};
}

AdminIdentity Credentials::authenticate_admin(StorageTransaction& tx, std::string_view authorization,
                                              const std::string& address) {
  return check_admin_token(tx, parse_bearer(authorization), address);
}

AdminIdentity Credentials::check_admin_token(StorageTransaction& tx,
                                             const std::optional<Bearer>& bearer,
                                             const std::string& address) {
  check_not_limited(tx, address, bearer ? "admin:" + bearer->id : "");
  if (!bearer) fail("", "an admin token is required: Authorization: Bearer <token>");
  auto token = tx.admin_token(bearer->id);
  if (!token || !secret_matches(bearer->secret, token->secret_hash)) {
    fail("admin:" + bearer->id, "the admin token is not valid");
  }
  if (token->expires_at_ms != 0 && token->expires_at_ms <= clock_.wall_ms()) {
    fail("admin:" + bearer->id, "the admin token has expired");
  }
  const std::int64_t expires_at_ms = token->expires_at_ms;
  return AdminIdentity{std::move(*token), false, expires_at_ms};
}

OpenedAdminSession Credentials::open_admin_session(StorageTransaction& tx,
                                                   std::string_view token_text,
                                                   const std::string& address) {
  AdminIdentity admin = check_admin_token(tx, parse_token(token_text), address);
  const std::int64_t now = clock_.wall_ms();
  tx.delete_admin_sessions_expired_by(now);
  std::int64_t expires_at_ms = now + options_.admin_session_lifetime_ms;
  if (admin.token.expires_at_ms != 0)
    expires_at_ms = std::min(expires_at_ms, admin.token.expires_at_ms);
  std::string secret = random_secret();
  tx.put_admin_session({hash_of(secret), admin.token.id, now, expires_at_ms});
  admin.by_session = true;
  admin.expires_at_ms = expires_at_ms;
  return OpenedAdminSession{std::move(secret), std::move(admin), now};
}

AdminIdentity Credentials::authenticate_admin_session(StorageTransaction& tx,
                                                      std::string_view secret,
                                                      const std::string& address) {
  check_not_limited(tx, address, "");
  const std::int64_t now = clock_.wall_ms();
  const auto session = tx.admin_session(hash_of(secret));
  if (!session || session->expires_at_ms <= now) {
    fail("", "the dashboard session has ended: log in again");
  }
  auto token = tx.admin_token(session->token_id);
  if (!token || (token->expires_at_ms != 0 && token->expires_at_ms <= now)) {
    fail("", "the admin token of this dashboard session has expired: log in again");
  }
  return AdminIdentity{std::move(*token), true, session->expires_at_ms};
}

void Credentials::close_admin_session(StorageTransaction& tx, std::string_view secret) {
  tx.delete_admin_session(hash_of(secret));
}

std::string Credentials::csrf_token_for(std::string_view session_secret) {
  return crypto::to_hex(hash_of("fieldsync csrf " + std::string(session_secret)));
}

Enrolled Credentials::enrol(StorageTransaction& tx, std::string_view typed_code,
                            const Telemetry& telemetry, const std::string& address) {
  const std::string code = normalise_code(typed_code);
  const bool well_formed = code.size() == kCodeIdChars + kCodeSecretChars &&
                           code.find_first_not_of(kCodeAlphabet) == std::string::npos;
  // Attempts at one code count against it; what is no code at all counts against the address.
  const std::string code_id = well_formed ? code.substr(0, kCodeIdChars) : "";
  check_not_limited(tx, address, well_formed ? "code:" + code_id : "");
  if (!well_formed) {
    fail("", "that is not an enrolment code (24 letters and digits, none of 0, 1, I, L, O, U)");
  }
  const auto stored = tx.enrolment_code(code_id);
  const std::int64_t now = clock_.wall_ms();
  if (!stored || !secret_matches(code.substr(kCodeIdChars), stored->secret_hash)) {
    fail("code:" + code_id, "the enrolment code is not valid");
  }
  if (stored->expires_at_ms <= now) fail("code:" + code_id, "the enrolment code has expired");
  auto user = tx.user(stored->user_id);
  if (!user) throw Error(ErrorCode::kIntegrity, "an enrolment code belongs to a user who does not exist");

  Device device;
  device.id = Uuid::random_v4();
  if (!tx.use_enrolment_code(code_id, device.id, now)) {
    fail("code:" + code_id, "the enrolment code was already used");
  }
  const std::string secret = random_secret();
  device.user_id = user->id;
  device.token_hash = hash_of(secret);
  device.enrolled_at_ms = now;
  device.last_seen_ms = now;
  device.telemetry = telemetry;
  tx.put_device(device);
  std::string token = device_hex(device.id) + "." + secret;
  return Enrolled{std::move(device), std::move(token)};
}

std::string Credentials::issue_enrolment_code(StorageTransaction& tx, const std::string& user_id,
                                              std::int64_t lifetime_ms, std::int64_t& expires_at_ms) {
  if (!tx.user(user_id)) throw Error(ErrorCode::kNotFound, "no user '" + user_id + "'");
  if (lifetime_ms <= 0) lifetime_ms = options_.enrolment_code_lifetime_ms;
  const std::string code_id = random_code_chars(kCodeIdChars);
  const std::string secret = random_code_chars(kCodeSecretChars);
  const std::int64_t now = clock_.wall_ms();
  expires_at_ms = now + lifetime_ms;
  tx.put_enrolment_code({code_id, hash_of(secret), user_id, now, expires_at_ms});
  return grouped(code_id + secret);
}

std::string Credentials::issue_admin_token(StorageTransaction& tx, const std::string& name,
                                           const std::vector<std::string>& roles,
                                           std::int64_t lifetime_ms) {
  for (const std::string& role : roles) {
    if (std::find(std::begin(kAdminRoles), std::end(kAdminRoles), role) == std::end(kAdminRoles)) {
      throw Error(ErrorCode::kInvalidArgument, "unknown admin role '" + role + "' (monitor, manage, enrol)");
    }
  }
  const std::string id = crypto::to_hex(crypto::random_bytes(8));
  const std::string secret = random_secret();
  const std::int64_t now = clock_.wall_ms();
  tx.put_admin_token({id, hash_of(secret), name, roles, now, lifetime_ms > 0 ? now + lifetime_ms : 0});
  return id + "." + secret;
}

}  // namespace fieldsync::server
