// The client's address behind a reverse proxy (issue 14). nginx or HAProxy in front of several
// instances connect from their own address, so the failed-login limit per address would count
// every client as one (one guesser would lock everyone out) and logs would name the proxy.
// When a connection comes from server.trusted_proxies, the client's address is read from
// X-Forwarded-For, walking from its right end (the entry the nearest proxy added) past every
// trusted address: entries left of the first untrusted one are what the client itself sent
// and are never believed. Without trusted proxies the header is ignored.
#pragma once

#include "smtpcheck/smtp/destination_policy.hpp"

#include <optional>

#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::server {

class trusted_proxies {
public:
    /// CIDR networks or single addresses; throws std::invalid_argument naming one that does
    /// not parse.
    explicit trusted_proxies(const std::vector<std::string>& networks = {}) : networks_(networks) {}
    bool empty() const { return networks_.empty(); }
    /// Whether a connection's peer (its address as text) is a trusted proxy: asked once per
    /// connection. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    bool trusts(std::string_view peer) const;

    /// Behind a trusted peer: the client that `forwarded` (every X-Forwarded-For value, in
    /// order) names; nullopt when it names none, and the peer is the client. An entry that is
    /// not an address ends the walk: the client is then the trusted hop that added it.
    std::optional<std::string> forwarded_client(const std::vector<std::string_view>& forwarded) const;

    /// Both: the client's address as a request from `peer` with these headers gives it.
    std::string client_of(std::string_view peer, const std::vector<std::string_view>& forwarded) const {
        if (!trusts(peer)) return std::string(peer);
        return forwarded_client(forwarded).value_or(std::string(peer));
    }

private:
    smtp::network_list networks_;
};

}  // namespace smtpcheck::server
