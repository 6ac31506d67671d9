// The JSON wire form (application/json), for debugging and for clients in other languages, and
// the JSON forms of json_form.h it is built on.
//
// Members are named as in sync_messages.h; every message has {"protocol":{"major":1,"minor":1}}.
// Decoding is strict inside objects (each member the encoder writes must be there, of its type)
// but lets a message leave out its other top-level members (empty lists, defaults). Members it
// does not know are ignored, so that a newer minor version may add some. The body is refused over
// DecodeLimits::max_body_bytes before parsing, nesting deeper than max_json_depth while parsing.
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

#include "fieldsync/json_form.h"
#include "wire_forms.h"

namespace fieldsync {
namespace {

using nlohmann::json;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A JSON node and where it sits in the document. The path is a chain through the callers' stack
// frames, so it costs nothing until an error names it. A Node must not outlive its parent.
class Node {
 public:
  Node(const json& value, std::string_view root) : value_(value), key_(root) {}

  const json& value() const { return value_; }

  // A member that must be there.
  Node operator[](std::string_view key) const {
    const auto it = object().find(key);
    if (it == value_.end()) Node(value_, this, key, 0).fail("missing");
    return Node(*it, this, key, 0);
  }
  // A member that may be left out.
  std::optional<Node> find(std::string_view key) const {
    const auto it = object().find(key);
    if (it == value_.end()) return std::nullopt;
    return Node(*it, this, key, 0);
  }
  Node item(std::size_t index) const { return Node(value_[index], this, {}, index); }

  const std::string& string() const {
    if (!value_.is_string()) fail("expected a string");
    return value_.get_ref<const std::string&>();
  }

  [[noreturn]] void fail(std::string_view problem, ErrorCode code = ErrorCode::kMalformed) const {
    throw Error(code, "JSON " + path() + ": " + std::string(problem));
  }

 private:
  Node(const json& value, const Node* parent, std::string_view key, std::size_t index)
      : value_(value), parent_(parent), key_(key), index_(index) {}

  const json& object() const {
    if (!value_.is_object()) fail("expected an object");
    return value_;
  }

  std::string path() const {
    if (parent_ == nullptr) return std::string(key_);
    if (key_.empty()) return parent_->path() + "[" + std::to_string(index_) + "]";
    return parent_->path() + "." + std::string(key_);
  }

  const json& value_;
  const Node* parent_ = nullptr;
  std::string_view key_;  // empty for a list item
  std::size_t index_ = 0;
};

// Turns JSON into fieldsync's types under DecodeLimits, counting changes across one message.
class JsonReader {
 public:
  explicit JsonReader(const DecodeLimits& limits) : limits_(limits) {}

  std::string text(const Node& node) const {
    const std::string& content = node.string();
    check_size(node, content.size());
    return content;
  }

  // Opaque bytes (cursors), as base64.
  std::string opaque(const Node& node) const {
    auto bytes = from_base64(node.string());
    if (!bytes) node.fail("expected base64");
    check_size(node, bytes->size());
    return std::move(*bytes);
  }

  bool boolean(const Node& node) const {
    if (!node.value().is_boolean()) node.fail("expected true or false");
    return node.value().get<bool>();
  }

  std::int64_t integer(const Node& node) const {
    const json& form = node.value();
    if (form.is_number_unsigned()) {
      const auto number = form.get<std::uint64_t>();
      if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        node.fail("integer out of range");
      }
      return static_cast<std::int64_t>(number);
    }
    if (form.is_number_integer()) return form.get<std::int64_t>();
    if (form.is_string()) return parse_decimal<std::int64_t>(node);
    node.fail("expected an integer or a decimal string");
  }

  std::uint64_t unsigned_integer(
      const Node& node, std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
    const json& form = node.value();
    std::uint64_t number = 0;
    if (form.is_number_unsigned()) {
      number = form.get<std::uint64_t>();
    } else if (form.is_number_integer()) {
      node.fail("expected an unsigned integer");  // integer but not unsigned: negative
    } else if (form.is_string()) {
      number = parse_decimal<std::uint64_t>(node);
    } else {
      node.fail("expected an unsigned integer or a decimal string");
    }
    if (number > max) node.fail("integer out of range");
    return number;
  }

