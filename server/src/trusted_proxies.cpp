#include "smtpcheck/server/trusted_proxies.hpp"
#include "smtpcheck/core/ascii.hpp"


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

bool trusted_proxies::trusts(std::string_view peer) const {
    auto a = address_of(peer);
    return a && networks_.contains(*a);
}

std::optional<std::string> trusted_proxies::forwarded_client(const std::vector<std::string_view>& forwarded) const {
    std::optional<std::string> hop;  // the last trusted hop passed; none yet: the peer
    for (auto value = forwarded.rbegin(); value != forwarded.rend(); ++value) {
        std::string_view list = *value;
        while (!list.empty()) {
            auto comma = list.rfind(',');
            std::string_view entry = comma == std::string_view::npos ? list : list.substr(comma + 1);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
            if (core::trim(entry).empty()) continue;
            auto a = address_of(entry);
            if (!a) return hop;  // unreadable: the hop that added it is all we know
            hop = a->to_string();
            if (!networks_.contains(*a)) return hop;
        }
    }
    return hop;  // every hop trusted: the leftmost
}

}  // namespace smtpcheck::server
