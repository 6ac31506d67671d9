// A bare TCP connection to a server on 127.0.0.1, for what neither libcurl nor the client library
// will send: a request that never completes, a Content-Length that lies, a request from another
// loopback address (127.0.0.2: another "client" as the server's per-address limits see it). It
// sends exactly the bytes it is given and reads back what comes.
//
// Test support only. One thread at a time per object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace fieldsync::itest {

// An HTTP answer as read off the wire.
struct RawAnswer {
  int status = 0;    // 0: no status line arrived
  std::string head;  // the status line and headers
  std::string body;

  // The first header called `name` (as the server spells it), or empty.
  std::string header(std::string_view name) const {
    const std::string key = "\r\n" + std::string(name) + ": ";
    const std::size_t at = head.find(key);
    if (at == std::string::npos) return {};
    const std::size_t from = at + key.size();
    return head.substr(from, head.find("\r\n", from) - from);
  }
};

class RawConnection {
 public:
  RawConnection(std::uint16_t port, const std::string& from_address = "127.0.0.1")
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    try {
      sockaddr_in local = address(from_address, 0);
      check(::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local), "bind");
      sockaddr_in server = address("127.0.0.1", port);
      check(::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server), "connect");
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) throw std::system_error(errno, std::generic_category(), "send");
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
  }
  // A POST's head: request line and headers, the blank line included; the body is up to the caller.
  static std::string post_head(const std::string& path,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    return head + "\r\n";
  }
  void stop_sending() { ::shutdown(fd_, SHUT_WR); }

  // Reads until a whole answer (head and Content-Length bytes) has come, the server closes, or
  // `timeout` passes; an answer cut short has what arrived.
  RawAnswer read_answer(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!has_whole_answer() && read_some(until)) {
    }
    RawAnswer answer;
    const std::size_t end_of_head = received_.find("\r\n\r\n");
    answer.head = received_.substr(0, end_of_head);
    if (end_of_head != std::string::npos) answer.body = received_.substr(end_of_head + 4);
    if (answer.head.starts_with("HTTP/1.1 ") && answer.head.size() >= 12) {
      answer.status = std::stoi(answer.head.substr(9, 3));
    }
    received_.clear();
    return answer;
  }
  // True when the server closes the connection (or resets it) before `timeout` passes.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (read_some(until)) {
    }
    return closed_;
  }

 private:
  static sockaddr_in address(const std::string& ip, std::uint16_t port) {
    sockaddr_in result{};
    result.sin_family = AF_INET;
    result.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &result.sin_addr) != 1) {
      throw std::invalid_argument("not an IPv4 address: " + ip);
    }
    return result;
  }
  static void check(int result, const char* what) {
    if (result != 0) throw std::system_error(errno, std::generic_category(), what);
  }

  // Appends what arrives; false at the end of the stream (closed_ set) or at `until`.
  bool read_some(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd waiting{fd_, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
    if (got <= 0) {
      closed_ = true;  // an orderly close or a reset: either way the server let go
      return false;
    }
    received_.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  bool has_whole_answer() const {
    const std::size_t end_of_head = received_.find("\r\n\r\n");
    if (end_of_head == std::string::npos) return false;
    const std::size_t length_at = received_.find("\r\nContent-Length: ");
    if (length_at == std::string::npos || length_at > end_of_head) return true;
    const std::size_t length = std::stoul(received_.substr(length_at + 18));
    return received_.size() >= end_of_head + 4 + length;
  }

  int fd_;
  bool closed_ = false;
  std::string received_;
};

}  // namespace fieldsync::itest
