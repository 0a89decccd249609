#include "smtpcheck/smtp/reply.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/printable_text.hpp"

namespace smtpcheck::smtp {
namespace {

// RFC 3463: class.subject.detail, with the class matching the reply's first digit.
std::size_t enhanced_code_length(std::string_view text, int code) {
    if (text.size() < 5 || text[0] - '0' != code / 100 || text[1] != '.') return 0;
    std::size_t i = 2, digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 3) ++i, ++digits;
    if (digits == 0 || i >= text.size() || text[i] != '.') return 0;
    ++i;
    digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 3) ++i, ++digits;
    if (digits == 0 || (i < text.size() && text[i] != ' ')) return 0;
    return i;
}


}  // namespace

std::string reply::first_line() const {
    std::string s = std::to_string(code);
    if (!enhanced.empty()) s += " " + enhanced;
    if (!lines.empty() && !lines.front().empty()) s += " " + lines.front();
    return s;
}

std::string reply::text() const {
    std::string s;
    for (const auto& l : lines) {
        if (l.empty()) continue;
        if (!s.empty()) s += ' ';
        s += l;
    }
    return s;
}

reply_parser::status reply_parser::fail(std::string why) {
    error_ = std::move(why);
    return status::error;
}

reply_parser::status reply_parser::feed(std::string_view data, std::size_t& consumed) {
    consumed = 0;
    if (!error_.empty()) return status::error;
    if (done_) return status::done;
    while (consumed < data.size()) {
        auto rest = data.substr(consumed);
        auto lf = rest.find('\n');
        std::size_t take = lf == std::string_view::npos ? rest.size() : lf + 1;
        if (partial_.size() + take > limits_.max_line + 2)
            return fail("a reply line is longer than " + std::to_string(limits_.max_line) + " octets");
        reply_size_ += take;
        if (reply_size_ > limits_.max_reply)
            return fail("a reply is longer than " + std::to_string(limits_.max_reply) + " octets");
        consumed += take;
        if (lf == std::string_view::npos) {
            partial_.append(rest);
            return status::need_more;
        }
        // A line that arrived whole is read where it is; only one split across reads is copied.
        std::string_view line = rest.substr(0, lf);  // without the LF; a bare LF is tolerated, as most clients do
        if (!partial_.empty()) {
            partial_.append(line);
            line = partial_;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto s = finish_line(line);
        partial_.clear();
        if (s != status::need_more) return s;
    }
    return status::need_more;
}

reply_parser::status reply_parser::finish_line(std::string_view line) {
    int code = 0;
    if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3, [](unsigned char c) { return std::isdigit(c); }))
        return fail("a reply line does not start with a three-digit code: '" + core::printable_text(line.substr(0, 40)) + "'");
    std::from_chars(line.data(), line.data() + 3, code);
    if (code < 200 || code > 599) return fail("reply code " + std::to_string(code) + " is outside 2xx-5xx");
    char sep = line.size() > 3 ? line[3] : ' ';
    if (sep != ' ' && sep != '-') return fail("a reply line has '" + core::printable_text(std::string_view(&sep, 1)) + "' after its code");
    if (current_.lines.empty()) {
        current_.code = code;
    } else if (code != current_.code) {
        return fail("a multi-line reply changes its code from " + std::to_string(current_.code) + " to " +
                    std::to_string(code));
    }
    if (current_.lines.size() >= limits_.max_lines)
        return fail("a reply has more than " + std::to_string(limits_.max_lines) + " lines");

    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    if (auto n = enhanced_code_length(text, code)) {
        if (current_.lines.empty()) current_.enhanced = std::string(text.substr(0, n));
        text.remove_prefix(std::min(text.size(), n + 1));
    }
    // What a server sent enters reports, transcripts, logs and XML here (SPEC 7): valid UTF-8
    // kept, a tab made a space, every invalid octet and control character made U+FFFD.
    current_.lines.push_back(core::printable_text(text));
    if (sep == '-') return status::need_more;
    done_ = true;
    return status::done;
}

reply reply_parser::take() {
    reply r = std::move(current_);
    current_ = {};
    reply_size_ = 0;
    done_ = false;
    return r;
}

bool capabilities::offers_auth(std::string_view mechanism) const {
    return std::find(auth.begin(), auth.end(), core::upper_ascii(mechanism)) != auth.end();
}

capabilities parse_ehlo(const reply& r) {
    capabilities caps;
    if (!r.lines.empty()) caps.name = r.lines.front().substr(0, r.lines.front().find(' '));
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
        const std::string& line = r.lines[i];
        caps.extensions.push_back(line);
        std::string_view rest = line;
        auto word = [&rest]() {
            while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
            auto end = rest.find_first_of(" =");
            auto w = rest.substr(0, end);
            rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
            return core::upper_ascii(w);
        };
        std::string keyword = word();
        if (keyword == "PIPELINING") caps.pipelining = true;
        else if (keyword == "STARTTLS") caps.starttls = true;
        else if (keyword == "SMTPUTF8") caps.smtputf8 = true;
        else if (keyword == "8BITMIME") caps.eightbitmime = true;
        else if (keyword == "SIZE") {
            std::uint64_t n = 0;
            auto v = word();
            if (std::from_chars(v.data(), v.data() + v.size(), n).ec == std::errc{} || v.empty()) caps.size = n;
        } else if (keyword == "AUTH") {  // also the old "AUTH=LOGIN PLAIN"
            for (auto m = word(); !m.empty(); m = word())
                if (std::find(caps.auth.begin(), caps.auth.end(), m) == caps.auth.end()) caps.auth.push_back(m);
        }
    }
    return caps;
}

}  // namespace smtpcheck::smtp
