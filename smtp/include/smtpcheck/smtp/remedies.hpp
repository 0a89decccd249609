// What to change when a test fails (issue 15, SPEC 3.8's Hint): rules kept as data in
// config/remedies.ini, embedded in the binary. A provider (Microsoft 365, Google, Amazon SES,
// SendGrid, Mailgun) is recognised from the host asked for, the greeting or the EHLO reply; a
// rule matches on the provider, the last reply's code, enhanced code and words, and the user
// name; the first rule that matches gives the hint, a catalog key that serialization puts into
// the caller's language (config/catalog/*.ini [hints]). Pure code: no I/O.
#pragma once

#include "smtpcheck/smtp/report.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::smtp {

struct provider_signature {
    std::string name;
    std::vector<std::string> names;     ///< fnmatch patterns for host names
    std::vector<std::string> greeting;  ///< fnmatch patterns for the greeting's first line
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
};

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

    const std::vector<provider_signature>& providers() const { return providers_; }
    const std::vector<remedy_rule>& rules() const { return rules_; }

private:
    std::vector<provider_signature> providers_;
    std::vector<remedy_rule> rules_;
};

}  // namespace smtpcheck::smtp
