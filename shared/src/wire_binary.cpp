// The binary wire form (application/x-fieldsync): the layout of each message, over the byte level
// of wire_binary_io.h. The goal is a record's overhead of tens of bytes: ids as 16 bytes, names as
// schema indexes, and whatever repeats from one change to the next as a flag bit.
//
// Layout ("varint" LEB128, "zz" zigzag varint, "id" 16 bytes, "string" varint length + bytes,
// "count" a varint list length, "u32" cereal's class version, written on a type's first use):
//   message     major:u16le minor:u16le, then a cereal portable binary archive: endianness:u8
//               (1, little) and the request or the response. The version comes first and never
//               moves, so that any later major version can be recognised and refused clearly.
//   request     u32 cursor:string groups:count{group} directive_acks:count{varint} telemetry
//   group       id [flags:u8] changes; flags (class version 2 on) bit 0: restored, others 0
//   telemetry   u32 app_version core_version platform:string pending_count:varint
//               oldest_pending_age_ms:zz last_error_code last_error_message:string
//               device_clock_ms:zz
//   response    u32 acks:count{id} rejections:count{rejection} changes conflicts:count{conflict}
//               resolutions:count{resolution} next_cursor:string more:u8 server_time_ms:zz
//               directives:count{directive}
//   rejection   u32 write_group:id code:u8 message:string server_values:changes
//               [highest_accepted_seq:varint] (class version 2 on)
//   conflict    u32 collection record_id:id case_id:id field lost:side winner:side
//   side        type:u8 value version author
//   resolution  u32 record_id:id field:string lost:version resolved_by:version
//   directive   u32 id:varint kind:u8 case_id:id detail:string
//   changes     runs:count{run}, a run being consecutive changes of one write group, collection,
//               record, case and author:
//   run         flags:u8 [write_group:id] [collection] [record_id:id] [case_id:id] [author]
//               count{change}; each bracketed part is present only when its flag says it differs
//               from the previous run (case_id also has a flag for "same as record_id").
//   change      field flags:u8 [hlc] [origin] [base] [device_seq:zz] value; flags hold the value
//               type, how the hlc relates to the previous one, and whether origin (else the
//               previous change's), base (else empty) and device_seq (else previous + 1) follow.
//   collection  varint: 0 then the name as a string, or the schema index + 1; field likewise
//               within the collection. Names the schema does not know travel as names.
//   version     hlc as zz delta from the previous version's, then origin.
//   author, origin: an index into a table built as the message goes: the index one past the end
//               introduces a new entry (string or id) right there. Entry 0, empty or nil, is
//               implicit.
//   value       by type: null nothing; bool u8; int zz; double 8 bytes; text and bytes string;
//               date zz days; timestamp zz ms.
#include <cmath>
#include <istream>
#include <ostream>

#include "wire_binary_io.h"
#include "wire_forms.h"

namespace fieldsync {
namespace wire_binary {

// The parts of a message that carry their own cereal class version, and what errors call them.
struct PartVersion {
  std::uint32_t version = 0;  // 0: not a part with a version of its own
  std::string_view name;
};
template <class Part>
constexpr PartVersion kPart{};
template <>
constexpr PartVersion kPart<SyncRequest>{2, "request"};  // 2: a group's flags (restored)
template <>
constexpr PartVersion kPart<SyncResponse>{1, "response"};
template <>
constexpr PartVersion kPart<Telemetry>{1, "telemetry"};
template <>
constexpr PartVersion kPart<Rejection>{2, "rejection"};  // 2: highest_accepted_seq
template <>
constexpr PartVersion kPart<Conflict>{1, "conflict"};
template <>
constexpr PartVersion kPart<Resolution>{1, "resolution"};
template <>
constexpr PartVersion kPart<Directive>{1, "directive"};

template <class Part>
concept VersionedPart = kPart<Part>
.version != 0;

}  // namespace wire_binary

// cereal's hooks for the versioned parts (defined below, after the layouts they call). cereal
// finds them by argument-dependent lookup, so they live in the messages' namespace.
template <wire_binary::VersionedPart Part>
static void save(cereal::PortableBinaryOutputArchive& archive, const Part& part, std::uint32_t);
template <wire_binary::VersionedPart Part>
static void load(cereal::PortableBinaryInputArchive& archive, Part& part, std::uint32_t version);

}  // namespace fieldsync

