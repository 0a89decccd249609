#include "smtpcheck/smtp/smtp_uri.hpp"

#include "smtpcheck/core/ascii.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <idn2.h>

#include <algorithm>
#include <utility>
#include <cctype>

namespace smtpcheck::smtp {
namespace {

namespace urls = boost::urls;



// A URI typed with a non-ASCII host name (smtp://smtp.bücher.de) is an IRI: its non-ASCII
// octets are percent-encoded first (RFC 3987 section 3.1) so Boost.URL can parse it.
std::string iri_to_uri(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

invalid_input invalid(std::string reason) { return invalid_input{std::move(reason)}; }

bool has_control_or_space(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x21 || c == 0x7f; });
}

// RFC 5321 Domain: dot-separated labels of letters, digits and '-', not starting or ending
// with '-', at most 63 octets each, 255 in all.
bool is_ascii_domain(std::string_view d) {
    if (d.empty() || d.size() > 255) return false;
    std::size_t label = 0;
    char prev = '.';
    for (char c : d) {
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
            if (label == 0 && c == '-') return false;
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = c;
    }
    return label > 0 && prev != '-';
}

// RFC 5322 atext, plus UTF-8 octets for RFC 6531.
bool is_atext(unsigned char c) {
    return std::isalnum(c) || c >= 0x80 || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
                                                  std::string_view::npos;
}

bool is_dot_string(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.') return false;
        } else if (!is_atext(c)) {
            return false;
        }
    }
    return true;
}

// RFC 5321 Quoted-string: qtextSMTP (printable ASCII but '"' and '\') or quoted-pairSMTP.
bool is_quoted_string(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
        unsigned char c = s[i];
        if (c == '\\') {
            if (i + 2 >= s.size()) return false;
            unsigned char n = s[++i];
            if (n < 0x20 || n > 0x7e) return false;
        } else if (c == '"' || c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

// RFC 5321 4.1.3: an address literal's text is an IPv4 dotted quad or IPv6 hex and colons
// (with an embedded IPv4 tail), nothing else. Asio's make_address also takes a "%zone" suffix
// of any text, which let CR LF through into EHLO and MAIL FROM (issue 11).
bool is_address_literal(std::string_view inner, bool v6) {
    if (inner.empty() || inner.size() > 45) return false;
    for (unsigned char c : inner)
        if (!std::isxdigit(c) && c != '.' && c != ':') return false;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(inner, ec);
    return !ec && addr.is_v6() == v6;
}

}  // namespace

std::optional<std::string> to_ascii_host(std::string_view utf8_name) {
    std::string name(utf8_name);
    if (name.empty() || name.find('\0') != std::string::npos) return std::nullopt;
    bool ascii = std::all_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x80; });
    if (ascii) {
        name = core::lower_ascii(name);
        if (!name.empty() && name.back() == '.') name.pop_back();  // the root label
        return is_ascii_domain(name) ? std::optional(name) : std::nullopt;
    }
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) return std::nullopt;
    std::string result(out);
    idn2_free(out);
    return is_ascii_domain(result) ? std::optional(result) : std::nullopt;
}

std::string endpoint_uri(tls_mode mode, std::string_view host, std::uint16_t port) {
    std::string s = mode == tls_mode::implicit ? "smtps://" : mode == tls_mode::starttls ? "smtp+starttls://" : "smtp://";
    if (host.find(':') != std::string_view::npos) s.append("[").append(host).append("]");
    else s.append(host);
    return s + ":" + std::to_string(port);
}

std::string smtp_uri::redacted() const {
    std::string s = mode == tls_mode::implicit ? "smtps://" : mode == tls_mode::starttls ? "smtp+starttls://" : "smtp://";
    if (user) s += *user + (mechanism.empty() ? "" : ";AUTH=" + mechanism) + "@";
    s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    s += ":" + std::to_string(port);
    return s;
}

