// Where an SMTP test may connect (SPEC 3.6), decided on resolved addresses before connecting.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::smtp {

/// A list of CIDR networks (a single address stands for its /32 or /128), IPv4 and IPv6 kept
/// apart: smtp.allow_destinations and deny_destinations here, server.trusted_proxies too.
class network_list {
public:
    /// Throws std::invalid_argument naming an entry that does not parse.
    explicit network_list(const std::vector<std::string>& networks = {});
    bool empty() const { return v4_.empty() && v6_.empty(); }
    bool contains(const boost::asio::ip::address_v4& a) const;
    bool contains(const boost::asio::ip::address_v6& a) const;
    /// As written: IPv4-mapped IPv6 addresses are not unwrapped here.
    bool contains(const boost::asio::ip::address& a) const { return a.is_v4() ? contains(a.to_v4()) : contains(a.to_v6()); }

private:
    std::vector<boost::asio::ip::network_v4> v4_;
    std::vector<boost::asio::ip::network_v6> v6_;
};

struct destination_rules {
    bool allow_private = false;  ///< loopback and private ranges
    bool any_port = false;
    std::vector<std::uint16_t> allowed_ports{25, 465, 587, 2525};
    std::vector<std::string> allow;  ///< CIDR; overrides the built-in ranges
    std::vector<std::string> deny;   ///< CIDR; overrides everything else
};

class destination_policy {
public:
    enum class verdict {
        allowed,
        port_not_allowed,
        always_denied,   ///< unspecified, link-local, multicast, broadcast, reserved
        private_range,   ///< loopback or private, and allow_private is off
        denied_by_list,  ///< smtp.deny_destinations
    };

    /// Throws std::invalid_argument naming a CIDR that does not parse.
    explicit destination_policy(const destination_rules& rules);

    bool port_allowed(std::uint16_t port) const;
    /// IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged as the
    /// IPv4 address they carry.
    verdict check(const boost::asio::ip::address& address, std::uint16_t port) const;

    static std::string_view describe(verdict v);

private:
    bool allow_private_;
    bool any_port_;
    std::vector<std::uint16_t> ports_;
    network_list allow_, deny_;
};

}  // namespace smtpcheck::smtp