  Uuid id(const Node& node) const {
    const auto parsed = Uuid::parse(node.string());
    if (!parsed) node.fail("expected a UUID");
    return *parsed;
  }

  ProtocolVersion protocol(const Node& node) const {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint16_t>::max();
    return ProtocolVersion{static_cast<std::uint16_t>(unsigned_integer(node["major"], kMax)),
                           static_cast<std::uint16_t>(unsigned_integer(node["minor"], kMax))};
  }

  Value value_content(const Node& node, ValueType type) const {
    const json& form = node.value();
    switch (type) {
      case ValueType::kNull:
        if (!form.is_null()) node.fail("expected null");
        return Value::null();
      case ValueType::kBool:
        return Value::boolean(boolean(node));
      case ValueType::kInt:
        return Value::integer(integer(node));
      case ValueType::kDouble: {
        if (!form.is_number()) node.fail("expected a number");
        const auto number = form.get<double>();
        if (!std::isfinite(number)) node.fail("expected a finite number");
        return Value::real(number);
      }
      case ValueType::kText:
        return Value::text(text(node));
      case ValueType::kDate: {
        const auto date = parse_date(node.string());
        if (!date) node.fail("expected a date YYYY-MM-DD");
        return Value::date(*date);
      }
      case ValueType::kTimestamp: {
        const auto timestamp = parse_timestamp(node.string());
        if (!timestamp) node.fail("expected an RFC 3339 timestamp");
        // An offset can carry a timestamp just past the years that can be written in UTC.
        if (!is_wire_timestamp(timestamp->unix_ms)) node.fail("timestamp outside years 0001-9999");
        return Value::timestamp(*timestamp);
      }
      case ValueType::kBytes: {
        const std::string bytes = opaque(node);
        return Value::bytes(Bytes(bytes.begin(), bytes.end()));
      }
    }
    node.fail("unknown value type");
  }

  Value value(const Node& node) const {
    const auto type = value_type_from_string(node["type"].string());
    if (!type) node["type"].fail("unknown value type");
    if (*type == ValueType::kNull && !node.find("value")) return Value::null();
    return value_content(node["value"], *type);
  }

  Version version(const Node& node) const {
    const Hlc hlc(unsigned_integer(node["ms"], Hlc::kMaxMs),
                  static_cast<std::uint16_t>(unsigned_integer(node["counter"], Hlc::kMaxCounter)));
    return Version{hlc, id(node["origin"])};
  }

  Change change(const Node& node) const {
    Change change;
    change.collection = text(node["collection"]);
    change.record_id = id(node["record_id"]);
    change.case_id = id(node["case_id"]);
    change.field = text(node["field"]);
    change.value = value(node["value"]);
    change.version = version(node["version"]);
    change.base = VersionSet(list(node["base"], limits_.max_base_versions,
                                  [&](const Node& item) { return version(item); }));
    change.device_seq = unsigned_integer(node["device_seq"]);
    change.write_group = id(node["write_group"]);
    change.author = text(node["author"]);
    return change;
  }

  // A list of changes, counted against the message's cap on changes.
  std::vector<Change> changes(const Node& node) {
    auto changes =
        list(node, limits_.max_changes - changes_, [&](const Node& item) { return change(item); });
    changes_ += changes.size();
    return changes;
  }

  template <class ReadItem>
  auto list(const Node& node, std::size_t cap, ReadItem read_item) const
      -> std::vector<std::invoke_result_t<ReadItem, const Node&>> {
    if (!node.value().is_array()) node.fail("expected a list");
    const std::size_t size = node.value().size();
    if (size > cap) {
      node.fail(std::to_string(size) + " items, over the limit of " + std::to_string(cap),
                ErrorCode::kTooLarge);
    }
    std::vector<std::invoke_result_t<ReadItem, const Node&>> items;
    items.reserve(size);  // the parsed document already holds that many
    for (std::size_t i = 0; i < size; ++i) items.push_back(read_item(node.item(i)));
    return items;
  }

