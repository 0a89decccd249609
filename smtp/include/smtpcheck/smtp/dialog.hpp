// The SMTP dialog of SPEC 3.2 as a state machine without I/O (in the manner of Boost.MySQL):
// it says what to write, when to read a reply and when to start TLS; an engine does the
// I/O over any transport, and tests drive it with scripted replies.
#pragma once

#include "smtpcheck/smtp/report.hpp"
#include "smtpcheck/smtp/reply.hpp"
#include "smtpcheck/smtp/smtp_uri.hpp"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace smtpcheck::smtp {

struct dialog_settings {
    tls_mode mode = tls_mode::opportunistic;
    std::string ehlo_domain;  ///< what follows EHLO/HELO
    std::string from;         ///< a validated mailbox
    std::string recipient;
    std::optional<std::string> user;
    std::optional<std::string> password;
    std::string mechanism;  ///< empty: the first of PLAIN, LOGIN, CRAM-MD5 offered
    bool allow_plaintext_auth = false;
    bool send_message = true;
    std::string message;  ///< RFC 5322 text with CRLF line ends, dot-stuffed, without the final "."
};

/// What the engine does next.
struct dialog_step {
    enum class kind {
        read,        ///< read one reply, then call on_reply()
        write_read,  ///< write `bytes`, then read one reply and call on_reply()
        start_tls,   ///< run the TLS handshake, then call on_tls_started() or on_tls_failed()
        finish,      ///< write `bytes` if any (a courtesy QUIT), then close
    };
    kind what = kind::read;
    std::string bytes;
    std::vector<std::string> transcript;  ///< what was written, as a transcript may show it (secrets as ***)
};

class dialog {
public:
    explicit dialog(dialog_settings settings);

    /// The first step: with implicit TLS the engine has already done the handshake.
    dialog_step start(bool tls_active);
    dialog_step on_reply(const reply& r);
    dialog_step on_tls_started();
    dialog_step on_tls_failed();
    /// The peer closed, the transport failed, or a reply broke the protocol.
    void on_connection_lost() { fail(outcome_code::connection_lost, std::nullopt); }
    void on_protocol_error() { fail(outcome_code::protocol_error, std::nullopt); }

    bool finished() const { return finished_; }
    bool succeeded() const { return finished_ && outcome_ == outcome_code::none && accepted_; }
    outcome_code outcome() const { return outcome_; }
    smtpcheck::smtp::phase current_phase() const { return phase_; }
    const std::optional<reply>& last_reply() const { return last_reply_; }
    const std::optional<reply>& greeting() const { return greeting_; }
    const capabilities& server_capabilities() const { return caps_; }
    bool tls_active() const { return tls_active_; }
    const std::string& auth_mechanism() const { return mechanism_; }
    bool auth_attempted() const { return !mechanism_.empty(); }
    bool auth_succeeded() const { return auth_ok_; }
    /// Whether the EHLO before STARTTLS offered AUTH (false also when there was no STARTTLS).
    bool auth_offered_before_tls() const { return auth_before_tls_; }

private:
    enum class state {
        greeting, ehlo, helo, starttls, ehlo_after_tls, auth, mail, rcpt, data, message, rset, quit, done
    };

    /// Refuses (and fails the dialog) a line holding CR, LF or NUL instead of writing it.
    dialog_step write_read(std::string line, std::string shown = {});
    outcome_code unsafe_text_outcome() const;
    dialog_step fail(outcome_code code, std::optional<reply> r);
    dialog_step after_ehlo();
    dialog_step begin_auth();
    dialog_step on_auth_reply(const reply& r);
    dialog_step begin_transaction();
    dialog_step quit();

    dialog_settings s_;
    state state_ = state::greeting;
    smtpcheck::smtp::phase phase_ = smtpcheck::smtp::phase::greeting;
    outcome_code outcome_ = outcome_code::none;
    std::optional<reply> last_reply_;
    std::optional<reply> greeting_;
    capabilities caps_;
    bool tls_active_ = false;
    bool auth_before_tls_ = false;
    bool finished_ = false;
    bool accepted_ = false;
    std::string mechanism_;
    int auth_round_ = 0;
    bool auth_ok_ = false;
    /// Replies still due for commands written together (at most MAIL, RCPT, DATA). A fixed
    /// queue: a std::deque allocated 1 KiB for these three entries in every test in flight.
    class pending_replies {
    public:
        bool empty() const { return head_ == size_; }
        void pop_front() { head_ = static_cast<std::uint8_t>(head_ + (head_ < size_ ? 1 : 0)); }
        void clear() { head_ = size_ = 0; }
        void push_back(state s) {
            if (size_ < items_.size()) items_[size_++] = s;
        }
        pending_replies& operator=(std::initializer_list<state> states) {
            clear();
            for (auto s : states) push_back(s);
            return *this;
        }

    private:
        std::array<state, 3> items_{};
        std::uint8_t head_ = 0, size_ = 0;
    };
    pending_replies pipelined_;
};

namespace detail {
/// CRAM-MD5's answer: user, a space and HMAC-MD5(password, challenge) in lower-case hex.
std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge);
}  // namespace detail

}  // namespace smtpcheck::smtp
