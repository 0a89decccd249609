// SMTP replies (RFC 5321 section 4.2) and EHLO capabilities, parsed without I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpcheck::smtp {

struct reply {
    int code = 0;                    ///< 220, 250, 535, ...
    std::string enhanced;            ///< RFC 3463 "5.7.8", or empty
    std::vector<std::string> lines;  ///< the text of each line, enhanced code removed

    /// "535 5.7.8 Authentication credentials invalid": the reply's first line as sent.
    std::string first_line() const;
    /// The text of every line joined by spaces, for reports.
    std::string text() const;
};

/// The bounds of SPEC 7 for what a server may send as one reply.
struct reply_limits {
    std::size_t max_line = 4096;
    std::size_t max_reply = 65536;
    std::size_t max_lines = 100;
};

/// Incremental: feed() whatever arrived, in pieces of any size, until it says done.
class reply_parser {
public:
    enum class status { need_more, done, error };

    explicit reply_parser(reply_limits limits = {}) : limits_(limits) {}

    /// Consumes bytes up to the end of one reply; `consumed` says how many, the rest belongs
    /// to what follows (pipelined replies).
    status feed(std::string_view data, std::size_t& consumed);

    /// The reply once feed() said done; taken, and the parser is ready for the next one.
    reply take();
    /// Why feed() said error.
    const std::string& error() const { return error_; }

private:
    status fail(std::string why);
    status finish_line(std::string_view line);

    reply_limits limits_;
    std::string partial_;  ///< the current line, while its end has not arrived
    std::size_t reply_size_ = 0;
    reply current_;
    std::string first_raw_;
    std::string error_;
    bool done_ = false;
};

/// What a server offers in its EHLO reply.
struct capabilities {
    bool pipelining = false;
    bool starttls = false;
    bool smtputf8 = false;
    bool eightbitmime = false;
    std::optional<std::uint64_t> size;       ///< SIZE's limit when given (0: no fixed limit)
    std::vector<std::string> auth;           ///< AUTH mechanisms, upper-case
    std::vector<std::string> extensions;     ///< every line after the greeting, as sent
    std::string name;                        ///< the server's own name: the first word of the reply

    bool offers_auth(std::string_view mechanism) const;
};

capabilities parse_ehlo(const reply& ehlo_reply);

}  // namespace smtpcheck::smtp
