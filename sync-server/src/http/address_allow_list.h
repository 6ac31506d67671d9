// Client addresses allowed to do something without a token (GET /metrics from a Prometheus
// server, say): single addresses and CIDR networks, IPv4 and IPv6. An IPv4 client that reaches
// an IPv6 socket appears as ::ffff:a.b.c.d and is matched as a.b.c.d.
//
// The address is the TCP peer's: behind a proxy that is the proxy, which then speaks for every
// client behind it.
//
// Thread-safety: add() entries before sharing; allows() is then safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

namespace fieldsync::server::http {

class AddressAllowList {
 public:
  // "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8". Throws Error(kInvalidArgument) otherwise.
  void add(std::string_view entry);

  // False for anything that is not an IP address.
  bool allows(std::string_view address) const;
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace fieldsync::server::http