  const DecodeLimits& limits() const { return limits_; }

 private:
  void check_size(const Node& node, std::size_t size) const {
    if (size > limits_.max_string_bytes) {
      node.fail(std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(limits_.max_string_bytes),
                ErrorCode::kTooLarge);
    }
  }

  template <class Integer>
  Integer parse_decimal(const Node& node) const {
    const std::string& digits = node.string();
    Integer number{};
    const char* const last = digits.data() + digits.size();
    const auto [end, error] = std::from_chars(digits.data(), last, number);
    if (digits.empty() || error != std::errc() || end != last) {
      node.fail("expected a decimal integer");
    }
    return number;
  }

  const DecodeLimits& limits_;
  std::size_t changes_ = 0;
};

json id_to_json(const Uuid& id) {
  return id.to_string();
}

[[noreturn]] void throw_unwritable(std::string_view what) {
  throw Error(ErrorCode::kInvalidArgument,
              "a " + std::string(what) + " outside years 0001-9999 has no JSON form");
}

template <class Item, class ToJson>
json list_to_json(const std::vector<Item>& items, ToJson to_json_item) {
  json list = json::array();
  for (const Item& item : items) list.push_back(to_json_item(item));
  return list;
}

json changes_to_json(const std::vector<Change>& changes) {
  return list_to_json(changes, change_to_json);
}

}  // namespace

json int_to_json(std::int64_t value) {
  if (value > kMaxJsonSafeInteger || value < -kMaxJsonSafeInteger) return std::to_string(value);
  return value;
}

json uint_to_json(std::uint64_t value) {
  if (value > static_cast<std::uint64_t>(kMaxJsonSafeInteger)) return std::to_string(value);
  return value;
}

std::int64_t int_from_json(const json& form, std::string_view what) {
  return JsonReader(DecodeLimits{}).integer(Node(form, what));
}

std::uint64_t uint_from_json(const json& form, std::string_view what) {
  return JsonReader(DecodeLimits{}).unsigned_integer(Node(form, what));
}

std::string to_base64(std::string_view bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t chunk_size = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t chunk = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      chunk = chunk << 8 | (k < chunk_size ? static_cast<std::uint8_t>(bytes[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      text.push_back(k <= chunk_size ? kBase64Alphabet[chunk >> (18 - 6 * k) & 0x3F] : '=');
    }
  }
  return text;
}

std::optional<std::string> from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t chunk = 0;
    std::size_t padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        ++padding;
        chunk <<= 6;
        continue;
      }
      const int sextet = base64_sextet(c);
      if (sextet < 0 || padding > 0) return std::nullopt;
      chunk = chunk << 6 | static_cast<std::uint32_t>(sextet);
    }
    // Canonical form only: the bits the padding stands for are zero.
    if ((padding == 1 && (chunk & 0xFF) != 0) || (padding == 2 && (chunk & 0xFFFF) != 0)) {
      return std::nullopt;
    }
    bytes.push_back(static_cast<char>(chunk >> 16));
    if (padding < 2) bytes.push_back(static_cast<char>(chunk >> 8 & 0xFF));
    if (padding < 1) bytes.push_back(static_cast<char>(chunk & 0xFF));
  }
  return bytes;
}