#define FIELDSYNC_WIRE_CLASS_VERSION(Part) \
  CEREAL_CLASS_VERSION(fieldsync::Part, fieldsync::wire_binary::kPart<fieldsync::Part>.version)
FIELDSYNC_WIRE_CLASS_VERSION(SyncRequest)
FIELDSYNC_WIRE_CLASS_VERSION(SyncResponse)
FIELDSYNC_WIRE_CLASS_VERSION(Telemetry)
FIELDSYNC_WIRE_CLASS_VERSION(Rejection)
FIELDSYNC_WIRE_CLASS_VERSION(Conflict)
FIELDSYNC_WIRE_CLASS_VERSION(Resolution)
FIELDSYNC_WIRE_CLASS_VERSION(Directive)
#undef FIELDSYNC_WIRE_CLASS_VERSION

namespace fieldsync::wire_binary {
namespace {

constexpr std::size_t kProtocolBytes = 4;
constexpr std::uint8_t kLittleEndian = 1;

// Run flags: which parts of a run's key differ from the previous run's and follow.
constexpr std::uint8_t kRunNewWriteGroup = 0x01;
constexpr std::uint8_t kRunNewCollection = 0x02;
constexpr std::uint8_t kRunNewRecord = 0x04;
constexpr std::uint8_t kRunCaseIsRecord = 0x08;  // a case record: its case id is its own id
constexpr std::uint8_t kRunNewCase = 0x10;
constexpr std::uint8_t kRunNewAuthor = 0x20;
constexpr std::uint8_t kRunKnownFlags = 0x3F;

// Write group flags (request class version 2 on).
constexpr std::uint8_t kGroupRestored = 0x01;
constexpr std::uint8_t kGroupKnownFlags = 0x01;

// Change flags: the value type in the low bits, then how the rest is coded.
constexpr std::uint8_t kValueTypeMask = 0x07;
constexpr unsigned kHlcModeShift = 3;
constexpr std::uint8_t kHlcModeMask = 0x18;
constexpr std::uint8_t kNewOrigin = 0x20;
constexpr std::uint8_t kHasBase = 0x40;
constexpr std::uint8_t kExplicitSeq = 0x80;
static_assert(kValueTypeCount <= kValueTypeMask + 1);

// How a change's hlc relates to the previous version's.
enum class HlcMode : std::uint8_t {
  kSame = 0,      // nothing follows
  kNext = 1,      // the successor; nothing follows
  kDelta = 2,     // zz delta of the packed stamps
  kAbsolute = 3,  // ms varint, counter varint: cheaper for the first stamp of a message
};

// The fewest bytes each list item can take: a count above remaining / this is a lie.
constexpr std::size_t kIdBytes = 16;
constexpr std::size_t kMinWriteGroupBytes = kIdBytes + 1;
constexpr std::size_t kMinRunBytes = 1 + 1 + 2;
constexpr std::size_t kMinChangeBytes = 2;
constexpr std::size_t kMinVersionBytes = 2;
constexpr std::size_t kMinRejectionBytes = kIdBytes + 1 + 1 + 1;
constexpr std::size_t kMinConflictBytes = 1 + 2 * kIdBytes + 1 + 2 * (1 + kMinVersionBytes + 1);
constexpr std::size_t kMinResolutionBytes = kIdBytes + 1 + 2 * kMinVersionBytes;
constexpr std::size_t kMinDirectiveBytes = 1 + 1 + kIdBytes + 1;

void check_class_version(std::uint32_t version, const PartVersion& known) {
  if (version > known.version) {
    throw Error(ErrorCode::kUnsupportedVersion,
                "binary message: " + std::string(known.name) + " has class version " +
                    std::to_string(version) + "; this build reads up to " +
                    std::to_string(known.version));
  }
  if (version == 0) throw_malformed(std::string(known.name) + " has class version 0");
}

bool is_known(RejectionCode code) {
  return to_string(code) != "unknown";
}
bool is_known(DirectiveKind kind) {
  return to_string(kind) != "unknown";
}

// --- Names: schema indexes, or the name itself when the schema does not know it ---------------

void write_collection(Writer& writer, const std::string& collection) {
  if (const auto index = writer.schema().collection_index(collection)) {
    writer.varint(std::uint64_t{*index} + 1);
  } else {
    writer.varint(0);
    writer.string(collection);
  }
}

std::string read_collection(Reader& reader) {
  const std::uint64_t code = reader.varint();
  if (code == 0) return reader.text("collection name");
  const auto& collections = reader.schema().collections();
  if (code > collections.size()) {
    throw Error(ErrorCode::kUnsupportedVersion,
                "binary message: collection index " + std::to_string(code - 1) +
                    " is not in this build's schema (is the peer's schema newer?)");
  }
  return collections[code - 1].name;
}

void write_field(Writer& writer, const CollectionSpec* spec, const std::string& field) {
  if (const auto index = spec ? spec->field_index(field) : std::nullopt) {
    writer.varint(std::uint64_t{*index} + 1);
  } else {
    writer.varint(0);
    writer.string(field);
  }
}

std::string read_field(Reader& reader, const CollectionSpec* spec) {
  const std::uint64_t code = reader.varint();
  if (code == 0) return reader.text("field name");
  if (spec == nullptr || code > spec->fields.size()) {
    throw Error(ErrorCode::kUnsupportedVersion,
                "binary message: field index " + std::to_string(code - 1) + " of collection " +
                    (spec ? spec->name : std::string("(unknown)")) +
                    " is not in this build's schema (is the peer's schema newer?)");
  }
  return spec->fields[code - 1].name;
}

// --- Values ------------------------------------------------------------------------------------

void write_value(Writer& writer, const Value& value) {
  switch (value.type()) {
    case ValueType::kNull:
      return;
    case ValueType::kBool:
      return writer.byte(value.as_bool() ? 1 : 0);
    case ValueType::kInt:
      return writer.signed_varint(value.as_int());
    case ValueType::kDouble:
      return writer.float64(value.as_double());
    case ValueType::kText:
      return writer.string(value.as_text());
    case ValueType::kDate:
      return writer.signed_varint(value.as_date().days_since_epoch);
    case ValueType::kTimestamp:
      return writer.signed_varint(value.as_timestamp().unix_ms);
    case ValueType::kBytes: {
      const Bytes& bytes = value.as_bytes();
      return writer.string({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    }
  }
}

Value read_value(Reader& reader, ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return Value::null();
    case ValueType::kBool: {
      const std::uint8_t byte = reader.byte();
      if (byte > 1) throw_malformed("a bool value is neither 0 nor 1");
      return Value::boolean(byte == 1);
    }
    case ValueType::kInt:
      return Value::integer(reader.signed_varint());
    case ValueType::kDouble: {
      const double number = reader.float64();
      if (!std::isfinite(number)) throw_malformed("a double value is not finite");
      return Value::real(number);
    }
    case ValueType::kText:
      return Value::text(reader.text("text value"));
    case ValueType::kDate: {
      const std::int64_t days = reader.signed_varint();
      if (!is_wire_date(days)) throw_malformed("a date value is outside years 0001-9999");
      return Value::date(Date{static_cast<std::int32_t>(days)});
    }
    case ValueType::kTimestamp: {
      const std::int64_t unix_ms = reader.signed_varint();
      if (!is_wire_timestamp(unix_ms)) {
        throw_malformed("a timestamp value is outside years 0001-9999");
      }
      return Value::timestamp(Timestamp{unix_ms});
    }
    case ValueType::kBytes:
      return Value::bytes(reader.bytes<Bytes>("bytes value"));
  }
  throw_malformed("unknown value type " + std::to_string(static_cast<int>(type)));
}

ValueType read_value_type(Reader& reader) {
  const std::uint8_t tag = reader.byte();
  if (tag >= kValueTypeCount) throw_malformed("unknown value type " + std::to_string(tag));
  return static_cast<ValueType>(tag);
}

// --- Versions ----------------------------------------------------------------------------------

std::int64_t hlc_delta(Hlc from, Hlc to) {
  return static_cast<std::int64_t>(to.packed() - from.packed());  // wraps; undone by the reader
}

Hlc add_delta(Hlc from, std::int64_t delta) {
  return Hlc::from_packed(from.packed() + static_cast<std::uint64_t>(delta));
}

HlcMode choose_hlc_mode(Hlc previous, Hlc hlc) {
  if (hlc == previous) return HlcMode::kSame;
  if (hlc == previous.successor()) return HlcMode::kNext;
  const std::size_t delta_bytes = varint::size(varint::zigzag(hlc_delta(previous, hlc)));
  const std::size_t absolute_bytes = varint::size(hlc.ms()) + varint::size(hlc.counter());
  return delta_bytes <= absolute_bytes ? HlcMode::kDelta : HlcMode::kAbsolute;
}

void write_hlc(Writer& writer, HlcMode mode, Hlc hlc) {
  if (mode == HlcMode::kDelta) writer.signed_varint(hlc_delta(writer.state().hlc, hlc));
  if (mode == HlcMode::kAbsolute) {
    writer.varint(hlc.ms());
    writer.varint(hlc.counter());
  }
  writer.state().hlc = hlc;
}

Hlc read_hlc(Reader& reader, HlcMode mode) {
  const Hlc previous = reader.state().hlc;
  Hlc hlc;
  switch (mode) {
    case HlcMode::kSame:
      hlc = previous;
      break;
    case HlcMode::kNext:
      hlc = previous.successor();
      break;
    case HlcMode::kDelta:
      hlc = add_delta(previous, reader.signed_varint());
      break;
    case HlcMode::kAbsolute: {
      const std::uint64_t ms = reader.varint();
      const std::uint64_t counter = reader.varint();
      if (ms > Hlc::kMaxMs || counter > Hlc::kMaxCounter) throw_malformed("an hlc out of range");
      hlc = Hlc(ms, static_cast<std::uint16_t>(counter));
      break;
    }
  }
  reader.state().hlc = hlc;
  return hlc;
}

// A version on its own (conflicts, resolutions): delta from the previous version.
void write_version(Writer& writer, const Version& version) {
  write_hlc(writer, HlcMode::kDelta, version.hlc);
  writer.origin(version.origin);
}

Version read_version(Reader& reader) {
  const Hlc hlc = read_hlc(reader, HlcMode::kDelta);
  return Version{hlc, reader.origin()};
}

// A base: its versions' stamps as deltas from the change's own, which they usually precede
// closely.
void write_base(Writer& writer, const VersionSet& base, Hlc change_hlc) {
  writer.varint(base.size());
  for (const Version& version : base) {
    writer.signed_varint(hlc_delta(change_hlc, version.hlc));
    writer.origin(version.origin);
  }
}

VersionSet read_base(Reader& reader, Hlc change_hlc) {
  const std::size_t size =
      reader.count("base versions", reader.limits().max_base_versions, kMinVersionBytes);
  if (size == 0) throw_malformed("an empty base flagged as present");
  std::vector<Version> versions;
  versions.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const Hlc hlc = add_delta(change_hlc, reader.signed_varint());
    versions.push_back(Version{hlc, reader.origin()});
  }
  return VersionSet(std::move(versions));
}

// --- Changes, in runs --------------------------------------------------------------------------

bool same_run(const Change& a, const Change& b) {
  return a.write_group == b.write_group && a.record_id == b.record_id && a.case_id == b.case_id &&
         a.collection == b.collection && a.author == b.author;
}

void write_run_header(Writer& writer, const Change& first) {
  CodingState& state = writer.state();
  std::uint8_t flags = 0;
  if (first.write_group != state.write_group) flags |= kRunNewWriteGroup;
  if (first.collection != state.collection) flags |= kRunNewCollection;
  if (first.record_id != state.record_id) flags |= kRunNewRecord;
  if (first.case_id == first.record_id) {
    flags |= kRunCaseIsRecord;
  } else if (first.case_id != state.case_id) {
    flags |= kRunNewCase;
  }
  if (first.author != state.author) flags |= kRunNewAuthor;

  writer.byte(flags);
  if (flags & kRunNewWriteGroup) writer.id(first.write_group);
  if (flags & kRunNewCollection) {
    write_collection(writer, first.collection);
    state.collection_spec = writer.schema().collection(first.collection);
  }
  if (flags & kRunNewRecord) writer.id(first.record_id);
  if (flags & kRunNewCase) writer.id(first.case_id);
  if (flags & kRunNewAuthor) writer.author(first.author);
  state.write_group = first.write_group;
  state.collection = first.collection;
  state.record_id = first.record_id;
  state.case_id = first.case_id;
  state.author = first.author;
}

// Reads a run's header into `key`: a change holding the fields all the run's changes share.
void read_run_header(Reader& reader, Change& key) {
  CodingState& state = reader.state();
  const std::uint8_t flags = reader.byte();
  if ((flags & ~kRunKnownFlags) != 0 || ((flags & kRunCaseIsRecord) && (flags & kRunNewCase))) {
    throw_malformed("a run of changes has impossible flags");
  }
  if (flags & kRunNewWriteGroup) state.write_group = reader.id();
  if (flags & kRunNewCollection) {
    state.collection = read_collection(reader);
    state.collection_spec = reader.schema().collection(state.collection);
  }
  if (flags & kRunNewRecord) state.record_id = reader.id();
  if (flags & kRunCaseIsRecord) {
    state.case_id = state.record_id;
  } else if (flags & kRunNewCase) {
    state.case_id = reader.id();
  }
  if (flags & kRunNewAuthor) state.author = reader.author();
  key.write_group = state.write_group;
  key.collection = state.collection;
  key.record_id = state.record_id;
  key.case_id = state.case_id;
  key.author = state.author;
}

void write_change(Writer& writer, const Change& change) {
  CodingState& state = writer.state();
  write_field(writer, state.collection_spec, change.field);
  const HlcMode mode = choose_hlc_mode(state.hlc, change.version.hlc);
  const bool new_origin = change.version.origin != state.origin;
  const bool explicit_seq = change.device_seq != state.device_seq + 1;
  writer.byte(static_cast<std::uint8_t>(
      static_cast<std::uint8_t>(change.value.type()) |
      static_cast<std::uint8_t>(mode) << kHlcModeShift | (new_origin ? kNewOrigin : 0) |
      (change.base.empty() ? 0 : kHasBase) | (explicit_seq ? kExplicitSeq : 0)));
  write_hlc(writer, mode, change.version.hlc);
  if (new_origin) writer.origin(change.version.origin);
  if (!change.base.empty()) write_base(writer, change.base, change.version.hlc);
  if (explicit_seq) {
    writer.signed_varint(static_cast<std::int64_t>(change.device_seq - (state.device_seq + 1)));
  }
  write_value(writer, change.value);
  state.origin = change.version.origin;
  state.device_seq = change.device_seq;
}

Change read_change(Reader& reader, const Change& key) {
  CodingState& state = reader.state();
  Change change = key;
  change.field = read_field(reader, state.collection_spec);
  const std::uint8_t flags = reader.byte();
  change.version.hlc =
      read_hlc(reader, static_cast<HlcMode>((flags & kHlcModeMask) >> kHlcModeShift));
  if (flags & kNewOrigin) state.origin = reader.origin();
  change.version.origin = state.origin;
  if (flags & kHasBase) change.base = read_base(reader, change.version.hlc);
  state.device_seq += 1;
  if (flags & kExplicitSeq) state.device_seq += static_cast<std::uint64_t>(reader.signed_varint());
  change.device_seq = state.device_seq;
  change.value = read_value(reader, static_cast<ValueType>(flags & kValueTypeMask));
  return change;
}

void write_changes(Writer& writer, const std::vector<Change>& changes) {
  std::size_t runs = 0;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (i == 0 || !same_run(changes[i - 1], changes[i])) ++runs;
  }
  writer.varint(runs);
  for (std::size_t begin = 0; begin < changes.size();) {
    std::size_t end = begin + 1;
    while (end < changes.size() && same_run(changes[begin], changes[end])) ++end;
    write_run_header(writer, changes[begin]);
    writer.varint(end - begin);
    for (std::size_t i = begin; i < end; ++i) write_change(writer, changes[i]);
    begin = end;
  }
}

void read_changes(Reader& reader, std::vector<Change>& changes) {
  DecodeContext& context = reader.context();
  const std::size_t runs =
      reader.count("changes", reader.limits().max_changes - context.changes, kMinRunBytes);
  Change key;
  for (std::size_t run = 0; run < runs; ++run) {
    read_run_header(reader, key);
    const std::size_t size =
        reader.count("changes", reader.limits().max_changes - context.changes, kMinChangeBytes);
    if (size == 0) throw_malformed("an empty run of changes");
    context.changes += size;
    for (std::size_t i = 0; i < size; ++i) changes.push_back(read_change(reader, key));
  }
}

// --- Lists -------------------------------------------------------------------------------------

template <class Item, class WriteItem>
void write_list(Writer& writer, const std::vector<Item>& items, WriteItem write_item) {
  writer.varint(items.size());
  for (const Item& item : items) write_item(item);
}

template <class Item, class ReadItem>
void read_list(Reader& reader, std::vector<Item>& items, std::string_view what, std::size_t cap,
               std::size_t min_item_bytes, ReadItem read_item) {
  const std::size_t size = reader.count(what, cap, min_item_bytes);
  for (std::size_t i = 0; i < size; ++i) items.push_back(read_item());
}

// A part with its own class version, as a list item.
template <class Part>
Part read_versioned(Reader& reader) {
  Part part;
  reader.versioned(part);
  return part;
}

// --- The versioned parts -----------------------------------------------------------------------

void write(Writer& writer, const Telemetry& telemetry) {
  writer.string(telemetry.app_version);
  writer.string(telemetry.core_version);
  writer.string(telemetry.platform);
  writer.varint(telemetry.pending_count);
  writer.signed_varint(telemetry.oldest_pending_age_ms);
  writer.string(telemetry.last_error_code);
  writer.string(telemetry.last_error_message);
  writer.signed_varint(telemetry.device_clock_ms);
}

void read(Reader& reader, Telemetry& telemetry) {
  telemetry.app_version = reader.text("app version");
  telemetry.core_version = reader.text("core version");
  telemetry.platform = reader.text("platform");
  telemetry.pending_count = reader.varint();
  telemetry.oldest_pending_age_ms = reader.signed_varint();
  telemetry.last_error_code = reader.text("last error code");
  telemetry.last_error_message = reader.text("last error message");
  telemetry.device_clock_ms = reader.signed_varint();
}

void write(Writer& writer, const Rejection& rejection) {
  writer.id(rejection.write_group);
  writer.byte(static_cast<std::uint8_t>(rejection.code));
  writer.string(rejection.message);
  write_changes(writer, rejection.server_values);
  writer.varint(rejection.highest_accepted_seq);
}

void read(Reader& reader, Rejection& rejection) {
  rejection.write_group = reader.id();
  rejection.code = static_cast<RejectionCode>(reader.byte());
  if (!is_known(rejection.code)) throw_malformed("unknown rejection code");
  rejection.message = reader.text("rejection message");
  read_changes(reader, rejection.server_values);
  if (reader.class_version() >= 2) rejection.highest_accepted_seq = reader.varint();
}

void write_side(Writer& writer, const ConflictSide& side) {
  writer.byte(static_cast<std::uint8_t>(side.value.type()));
  write_value(writer, side.value);
  write_version(writer, side.version);
  writer.author(side.author);
}

ConflictSide read_side(Reader& reader) {
  ConflictSide side;
  side.value = read_value(reader, read_value_type(reader));
  side.version = read_version(reader);
  side.author = reader.author();
  return side;
}

void write(Writer& writer, const Conflict& conflict) {
  write_collection(writer, conflict.collection);
  writer.id(conflict.record_id);
  writer.id(conflict.case_id);
  write_field(writer, writer.schema().collection(conflict.collection), conflict.field);
  write_side(writer, conflict.lost);
  write_side(writer, conflict.winner);
}

void read(Reader& reader, Conflict& conflict) {
  conflict.collection = read_collection(reader);
  conflict.record_id = reader.id();
  conflict.case_id = reader.id();
  conflict.field = read_field(reader, reader.schema().collection(conflict.collection));
  conflict.lost = read_side(reader);
  conflict.winner = read_side(reader);
}

void write(Writer& writer, const Resolution& resolution) {
  writer.id(resolution.record_id);
  writer.string(resolution.field);
  write_version(writer, resolution.lost);
  write_version(writer, resolution.resolved_by);
}

void read(Reader& reader, Resolution& resolution) {
  resolution.record_id = reader.id();
  resolution.field = reader.text("field name");
  resolution.lost = read_version(reader);
  resolution.resolved_by = read_version(reader);
}

void write(Writer& writer, const Directive& directive) {
  writer.varint(directive.id);
  writer.byte(static_cast<std::uint8_t>(directive.kind));
  writer.id(directive.case_id);
  writer.string(directive.detail);
}

void read(Reader& reader, Directive& directive) {
  directive.id = reader.varint();
  directive.kind = static_cast<DirectiveKind>(reader.byte());
  if (!is_known(directive.kind)) throw_malformed("unknown directive kind");
  directive.case_id = reader.id();
  directive.detail = reader.text("directive detail");
}

void write(Writer& writer, const SyncRequest& request) {
  writer.string(request.cursor);
  write_list(writer, request.write_groups, [&](const WriteGroup& group) {
    writer.id(group.id);
    writer.byte(group.restored ? kGroupRestored : 0);
    writer.state().write_group = group.id;  // a group's runs are usually of the group itself
    write_changes(writer, group.changes);
  });
  write_list(writer, request.directive_acks, [&](std::uint64_t ack) { writer.varint(ack); });
  writer.versioned(request.telemetry);
}

void read(Reader& reader, SyncRequest& request) {
  const DecodeLimits& limits = reader.limits();
  request.cursor = reader.bytes("cursor");
  read_list(reader, request.write_groups, "write groups", limits.max_write_groups,
            kMinWriteGroupBytes, [&] {
              WriteGroup group;
              group.id = reader.id();
              if (reader.class_version() >= 2) {
                const std::uint8_t flags = reader.byte();
                if (flags & ~kGroupKnownFlags) throw_malformed("a write group has unknown flags");
                group.restored = (flags & kGroupRestored) != 0;
              }
              reader.state().write_group = group.id;
              read_changes(reader, group.changes);
              return group;
            });
  read_list(reader, request.directive_acks, "directive acks", limits.max_list_items, 1,
            [&] { return reader.varint(); });
  reader.versioned(request.telemetry);
}

void write(Writer& writer, const SyncResponse& response) {
  const auto versioned = [&](const auto& part) { writer.versioned(part); };
  write_list(writer, response.acks, [&](const WriteGroupId& id) { writer.id(id); });
  write_list(writer, response.rejections, versioned);
  write_changes(writer, response.changes);
  write_list(writer, response.conflicts, versioned);
  write_list(writer, response.resolutions, versioned);
  writer.string(response.next_cursor);
  writer.byte(response.more ? 1 : 0);
  writer.signed_varint(response.server_time_ms);
  write_list(writer, response.directives, versioned);
}

void read(Reader& reader, SyncResponse& response) {
  const DecodeLimits& limits = reader.limits();
  read_list(reader, response.acks, "acks", limits.max_write_groups, kIdBytes,
            [&] { return reader.id(); });
  read_list(reader, response.rejections, "rejections", limits.max_write_groups, kMinRejectionBytes,
            [&] { return read_versioned<Rejection>(reader); });
  read_changes(reader, response.changes);
  read_list(reader, response.conflicts, "conflicts", limits.max_list_items, kMinConflictBytes,
            [&] { return read_versioned<Conflict>(reader); });
  read_list(reader, response.resolutions, "resolutions", limits.max_list_items, kMinResolutionBytes,
            [&] { return read_versioned<Resolution>(reader); });
  response.next_cursor = reader.bytes("next cursor");
  const std::uint8_t more = reader.byte();
  if (more > 1) throw_malformed("'more' is neither 0 nor 1");
  response.more = more == 1;
  response.server_time_ms = reader.signed_varint();
  read_list(reader, response.directives, "directives", limits.max_list_items, kMinDirectiveBytes,
            [&] { return read_versioned<Directive>(reader); });
}

}  // namespace
}  // namespace fieldsync::wire_binary

