// What to change when a test fails (issue 15, SPEC 3.8's Hint): rules kept as data in
// config/remedies.ini, embedded in the binary. A provider (Microsoft 365, Google, Amazon SES,
// SendGrid, Mailgun) is recognised from the host asked for, the greeting or the EHLO reply; a
// rule matches on the provider, the last reply's code, enhanced code and words, and the user
// name; the first rule that matches gives the hint, a catalog key that serialization puts into
// the caller's language (config/catalog/*.ini [hints]). Pure code: no I/O.
#pragma once

#include "smtpcheck/smtp/dns.hpp"
#include "smtpcheck/smtp/report.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::smtp {

struct provider_signature {
    std::string name;
    std::string display;                ///< "Microsoft 365"
    std::vector<std::string> names;     ///< fnmatch patterns for host names
    std::vector<std::string> greeting;  ///< fnmatch patterns for the greeting's first line
    std::vector<std::string> mx;        ///< fnmatch patterns for a domain's MX hosts
    std::string submission;             ///< the SmtpUri of its submission server, for an MX
};

struct remedy_rule {
    std::string name;
    std::string provider;              ///< empty: any server
    int code = 0;                      ///< 0: any
    std::string enhanced;              ///< empty: any
    std::vector<std::string> text;     ///< fnmatch patterns, any one; empty: any text
    std::string user_is_not;           ///< empty: any user
    std::string hint;                  ///< the catalog key
    std::string uri;                   ///< "starttls", "smtps" or empty: what {uri} suggests
    std::uint16_t port = 0;            ///< {uri}'s port; 0: the port tested
};

/// The registrable domain of a host name by the ICANN part of the Public Suffix List (libpsl):
/// "email-smtp.us-east-1.amazonaws.com" -> "amazonaws.com" (the list's private entries, such
/// as us-east-1.amazonaws.com, would make every such host its own domain). Lower-case; the
/// name itself when it has no public suffix (localhost); empty for an address literal or a
/// word without a dot that is not a name (a greeting's "SG").
std::string registrable_domain(std::string_view name);

/// The name a greeting gives: "220 mx.example.com ESMTP ..." -> "mx.example.com" (after an
/// enhanced code, when the greeting has one); empty when there is none.
std::string greeting_name(std::string_view greeting);

/// Whether other settings may fix this failure: the name did not resolve, nothing answered or
/// the deadline passed before the greeting, TLS failed or was missing, a port/TLS mismatch.
bool suggestion_wanted(const test_report& report);

/// A DNS answer may hold hundreds of records: the report keeps this many suggestions at most.
inline constexpr std::size_t max_suggestions = 6;

class remedies {
public:
    /// Reads rules in the format of config/remedies.ini; throws std::invalid_argument that
    /// names the section and the key at fault.
    explicit remedies(std::string_view ini);

    /// The rules of config/remedies.ini, read once.
    static const remedies& builtin();

    /// The provider recognised from the report's host, greeting and EHLO name; empty if none.
    std::string_view provider(const test_report& report) const;

    /// The first rule that matches a failed report, or null. `user` is the URI's user name.
    const remedy_rule* match(const test_report& report, std::string_view user) const;

    /// Sets the report's hint (and the URI it suggests) from the first matching rule, unless
    /// the test succeeded or already has a hint (a recognised port/TLS mismatch comes first).
    void apply(test_report& report, std::string_view user) const;

    /// Settings to try after a failure that other settings may fix (suggestion_wanted), best
    /// first: the port/TLS mismatch's URI; the From domain's SRV records (RFC 8314
    /// _submissions._tcp: smtps://, then RFC 6186 _submission._tcp: smtp+starttls://); the
    /// submission server of the provider its MX names. Never the host and port tested
    /// (`tested` is scheme://host:port), never one twice, never port 0; at most
    /// max_suggestions, three from each SRV name; nothing without an answer.
    std::vector<suggestion> suggest(const test_report& report, std::string_view tested, std::string_view domain,
                                    const dns_answer& submissions, const dns_answer& submission,
                                    const dns_answer& mx) const;

    const std::vector<provider_signature>& providers() const { return providers_; }
    const std::vector<remedy_rule>& rules() const { return rules_; }

private:
    std::vector<provider_signature> providers_;
    std::vector<remedy_rule> rules_;
};

}  // namespace smtpcheck::smtp