json value_content_to_json(const Value& value) {
  switch (value.type()) {
    case ValueType::kNull:
      return nullptr;
    case ValueType::kBool:
      return value.as_bool();
    case ValueType::kInt:
      return int_to_json(value.as_int());
    case ValueType::kDouble:
      return value.as_double();
    case ValueType::kText:
      return value.as_text();
    case ValueType::kDate:
      if (!is_wire_date(value.as_date().days_since_epoch)) throw_unwritable("date");
      return format_date(value.as_date());
    case ValueType::kTimestamp:
      if (!is_wire_timestamp(value.as_timestamp().unix_ms)) throw_unwritable("timestamp");
      return format_timestamp(value.as_timestamp());
    case ValueType::kBytes: {
      const Bytes& bytes = value.as_bytes();
      return to_base64({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    }
  }
  return nullptr;
}

Value value_content_from_json(const json& form, ValueType type, const DecodeLimits& limits) {
  return JsonReader(limits).value_content(Node(form, "value"), type);
}

json value_to_json(const Value& value) {
  json form = {{"type", to_string(value.type())}};
  if (!value.is_null()) form["value"] = value_content_to_json(value);
  return form;
}

Value value_from_json(const json& form, const DecodeLimits& limits) {
  return JsonReader(limits).value(Node(form, "value"));
}

json version_to_json(const Version& version) {
  return {{"ms", version.hlc.ms()},
          {"counter", version.hlc.counter()},
          {"origin", id_to_json(version.origin)}};
}

Version version_from_json(const json& form) {
  return JsonReader(DecodeLimits{}).version(Node(form, "version"));
}

json change_to_json(const Change& change) {
  return {{"collection", change.collection},
          {"record_id", id_to_json(change.record_id)},
          {"case_id", id_to_json(change.case_id)},
          {"field", change.field},
          {"value", value_to_json(change.value)},
          {"version", version_to_json(change.version)},
          {"base", list_to_json(change.base.items(), version_to_json)},
          {"device_seq", uint_to_json(change.device_seq)},
          {"write_group", id_to_json(change.write_group)},
          {"author", change.author}};
}

Change change_from_json(const json& form, const DecodeLimits& limits) {
  return JsonReader(limits).change(Node(form, "change"));
}

void to_json(json& form, const Uuid& id) {
  form = id_to_json(id);
}

void from_json(const json& form, Uuid& id) {
  id = JsonReader(DecodeLimits{}).id(Node(form, "id"));
}

namespace wire_json {
namespace {

// --- Encoding ----------------------------------------------------------------------------------

json protocol_to_json(const ProtocolVersion& protocol) {
  return {{"major", protocol.major}, {"minor", protocol.minor}};
}

json telemetry_to_json(const Telemetry& telemetry) {
  return {{"app_version", telemetry.app_version},
          {"core_version", telemetry.core_version},
          {"platform", telemetry.platform},
          {"pending_count", uint_to_json(telemetry.pending_count)},
          {"oldest_pending_age_ms", int_to_json(telemetry.oldest_pending_age_ms)},
          {"last_error_code", telemetry.last_error_code},
          {"last_error_message", telemetry.last_error_message},
          {"device_clock_ms", int_to_json(telemetry.device_clock_ms)}};
}

json write_group_to_json(const WriteGroup& group) {
  return {{"id", id_to_json(group.id)},
          {"changes", changes_to_json(group.changes)},
          {"restored", group.restored}};
}

json rejection_to_json(const Rejection& rejection) {
  return {{"write_group", id_to_json(rejection.write_group)},
          {"code", to_string(rejection.code)},
          {"message", rejection.message},
          {"server_values", changes_to_json(rejection.server_values)},
          {"highest_accepted_seq", uint_to_json(rejection.highest_accepted_seq)}};
}

json side_to_json(const ConflictSide& side) {
  return {{"value", value_to_json(side.value)},
          {"version", version_to_json(side.version)},
          {"author", side.author}};
}

json conflict_to_json(const Conflict& conflict) {
  return {{"collection", conflict.collection},       {"record_id", id_to_json(conflict.record_id)},
          {"case_id", id_to_json(conflict.case_id)}, {"field", conflict.field},
          {"lost", side_to_json(conflict.lost)},     {"winner", side_to_json(conflict.winner)}};
}

json resolution_to_json(const Resolution& resolution) {
  return {{"record_id", id_to_json(resolution.record_id)},
          {"field", resolution.field},
          {"lost", version_to_json(resolution.lost)},
          {"resolved_by", version_to_json(resolution.resolved_by)}};
}

json directive_to_json(const Directive& directive) {
  return {{"id", uint_to_json(directive.id)},
          {"kind", to_string(directive.kind)},
          {"case_id", id_to_json(directive.case_id)},
          {"detail", directive.detail}};
}

json message_to_json(const SyncRequest& request) {
  return {{"protocol", protocol_to_json(request.protocol)},
          {"cursor", to_base64(request.cursor)},
          {"write_groups", list_to_json(request.write_groups, write_group_to_json)},
          {"directive_acks", list_to_json(request.directive_acks, uint_to_json)},
          {"telemetry", telemetry_to_json(request.telemetry)}};
}

json message_to_json(const SyncResponse& response) {
  return {{"protocol", protocol_to_json(response.protocol)},
          {"acks", list_to_json(response.acks, id_to_json)},
          {"rejections", list_to_json(response.rejections, rejection_to_json)},
          {"changes", changes_to_json(response.changes)},
          {"conflicts", list_to_json(response.conflicts, conflict_to_json)},
          {"resolutions", list_to_json(response.resolutions, resolution_to_json)},
          {"next_cursor", to_base64(response.next_cursor)},
          {"more", response.more},
          {"server_time_ms", int_to_json(response.server_time_ms)},
          {"directives", list_to_json(response.directives, directive_to_json)}};
}

template <class Message>
std::string encode_message(const Message& message) {
  try {
    return message_to_json(message).dump();
  } catch (const json::exception&) {
    // The only failure dump() has: a string that is not UTF-8.
    throw Error(ErrorCode::kInvalidArgument, "a text of the message is not UTF-8");
  }
}

// --- Decoding ----------------------------------------------------------------------------------

// Reads the parts of a message beyond JsonReader's building blocks.
class MessageReader : public JsonReader {
 public:
  using JsonReader::JsonReader;

  // Reads member `key` of `object` into `out` when the message has it.
  template <class T, class Read>
  void optional(const Node& object, std::string_view key, T& out, Read read) {
    if (const auto node = object.find(key)) out = read(*node);
  }

  Telemetry telemetry(const Node& node) const {
    Telemetry telemetry;
    telemetry.app_version = text(node["app_version"]);
    telemetry.core_version = text(node["core_version"]);
    telemetry.platform = text(node["platform"]);
    telemetry.pending_count = unsigned_integer(node["pending_count"]);
    telemetry.oldest_pending_age_ms = integer(node["oldest_pending_age_ms"]);
    telemetry.last_error_code = text(node["last_error_code"]);
    telemetry.last_error_message = text(node["last_error_message"]);
    telemetry.device_clock_ms = integer(node["device_clock_ms"]);
    return telemetry;
  }

  // Members added by protocol 1.1 ("restored", "highest_accepted_seq") may be missing: a 1.0
  // peer does not write them, and they take their defaults.
  WriteGroup write_group(const Node& node) {
    WriteGroup group{id(node["id"]), changes(node["changes"])};
    optional(node, "restored", group.restored, [&](const Node& flag) { return boolean(flag); });
    return group;
  }

  Rejection rejection(const Node& node) {
    Rejection rejection;
    rejection.write_group = id(node["write_group"]);
    const Node code = node["code"];
    const auto known = rejection_code_from_string(code.string());
    if (!known) code.fail("unknown rejection code");
    rejection.code = *known;
    rejection.message = text(node["message"]);
    rejection.server_values = changes(node["server_values"]);
    optional(node, "highest_accepted_seq", rejection.highest_accepted_seq,
             [&](const Node& seq) { return unsigned_integer(seq); });
    return rejection;
  }

  ConflictSide side(const Node& node) const {
    return ConflictSide{value(node["value"]), version(node["version"]), text(node["author"])};
  }

  Conflict conflict(const Node& node) const {
    Conflict conflict;
    conflict.collection = text(node["collection"]);
    conflict.record_id = id(node["record_id"]);
    conflict.case_id = id(node["case_id"]);
    conflict.field = text(node["field"]);
    conflict.lost = side(node["lost"]);
    conflict.winner = side(node["winner"]);
    return conflict;
  }

  Resolution resolution(const Node& node) const {
    return Resolution{id(node["record_id"]), text(node["field"]), version(node["lost"]),
                      version(node["resolved_by"])};
  }

  Directive directive(const Node& node) const {
    Directive directive;
    directive.id = unsigned_integer(node["id"]);
    const Node kind = node["kind"];
    const auto known = directive_kind_from_string(kind.string());
    if (!known) kind.fail("unknown directive kind");
    directive.kind = *known;
    directive.case_id = id(node["case_id"]);
    directive.detail = text(node["detail"]);
    return directive;
  }

  void read(const Node& root, SyncRequest& request) {
    const std::size_t max_lists = limits().max_list_items;
    optional(root, "cursor", request.cursor, [&](const Node& node) { return opaque(node); });
    optional(root, "write_groups", request.write_groups, [&](const Node& node) {
      return list(node, limits().max_write_groups,
                  [&](const Node& item) { return write_group(item); });
    });
    optional(root, "directive_acks", request.directive_acks, [&](const Node& node) {
      return list(node, max_lists, [&](const Node& item) { return unsigned_integer(item); });
    });
    optional(root, "telemetry", request.telemetry,
             [&](const Node& node) { return telemetry(node); });
  }

  void read(const Node& root, SyncResponse& response) {
    const std::size_t max_lists = limits().max_list_items;
    const std::size_t max_groups = limits().max_write_groups;
    optional(root, "acks", response.acks, [&](const Node& node) {
      return list(node, max_groups, [&](const Node& item) { return id(item); });
    });
    optional(root, "rejections", response.rejections, [&](const Node& node) {
      return list(node, max_groups, [&](const Node& item) { return rejection(item); });
    });
    optional(root, "changes", response.changes, [&](const Node& node) { return changes(node); });
    optional(root, "conflicts", response.conflicts, [&](const Node& node) {
      return list(node, max_lists, [&](const Node& item) { return conflict(item); });
    });
    optional(root, "resolutions", response.resolutions, [&](const Node& node) {
      return list(node, max_lists, [&](const Node& item) { return resolution(item); });
    });
    optional(root, "next_cursor", response.next_cursor,
             [&](const Node& node) { return opaque(node); });
    optional(root, "more", response.more, [&](const Node& node) { return boolean(node); });
    optional(root, "server_time_ms", response.server_time_ms,
             [&](const Node& node) { return integer(node); });
    optional(root, "directives", response.directives, [&](const Node& node) {
      return list(node, max_lists, [&](const Node& item) { return directive(item); });
    });
  }
};

json parse(std::string_view body, const DecodeLimits& limits) {
  check_body_size(body, limits);
  // Nesting is refused as the parser meets it, before a deep document is built.
  const json::parser_callback_t depth_guard = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        static_cast<std::size_t>(depth) >= limits.max_json_depth) {
      throw Error(ErrorCode::kTooLarge,
                  "JSON nested deeper than " + std::to_string(limits.max_json_depth) + " levels");
    }
    return true;
  };
  try {
    return json::parse(body, depth_guard);
  } catch (const json::parse_error& e) {
    // The byte offset only: nlohmann's message quotes the input, which may be case data.
    throw Error(ErrorCode::kMalformed, "JSON syntax error at byte " + std::to_string(e.byte));
  } catch (const json::exception&) {
    // Valid syntax the parser still cannot hold, such as a number beyond a double's range.
    throw Error(ErrorCode::kMalformed, "JSON holds a number out of range");
  }
}

template <class Message>
Message decode_message(std::string_view body, const DecodeLimits& limits,
                       std::string_view root_name) {
  const json document = parse(body, limits);
  const Node root(document, root_name);
  MessageReader reader(limits);
  Message message;
  message.protocol = reader.protocol(root["protocol"]);
  check_protocol(message.protocol);
  reader.read(root, message);
  return message;
}

}  // namespace

std::string encode(const SyncRequest& request) {
  return encode_message(request);
}

std::string encode(const SyncResponse& response) {
  return encode_message(response);
}

SyncRequest decode_request(std::string_view body, const DecodeLimits& limits) {
  return decode_message<SyncRequest>(body, limits, "request");
}

SyncResponse decode_response(std::string_view body, const DecodeLimits& limits) {
  return decode_message<SyncResponse>(body, limits, "response");
}

}  // namespace wire_json
}  // namespace fieldsync
