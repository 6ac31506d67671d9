// The desktop key wrapper: a random key in a file of its own that only its owner can read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "local_key_sealing.h"

namespace fieldsync::platform {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void throw_posix(int error_number, std::string_view what, const fs::path& path) {
  throw Error(ErrorDomain::kPosix, error_number,
              std::string(what) + " " + path.string() + ": " +
                  std::generic_category().message(error_number));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  bool is_open() const { return fd_ >= 0; }
  int get() const { return fd_; }
  // For a file just written: some file systems report write errors only at close.
  void close_or_throw(const fs::path& path) {
    if (::close(std::exchange(fd_, -1)) != 0) throw_posix(errno, "cannot close", path);
  }

 private:
  int fd_;
};

// errno tells why when the result is not open.
FileDescriptor open_file(const fs::path& path, int flags, mode_t mode = 0) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return FileDescriptor(fd);
}

void write_all(const FileDescriptor& file, std::span<const std::uint8_t> bytes,
               const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(file.get(), bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_posix(errno, "cannot write", path);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
}

// Reads up to out.size() bytes; fewer only at the end of the file.
std::size_t read_up_to(const FileDescriptor& file, std::span<std::uint8_t> out,
                       const fs::path& path) {
  std::size_t total = 0;
  while (total < out.size()) {
    const ssize_t got = ::read(file.get(), out.data() + total, out.size() - total);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_posix(errno, "cannot read", path);
    }
    if (got == 0) break;
    total += static_cast<std::size_t>(got);
  }
  return total;
}

void sync_file(const FileDescriptor& file, const fs::path& path) {
  if (::fsync(file.get()) != 0) throw_posix(errno, "cannot sync", path);
}

// A file's own fsync does not make its name durable; the directory's does.
void sync_parent_directory(const fs::path& file) {
  const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const FileDescriptor handle = open_file(directory, O_RDONLY | O_DIRECTORY);
  if (!handle.is_open()) throw_posix(errno, "cannot open directory", directory);
  sync_file(handle, directory);
}

// A uniquely named file beside `target`, removed when this goes out of scope.
class TemporarySibling {
 public:
  explicit TemporarySibling(const fs::path& target) : path_(target) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string suffix = ".new-";
    for (const std::uint8_t byte : crypto::random_bytes(8)) {
      suffix += kHex[byte >> 4];
      suffix += kHex[byte & 0x0F];
    }
    path_ += suffix;
  }
  ~TemporarySibling() { remove(); }
  TemporarySibling(const TemporarySibling&) = delete;
  TemporarySibling& operator=(const TemporarySibling&) = delete;

  const fs::path& path() const { return path_; }
  // Best effort: a leftover name is untidy, not unsafe (once linked it is the key file's inode,
  // which destroy() overwrites).
  void remove() {
    if (!removed_) ::unlink(path_.c_str());
    removed_ = true;
  }

 private:
  fs::path path_;
  bool removed_ = false;
};

}  // namespace

FileKeyWrapper::FileKeyWrapper(std::filesystem::path key_file) : key_file_(std::move(key_file)) {
  if (key_file_.empty()) throw Error(ErrorCode::kInvalidArgument, "the key file path is empty");
}

Bytes FileKeyWrapper::wrap(std::span<const std::uint8_t> secret) {
  std::lock_guard lock(mutex_);
  std::optional<crypto::SecretKey> key = read_key();
  if (!key) key = create_key();
  return seal_with_platform_key(*key, secret);
}

crypto::SecretBytes FileKeyWrapper::unwrap(std::span<const std::uint8_t> wrapped) {
  std::lock_guard lock(mutex_);
  const std::optional<crypto::SecretKey> key = read_key();
  if (!key) throw_missing_platform_key("in " + key_file_.string());
  return open_with_platform_key(*key, wrapped);
}

void FileKeyWrapper::destroy() {
  std::lock_guard lock(mutex_);
  {
    FileDescriptor file = open_file(key_file_, O_WRONLY | O_NOFOLLOW);
    if (!file.is_open()) {
      if (errno == ENOENT) return;
      throw_posix(errno, "cannot open", key_file_);
    }
    write_all(file, crypto::random_bytes(crypto::kKeySize), key_file_);
    sync_file(file, key_file_);
  }
  if (::unlink(key_file_.c_str()) != 0 && errno != ENOENT) {
    throw_posix(errno, "cannot delete", key_file_);
  }
  sync_parent_directory(key_file_);
}

std::optional<crypto::SecretKey> FileKeyWrapper::read_key() const {
  const FileDescriptor file = open_file(key_file_, O_RDONLY | O_NOFOLLOW);
  if (!file.is_open()) {
    if (errno == ENOENT) return std::nullopt;
    throw_posix(errno, "cannot open", key_file_);
  }
  // One byte more than a key, so that a file too long is caught as surely as one too short.
  crypto::SecretBytes contents(crypto::kKeySize + 1);
  if (read_up_to(file, contents.writable(), key_file_) != crypto::kKeySize) {
    throw Error(ErrorCode::kIntegrity, "the platform key file " + key_file_.string() +
                                           " is damaged: it does not hold one key");
  }
  return crypto::SecretKey(crypto::SecretBytes::copy_of(contents.view().first(crypto::kKeySize)));
}

// The key is written under a temporary name and then linked into place, so the key file
// appears whole or not at all: a crash mid-write cannot leave a short key behind. link()
// refuses to replace an existing file, so when another process creates the key at the same
// moment, both end up with the one that got there first.
crypto::SecretKey FileKeyWrapper::create_key() const {
  crypto::SecretKey key = crypto::SecretKey::random();
  TemporarySibling temporary(key_file_);
  {
    FileDescriptor file = open_file(temporary.path(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!file.is_open()) throw_posix(errno, "cannot create", temporary.path());
    // The umask may have narrowed the mode, and destroy() needs to write to the file.
    if (::fchmod(file.get(), 0600) != 0) throw_posix(errno, "cannot set the mode of", key_file_);
    write_all(file, key.bytes(), temporary.path());
    sync_file(file, temporary.path());
    file.close_or_throw(temporary.path());
  }
  if (::link(temporary.path().c_str(), key_file_.c_str()) != 0) {
    if (errno != EEXIST) throw_posix(errno, "cannot create", key_file_);
    std::optional<crypto::SecretKey> theirs = read_key();
    if (!theirs) throw Error(ErrorCode::kIo, "the platform key file vanished while being made");
    return std::move(*theirs);
  }
  temporary.remove();
  sync_parent_directory(key_file_);
  return key;
}

}  // namespace fieldsync::platform
