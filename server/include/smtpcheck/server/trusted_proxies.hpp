// The client's address behind a reverse proxy (issue 14). nginx or HAProxy in front of several
// instances connect from their own address, so the failed-login limit per address would count
// every client as one (one guesser would lock everyone out) and logs would name the proxy.
// When a connection comes from server.trusted_proxies, the client's address is read from
// X-Forwarded-For, walking from its right end (the entry the nearest proxy added) past every
// trusted address: entries left of the first untrusted one are what the client itself sent
// and are never believed. Without trusted proxies the header is ignored.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::server {

class trusted_proxies {
public:
    /// CIDR networks or single addresses; throws std::invalid_argument naming one that does
    /// not parse.
    explicit trusted_proxies(const std::vector<std::string>& networks = {});
    bool empty() const { return v4_.empty() && v6_.empty(); }
    /// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    bool contains(const boost::asio::ip::address& a) const;

    /// The client's address: `peer` itself, unless `peer` is trusted and `forwarded` (every
    /// X-Forwarded-For value, in order) names one. An entry that is not an address ends the
    /// walk: the address is then that of the trusted hop that added it.
    std::string client_of(std::string_view peer, const std::vector<std::string_view>& forwarded) const;

private:
    std::vector<boost::asio::ip::network_v4> v4_;
    std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace smtpcheck::server
