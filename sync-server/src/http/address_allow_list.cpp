// AddressAllowList: parsing entries and matching peers. See address_allow_list.h.
#include "http/address_allow_list.h"

#include <optional>

#include <boost/asio/ip/address.hpp>

#include "fieldsync/error.h"

namespace fieldsync::server::http {
namespace {

namespace ip = boost::asio::ip;

std::optional<ip::address> parse_address(std::string_view text) {
  boost::system::error_code error;
  ip::address address = ip::make_address(std::string(text), error);
  if (error) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

void AddressAllowList::add(std::string_view entry) {
  const std::size_t slash = entry.find('/');
  const auto address = parse_address(entry.substr(0, slash));
  int prefix = -1;
  if (address && slash != std::string_view::npos) {
    const std::string_view digits = entry.substr(slash + 1);
    prefix = digits.empty() || digits.size() > 3 ||
                     digits.find_first_not_of("0123456789") != std::string_view::npos
                 ? -2
                 : std::stoi(std::string(digits));
  }
  const int widest = address && address->is_v4() ? 32 : 128;
  if (!address || prefix == -2 || prefix > widest) {
    throw Error(ErrorCode::kInvalidArgument,
                "\"" + std::string(entry) +
                    "\" is not an IP address or network (127.0.0.1, 10.0.0.0/8, ::1, fd00::/8)");
  }
  const auto bits = static_cast<unsigned short>(prefix < 0 ? widest : prefix);
  if (address->is_v4()) {
    v4_.push_back(ip::make_network_v4(address->to_v4(), bits).canonical());
  } else {
    v6_.push_back(ip::make_network_v6(address->to_v6(), bits).canonical());
  }
}

bool AddressAllowList::allows(std::string_view text) const {
  const auto address = parse_address(text);
  if (!address) return false;
  if (address->is_v4()) {
    const ip::network_v4 host(address->to_v4(), 32);
    for (const ip::network_v4& network : v4_) {
      if (host == network || host.is_subnet_of(network)) return true;
    }
    return false;
  }
  const ip::network_v6 host(address->to_v6(), 128);
  for (const ip::network_v6& network : v6_) {
    if (host == network || host.is_subnet_of(network)) return true;
  }
  return false;
}

}  // namespace fieldsync::server::http
