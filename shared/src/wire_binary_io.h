// The byte level of the binary wire form (wire_binary.cpp holds the message layouts): streams over
// the caller's memory, the state both ends keep while coding one message, and the Writer and
// Reader that put integers, ids, strings and table references through a cereal portable binary
// archive.
//
// The Reader never trusts a length: every count and size is checked against the bytes that remain
// and against DecodeLimits before anything is allocated for it; cereal's own string and vector
// loaders, which resize first, are never used. Private to shared/; one message per archive, on one
// thread.
#pragma once

// cereal keeps one process-wide registry of class versions, read on every save: servers encode
// on many threads at once, so cereal must lock it.
#define CEREAL_THREAD_SAFE 1
// UserDataAdapter: the coding state travels with the archive into every nested load and save.
#define CEREAL_FUTURE_EXPERIMENTAL 1
#include <cereal/archives/adapters.hpp>
#include <cereal/archives/portable_binary.hpp>

#include <cstdint>
#include <streambuf>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fieldsync/error.h"
#include "fieldsync/wire_codec.h"
#include "varint.h"

namespace fieldsync::wire_binary {

// Lets an istream read the caller's bytes where they are, and say how many remain.
class InputBuffer final : public std::streambuf {
 public:
  explicit InputBuffer(std::string_view bytes) {
    // The get area is only ever read from; streambuf's interface just is not const.
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

// Lets an ostream append to a string.
class OutputBuffer final : public std::streambuf {
 public:
  explicit OutputBuffer(std::string& out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    out_.append(data, static_cast<std::size_t>(size));
    return size;
  }

 private:
  std::string& out_;
};

// What both ends remember while coding one message, so that what repeats costs a flag bit instead
// of its bytes. Encoder and decoder update it at the same points, in the same order.
struct CodingState {
  // The key of the previous run of changes.
  WriteGroupId write_group;
  std::string collection;
  const CollectionSpec* collection_spec = nullptr;
  RecordId record_id;
  CaseId case_id;
  std::string author;
  // The previous change.
  OriginId origin;
  std::uint64_t device_seq = 0;
  // The previous version written on its own or as a change's version.
  Hlc hlc;
};

// A per-message table (authors, origins) as the encoder sees it: each distinct entry is written
// once, where it first appears, and referred to by its index afterwards. Index 0 is the default
// entry, known to both ends without being written.
template <class Entry>
class EncodeTable {
 public:
  EncodeTable() { index_.emplace(Entry{}, 0); }
  struct Reference {
    std::uint64_t index;
    bool is_new;  // the entry follows the index
  };
  Reference reference(const Entry& entry) {
    const auto [it, inserted] = index_.try_emplace(entry, index_.size());
    return {it->second, inserted};
  }

 private:
  std::unordered_map<Entry, std::uint64_t> index_;
};

struct EncodeContext {
  explicit EncodeContext(const Schema& schema_in) : schema(schema_in) {}
  const Schema& schema;
  CodingState state;
  EncodeTable<std::string> authors;
  EncodeTable<OriginId> origins;
};

struct DecodeContext {
  DecodeContext(const Schema& schema_in, const DecodeLimits& limits_in, const InputBuffer& input_in)
      : schema(schema_in), limits(limits_in), input(input_in) {}
  const Schema& schema;
  const DecodeLimits& limits;
  const InputBuffer& input;
  CodingState state;
  std::vector<std::string> authors{std::string()};
  std::vector<OriginId> origins{OriginId()};
  std::size_t changes = 0;  // decoded so far, across all the message's lists
};

using EncodeArchive = cereal::UserDataAdapter<EncodeContext, cereal::PortableBinaryOutputArchive>;
using DecodeArchive = cereal::UserDataAdapter<DecodeContext, cereal::PortableBinaryInputArchive>;

[[noreturn]] inline void throw_malformed(std::string message) {
  throw Error(ErrorCode::kMalformed, "binary message: " + std::move(message));
}

class Writer {
 public:
  explicit Writer(cereal::PortableBinaryOutputArchive& archive)
      : archive_(archive), context_(cereal::get_user_data<EncodeContext>(archive)) {}

  const Schema& schema() const { return context_.schema; }
  CodingState& state() { return context_.state; }

  // A part with its own cereal class version.
  template <class Part>
  void versioned(const Part& part) {
    archive_(part);
  }

  void byte(std::uint8_t value) { archive_(value); }
  void varint(std::uint64_t value) {
    varint::put(value, [this](std::uint8_t b) { byte(b); });
  }
  void signed_varint(std::int64_t value) { varint(varint::zigzag(value)); }
  void float64(double value) { archive_(value); }
  void id(const Uuid& id) { archive_(cereal::binary_data(id.bytes().data(), id.bytes().size())); }
  // Text or bytes: a varint length, then the bytes.
  void string(std::string_view bytes) {
    varint(bytes.size());
    archive_(cereal::binary_data(bytes.data(), bytes.size()));
  }
  void author(const std::string& author) {
    if (reference(context_.authors, author)) string(author);
  }
  void origin(const OriginId& origin) {
    if (reference(context_.origins, origin)) id(origin);
  }

 private:
  // Writes the entry's index; true when the entry itself must follow.
  template <class Entry>
  bool reference(EncodeTable<Entry>& table, const Entry& entry) {
    const auto ref = table.reference(entry);
    varint(ref.index);
    return ref.is_new;
  }

  cereal::PortableBinaryOutputArchive& archive_;
  EncodeContext& context_;
};

class Reader {
 public:
  // `class_version`: the version the message gives the part being read (older parts hold less).
  Reader(cereal::PortableBinaryInputArchive& archive, std::uint32_t class_version)
      : archive_(archive),
        context_(cereal::get_user_data<DecodeContext>(archive)),
        class_version_(class_version) {}

  std::uint32_t class_version() const { return class_version_; }
  const Schema& schema() const { return context_.schema; }
  const DecodeLimits& limits() const { return context_.limits; }
  CodingState& state() { return context_.state; }
  DecodeContext& context() { return context_; }

  template <class Part>
  void versioned(Part& part) {
    archive_(part);
  }

  std::uint8_t byte() {
    if (context_.input.remaining() == 0) throw_malformed("the message ends early");
    std::uint8_t value;
    archive_(value);
    return value;
  }
  std::uint64_t varint() {
    const auto value = varint::get([this]() -> std::optional<std::uint8_t> { return byte(); });
    if (!value) throw_malformed("a number does not fit 64 bits");
    return *value;
  }
  std::int64_t signed_varint() { return varint::unzigzag(varint()); }
  double float64() {
    double value;
    archive_(value);
    return value;
  }
  Uuid id() {
    Uuid::Bytes bytes;
    archive_(cereal::binary_data(bytes.data(), bytes.size()));
    return Uuid(bytes);
  }
  // Bytes of any kind (a cursor, a bytes value), as a string or a Bytes.
  template <class Container = std::string>
  Container bytes(std::string_view what) {
    const std::size_t size = length(what);
    Container out(size, 0);
    archive_(cereal::binary_data(out.data(), size));
    return out;
  }
  // Text, which must be UTF-8.
  std::string text(std::string_view what) {
    std::string out = bytes(what);
    if (!is_valid_utf8(out)) throw_malformed(std::string(what) + " is not UTF-8");
    return out;
  }
  // The length of a list whose items take at least `min_item_bytes` each.
  std::size_t count(std::string_view what, std::size_t cap, std::size_t min_item_bytes) {
    const std::uint64_t count = varint();
    if (count > cap) {
      throw Error(ErrorCode::kTooLarge, "binary message: " + std::to_string(count) + " " +
                                            std::string(what) + ", over the limit of " +
                                            std::to_string(cap));
    }
    if (count > context_.input.remaining() / min_item_bytes) {
      throw_malformed(std::string(what) + ": claims " + std::to_string(count) + " items but only " +
                      std::to_string(context_.input.remaining()) + " bytes remain");
    }
    return static_cast<std::size_t>(count);
  }
  std::string author() {
    return reference(context_.authors, "author", [this] { return text("author"); });
  }
  OriginId origin() {
    return reference(context_.origins, "origin", [this] { return id(); });
  }

 private:
  std::size_t length(std::string_view what) {
    const std::uint64_t size = varint();
    if (size > context_.limits.max_string_bytes) {
      throw Error(ErrorCode::kTooLarge, "binary message: " + std::string(what) + " of " +
                                            std::to_string(size) + " bytes, over the limit of " +
                                            std::to_string(context_.limits.max_string_bytes));
    }
    if (size > context_.input.remaining()) {
      throw_malformed(std::string(what) + ": claims " + std::to_string(size) + " bytes but only " +
                      std::to_string(context_.input.remaining()) + " remain");
    }
    return static_cast<std::size_t>(size);
  }

  // Reads an index into `table`; the index one past the end introduces a new entry, read next.
  template <class Entry, class ReadEntry>
  Entry reference(std::vector<Entry>& table, std::string_view what, ReadEntry read_entry) {
    const std::uint64_t index = varint();
    if (index < table.size()) return table[index];
    if (index > table.size()) {
      throw_malformed(std::string(what) + " " + std::to_string(index) + " is not in the table of " +
                      std::to_string(table.size()));
    }
    if (table.size() >= context_.limits.max_list_items) {
      throw Error(ErrorCode::kTooLarge, "binary message: more distinct " + std::string(what) +
                                            "s than the limit of " +
                                            std::to_string(context_.limits.max_list_items));
    }
    table.push_back(read_entry());
    return table.back();
  }

  cereal::PortableBinaryInputArchive& archive_;
  DecodeContext& context_;
  const std::uint32_t class_version_;
};

}  // namespace fieldsync::wire_binary