namespace fieldsync {

template <wire_binary::VersionedPart Part>
static void save(cereal::PortableBinaryOutputArchive& archive, const Part& part, std::uint32_t) {
  wire_binary::Writer writer(archive);
  wire_binary::write(writer, part);
}

template <wire_binary::VersionedPart Part>
static void load(cereal::PortableBinaryInputArchive& archive, Part& part, std::uint32_t version) {
  wire_binary::check_class_version(version, wire_binary::kPart<Part>);
  wire_binary::Reader reader(archive, version);
  wire_binary::read(reader, part);
}

}  // namespace fieldsync

namespace fieldsync::wire_binary {
namespace {

void put_protocol(std::string& out, const ProtocolVersion& protocol) {
  for (const std::uint16_t part : {protocol.major, protocol.minor}) {
    out.push_back(static_cast<char>(part & 0xFF));
    out.push_back(static_cast<char>(part >> 8));
  }
}

// Reads and checks the protocol version, and cereal's endianness byte that follows it.
ProtocolVersion take_protocol(std::string_view& body) {
  if (body.size() < kProtocolBytes + 1) throw_malformed("too short to hold a protocol version");
  const auto u16_at = [&](std::size_t i) {
    return static_cast<std::uint16_t>(static_cast<std::uint8_t>(body[i]) |
                                      static_cast<std::uint8_t>(body[i + 1]) << 8);
  };
  const ProtocolVersion protocol{u16_at(0), u16_at(2)};
  check_protocol(protocol);
  if (static_cast<std::uint8_t>(body[kProtocolBytes]) > kLittleEndian) {
    throw_malformed("bad endianness byte");
  }
  body.remove_prefix(kProtocolBytes);
  return protocol;
}

template <class Message>
std::string encode_message(const Message& message, const Schema& schema) {
  std::string out;
  put_protocol(out, message.protocol);
  OutputBuffer buffer(out);
  std::ostream stream(&buffer);
  EncodeContext context(schema);
  EncodeArchive archive(context, stream,
                        cereal::PortableBinaryOutputArchive::Options::LittleEndian());
  archive(message);
  return out;
}

template <class Message>
Message decode_message(std::string_view body, const DecodeLimits& limits, const Schema& schema) {
  check_body_size(body, limits);
  Message message;
  message.protocol = take_protocol(body);
  InputBuffer buffer(body);
  std::istream stream(&buffer);
  DecodeContext context(schema, limits, buffer);
  try {
    DecodeArchive archive(context, stream);
    archive(message);
  } catch (const cereal::Exception& e) {
    throw_malformed(std::string("truncated or corrupt (") + e.what() + ")");
  }
  if (buffer.remaining() != 0) {
    throw_malformed(std::to_string(buffer.remaining()) + " bytes of garbage after the message");
  }
  return message;
}

}  // namespace

std::string encode(const SyncRequest& request, const Schema& schema) {
  return encode_message(request, schema);
}

std::string encode(const SyncResponse& response, const Schema& schema) {
  return encode_message(response, schema);
}

SyncRequest decode_request(std::string_view body, const DecodeLimits& limits,
                           const Schema& schema) {
  return decode_message<SyncRequest>(body, limits, schema);
}

SyncResponse decode_response(std::string_view body, const DecodeLimits& limits,
                             const Schema& schema) {
  return decode_message<SyncResponse>(body, limits, schema);
}

}  // namespace fieldsync::wire_binary
