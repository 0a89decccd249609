#include "smtpcheck/server/trusted_proxies.hpp"
#include "smtpcheck/core/ascii.hpp"

#include <optional>
#include <stdexcept>

namespace smtpcheck::server {
namespace asio = boost::asio;

namespace {

asio::ip::address unmapped(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a;
}

// An X-Forwarded-For entry: an address, also as [v6]:port or v4:port, which some proxies send.
std::optional<asio::ip::address> address_of(std::string_view entry) {
    entry = core::trim(entry);
    if (entry.starts_with('[')) {
        auto close = entry.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        entry = entry.substr(1, close - 1);
    } else if (auto colon = entry.find(':'); colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
        entry = entry.substr(0, colon);  // v4:port
    }
    boost::system::error_code ec;
    auto a = asio::ip::make_address(std::string(entry), ec);
    if (ec) return std::nullopt;
    return unmapped(a);
}

}  // namespace

trusted_proxies::trusted_proxies(const std::vector<std::string>& networks) {
    for (const auto& n : networks) {
        boost::system::error_code ec;
        const bool v6 = n.find(':') != std::string::npos;
        const std::string cidr = n.find('/') == std::string::npos ? n + (v6 ? "/128" : "/32") : n;
        if (v6) {
            auto net = asio::ip::make_network_v6(cidr, ec);
            if (!ec) v6_.push_back(net);
        } else {
            auto net = asio::ip::make_network_v4(cidr, ec);
            if (!ec) v4_.push_back(net);
        }
        if (ec) throw std::invalid_argument("not a network or address: " + n);
    }
}

bool trusted_proxies::contains(const asio::ip::address& address) const {
    const auto a = unmapped(address);
    if (a.is_v4()) {
        for (const auto& n : v4_)
            if (asio::ip::network_v4(a.to_v4(), 32).is_subnet_of(n) || n.address() == a.to_v4()) return true;
        return false;
    }
    for (const auto& n : v6_)
        if (asio::ip::network_v6(a.to_v6(), 128).is_subnet_of(n) || n.address() == a.to_v6()) return true;
    return false;
}

std::string trusted_proxies::client_of(std::string_view peer, const std::vector<std::string_view>& forwarded) const {
    auto hop = address_of(peer);
    if (!hop || !contains(*hop)) return std::string(peer);
    for (auto value = forwarded.rbegin(); value != forwarded.rend(); ++value) {
        std::string_view list = *value;
        while (!list.empty()) {
            auto comma = list.rfind(',');
            std::string_view entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
            if (core::trim(entry).empty()) continue;
            auto a = address_of(entry);
            if (!a) return hop->to_string();  // unreadable: the hop that added it is all we know
            hop = a;
            if (!contains(*hop)) return hop->to_string();
        }
    }
    return hop->to_string();  // every hop trusted: the leftmost
}

}  // namespace smtpcheck::server