namespace {
// The raw text after "://" up to the first '/', '?' or '#' (the authority), and what follows it.
std::pair<std::string_view, std::string_view> authority_and_rest(std::string_view text) {
    auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return {};
    auto rest = text.substr(scheme_end + 3);
    auto end = std::min(rest.find_first_of("/?#"), rest.size());
    return {rest.substr(0, end), rest.substr(end)};
}

std::variant<smtp_uri, invalid_input> parse_smtp_uri_text(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    if (text.empty()) return invalid("SmtpUri is empty");
    if (text.size() > 2048) return invalid("SmtpUri is longer than 2048 characters");
    if (has_control_or_space(text))
        return invalid("SmtpUri contains spaces or control characters");

    // A user name that is an address, or a password with an '@', must be percent-encoded:
    // unencoded, the URI names another host (Boost.URL reads jane@example.com@smtp.example.com as
    // the host example.com).
    if (auto authority = authority_and_rest(text).first; std::count(authority.begin(), authority.end(), '@') > 1)
        return invalid("SmtpUri has more than one '@': write an '@' in the user name or password as %40, "
                       "such as smtp://jane%40example.com@smtp.example.com");
    std::string uri_text = iri_to_uri(text);
    auto parsed = urls::parse_uri(uri_text);
    if (!parsed) return invalid("SmtpUri is not a URI of the form smtp://[user[:password]@]host[:port]");
    const urls::url_view& u = *parsed;

    smtp_uri out;
    if (core::iequals_ascii(u.scheme(), "smtp")) {
        out.mode = tls_mode::opportunistic;
        out.port = 25;
    } else if (core::iequals_ascii(u.scheme(), "smtp+starttls")) {
        out.mode = tls_mode::starttls;
        out.port = 587;
    } else if (core::iequals_ascii(u.scheme(), "smtps")) {
        out.mode = tls_mode::implicit;
        out.port = 465;
    } else {
        return invalid("the scheme '" + std::string(u.scheme()) + "' is not smtp, smtp+starttls or smtps");
    }
    if (u.has_query()) return invalid("SmtpUri has a query ('?'), which is not allowed");
    if (u.has_fragment()) return invalid("SmtpUri has a fragment ('#'), which is not allowed");
    if (!u.has_authority()) return invalid("SmtpUri has no host");

    if (u.has_userinfo()) {
        // libcurl's syntax: user;AUTH=MECH:password, the ;AUTH= part in the encoded user.
        std::string_view enc_user = u.encoded_user();
        std::string_view mech;
        for (std::size_t i = 0; i + 6 <= enc_user.size(); ++i) {
            if (core::iequals_ascii(enc_user.substr(i, 6), ";AUTH=")) {
                mech = enc_user.substr(i + 6);
                enc_user = enc_user.substr(0, i);
                break;
            }
        }
        auto user = urls::make_pct_string_view(enc_user);
        if (!user) return invalid("the user name in SmtpUri is not valid percent-encoding");
        out.user = user->decode();
        if (out.user->empty()) return invalid("SmtpUri has an empty user name");
        if (!mech.empty()) {
            out.mechanism = core::upper_ascii(mech);
            if (out.mechanism != "PLAIN" && out.mechanism != "LOGIN" && out.mechanism != "CRAM-MD5" &&
                out.mechanism != "XOAUTH2")
                return invalid("the AUTH mechanism must be PLAIN, LOGIN, CRAM-MD5 or XOAUTH2");
        }
        if (u.has_password()) out.password = u.password();
        if (core::has_line_break_or_nul(*out.user) || (out.password && core::has_line_break_or_nul(*out.password)))
            return invalid("the user name or password in SmtpUri contains CR, LF or NUL");
    }

    switch (u.host_type()) {
    case urls::host_type::ipv4:
        out.host = u.host_ipv4_address().to_string();
        out.host_is_address = true;
        break;
    case urls::host_type::ipv6:
        out.host = u.host_ipv6_address().to_string();
        out.host_is_address = true;
        break;
    case urls::host_type::name: {
        auto ascii = to_ascii_host(u.host_name());
        if (!ascii) return invalid("'" + u.host_name() + "' is not a valid host name");
        out.host = *ascii;
        break;
    }
    default: return invalid("SmtpUri has no usable host");
    }

    if (u.has_port()) {
        if (u.port().empty()) return invalid("SmtpUri has an empty port");
        auto n = u.port_number();
        if (n == 0) return invalid("the port in SmtpUri must be from 1 to 65535");
        out.port = n;
    }

    std::string_view path = u.encoded_path();
    if (!path.empty() && path != "/") {
        auto ehlo = urls::make_pct_string_view(path.substr(1));
        std::string name = ehlo ? ehlo->decode() : std::string();
        if (!ehlo || name.find('/') != std::string::npos)
            return invalid("the path of SmtpUri must be one EHLO name, such as /mail.example.com");
        auto ascii = to_ascii_host(name);
        if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
            auto inner = std::string_view(name).substr(1, name.size() - 2);
            bool v6 = inner.starts_with("IPv6:");
            if (v6) inner.remove_prefix(5);
            if (!is_address_literal(inner, v6)) return invalid("the EHLO address literal in SmtpUri is not an address");
            out.ehlo_domain = name;
        } else if (ascii) {
            out.ehlo_domain = *ascii;
        } else {
            return invalid("the EHLO name in SmtpUri is not a domain name");
        }
    }
    return out;
}

}  // namespace

std::variant<smtp_uri, invalid_input> parse_smtp_uri(std::string_view text) {
    auto r = parse_smtp_uri_text(text);
    // An '@' after the authority's end: perhaps a '/', '?' or '#' in a password, unencoded, ended
    // the authority early (smtps://user:pa/ss@host reads as the host "user" with the port "pa").
    if (auto* e = std::get_if<invalid_input>(&r); e && authority_and_rest(text).second.find('@') != std::string_view::npos)
        e->reason += " (in a user name or password, write '/' as %2F, '?' as %3F and '#' as %23)";
    return r;
}

std::variant<std::string, invalid_input> parse_mailbox(std::string_view text) {
    if (text.empty()) return invalid("From is empty");
    if (core::has_line_break_or_nul(text))
        return invalid("From contains CR, LF or NUL");
    if (text.size() > 254) return invalid("From is longer than 254 characters");
    auto at = text.rfind('@');
    if (at == std::string_view::npos) return invalid("From has no '@'");
    std::string_view local = text.substr(0, at), domain = text.substr(at + 1);
    if (local.empty() || local.size() > 64) return invalid("the local part of From must be 1 to 64 characters");
    if (!is_dot_string(local) && !is_quoted_string(local)) return invalid("From is not one mailbox such as name@example.com");

    if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
        auto inner = domain.substr(1, domain.size() - 2);
        bool v6 = inner.starts_with("IPv6:");
        if (v6) inner.remove_prefix(5);
        if (!is_address_literal(inner, v6)) return invalid("the address literal in From is not an address");
        return std::string(text);
    }
    auto ascii = to_ascii_host(domain);
    if (!ascii || ascii->find('.') == std::string::npos)
        return invalid("the domain of From is not a domain name such as example.com");
    return std::string(local) + "@" + *ascii;
}

}  // namespace smtpcheck::smtp
