#include "smtpcheck/smtp/destination_policy.hpp"

#include <algorithm>
#include <stdexcept>

namespace smtpcheck::smtp {
namespace {

namespace ip = boost::asio::ip;

struct range4 {
    const char* cidr;
    bool always;  ///< false: private, allowed with allow_private
};

// IANA special-purpose IPv4 space that a mail server on the Internet never lives in.
constexpr range4 ranges4[] = {
    {"0.0.0.0/8", true},        {"169.254.0.0/16", true},   {"224.0.0.0/4", true},
    {"240.0.0.0/4", true},      {"255.255.255.255/32", true}, {"192.0.0.0/24", true},
    {"192.0.2.0/24", true},     {"198.18.0.0/15", true},    {"198.51.100.0/24", true},
    {"203.0.113.0/24", true},   {"127.0.0.0/8", false},     {"10.0.0.0/8", false},
    {"172.16.0.0/12", false},   {"192.168.0.0/16", false},  {"100.64.0.0/10", false},
};

struct range6 {
    const char* cidr;
    bool always;
};

constexpr range6 ranges6[] = {
    {"::/128", true},      {"fe80::/10", true}, {"ff00::/8", true}, {"100::/64", true},
    {"2001:db8::/32", true}, {"::1/128", false}, {"fc00::/7", false},
    // After ::1, which they would otherwise hide: IPv4-compatible (deprecated), 6to4 and Teredo
    // (tunnels that lead to IPv4 space of their own choosing), site-local (deprecated, private
    // like fc00::/7), local-use NAT64 (a private translation; 64:ff9b::/96 is judged as the
    // IPv4 address it carries).
    {"::/96", true}, {"2002::/16", true}, {"2001::/32", true}, {"fec0::/10", false}, {"64:ff9b:1::/48", false},
};

// `n` is canonical (network_list and the built-in ranges keep them so).
template <class Network, class Address>
bool in(const Network& n, const Address& a) {
    return Network(a, n.prefix_length()).canonical() == n;
}

// The built-in ranges, parsed once (they were parsed from text on every check: 12k
// instructions of each test).
template <class Network, class Range, std::size_t N>
std::vector<std::pair<Network, bool>> parse_ranges(const Range (&ranges)[N]) {
    std::vector<std::pair<Network, bool>> out;
    for (const auto& r : ranges) {
        if constexpr (std::is_same_v<Network, ip::network_v4>)
            out.emplace_back(ip::make_network_v4(r.cidr).canonical(), r.always);
        else
            out.emplace_back(ip::make_network_v6(r.cidr).canonical(), r.always);
    }
    return out;
}

const std::vector<std::pair<ip::network_v4, bool>>& builtin(const ip::address_v4&) {
    static const auto ranges = parse_ranges<ip::network_v4>(ranges4);
    return ranges;
}

const std::vector<std::pair<ip::network_v6, bool>>& builtin(const ip::address_v6&) {
    static const auto ranges = parse_ranges<ip::network_v6>(ranges6);
    return ranges;
}


// Precedence: the deny list, then the allow list, then the built-in ranges.
template <class Address>
destination_policy::verdict judge(const Address& a, const network_list& deny, const network_list& allow,
                                  bool allow_private) {
    using verdict = destination_policy::verdict;
    if (deny.contains(a)) return verdict::denied_by_list;
    if (allow.contains(a)) return verdict::allowed;
    for (const auto& [n, always] : builtin(a))
        if (in(n, a)) return always ? verdict::always_denied : allow_private ? verdict::allowed : verdict::private_range;
    return verdict::allowed;
}

}  // namespace

network_list::network_list(const std::vector<std::string>& networks) {
    for (const auto& n : networks) {
        boost::system::error_code ec;
        const bool v6 = n.find(':') != std::string::npos;
        const std::string cidr = n.find('/') == std::string::npos ? n + (v6 ? "/128" : "/32") : n;
        if (v6) {
            auto net = ip::make_network_v6(cidr, ec);
            if (!ec) v6_.push_back(net.canonical());
        } else {
            auto net = ip::make_network_v4(cidr, ec);
            if (!ec) v4_.push_back(net.canonical());
        }
        if (ec) throw std::invalid_argument("not a CIDR network: " + n);
    }
}

bool network_list::contains(const ip::address_v4& a) const {
    return std::any_of(v4_.begin(), v4_.end(), [&](const auto& n) { return in(n, a); });
}

bool network_list::contains(const ip::address_v6& a) const {
    return std::any_of(v6_.begin(), v6_.end(), [&](const auto& n) { return in(n, a); });
}

destination_policy::destination_policy(const destination_rules& rules)
    : allow_private_(rules.allow_private), any_port_(rules.any_port), ports_(rules.allowed_ports),
      allow_(rules.allow), deny_(rules.deny) {}

bool destination_policy::port_allowed(std::uint16_t port) const {
    return any_port_ || std::find(ports_.begin(), ports_.end(), port) != ports_.end();
}

destination_policy::verdict destination_policy::check(const ip::address& address, std::uint16_t port) const {
    if (!port_allowed(port)) return verdict::port_not_allowed;

    ip::address a = address;
    if (a.is_v6()) {
        auto v6 = a.to_v6();
        if (v6.is_v4_mapped()) {
            a = ip::make_address_v4(ip::v4_mapped, v6);
        } else if (static const auto nat64 = ip::make_network_v6("64:ff9b::/96"); in(nat64, v6)) {
            auto b = v6.to_bytes();
            a = ip::address_v4(ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
        }
    }

    if (a.is_v4()) return judge(a.to_v4(), deny_, allow_, allow_private_);
    return judge(a.to_v6(), deny_, allow_, allow_private_);
}

std::string_view destination_policy::describe(verdict v) {
    switch (v) {
    case verdict::allowed: return "allowed";
    case verdict::port_not_allowed: return "port not in smtp.allowed_ports";
    case verdict::always_denied: return "special-purpose address";
    case verdict::private_range: return "loopback or private address";
    case verdict::denied_by_list: return "listed in smtp.deny_destinations";
    }
    return "";
}

}  // namespace smtpcheck::smtp
