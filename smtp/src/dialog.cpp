#include "smtpcheck/smtp/dialog.hpp"
#include "smtpcheck/core/ascii.hpp"
#include "smtpcheck/core/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace smtpcheck::smtp {

namespace detail {

std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t mac_len = 0;
    EVP_Q_mac(nullptr, "HMAC", nullptr, "MD5", nullptr, password.data(), password.size(),
              reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size(), mac, sizeof mac, &mac_len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(user);
    out += ' ';
    for (std::size_t i = 0; i < mac_len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

}  // namespace detail

namespace {
bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

// Checked where a command is written, whatever validated its parts before: a CR, LF or NUL in
// an EHLO name, a mailbox or a user name would end the command and start one of the caller's.
bool safe_on_wire(std::string_view line) { return !core::has_line_break_or_nul(line); }
}  // namespace

dialog::dialog(dialog_settings settings) : s_(std::move(settings)) {}

dialog_step dialog::start(bool tls_active) {
    tls_active_ = tls_active;
    state_ = state::greeting;
    phase_ = phase::greeting;
    return {dialog_step::kind::read, {}, {}};
}

outcome_code dialog::unsafe_text_outcome() const {
    switch (state_) {
    case state::mail: return outcome_code::from_invalid;
    case state::ehlo:
    case state::helo:
    case state::ehlo_after_tls:
    case state::auth: return outcome_code::uri_invalid;
    default: return outcome_code::protocol_error;
    }
}

dialog_step dialog::write_read(std::string line, std::string shown) {
    if (!safe_on_wire(line)) return fail(unsafe_text_outcome(), std::nullopt);
    dialog_step step{dialog_step::kind::write_read, line + "\r\n", {}};
    step.transcript.push_back(shown.empty() ? std::move(line) : std::move(shown));
    return step;
}

dialog_step dialog::fail(outcome_code code, std::optional<reply> r) {
    // Whatever breaks after the message was accepted no longer changes the outcome.
    if (accepted_ && state_ == state::quit) {
        finished_ = true;
        state_ = state::done;
        return {dialog_step::kind::finish, {}, {}};
    }
    outcome_ = code;
    last_reply_ = std::move(r);
    finished_ = true;
    state_ = state::done;
    if (code == outcome_code::connection_lost || code == outcome_code::protocol_error || code == outcome_code::tls_failed)
        return {dialog_step::kind::finish, {}, {}};
    return {dialog_step::kind::finish, "QUIT\r\n", {"QUIT"}};
}

dialog_step dialog::on_reply(const reply& r) {
    switch (state_) {
    case state::greeting:
        greeting_ = r;
        if (r.code == 220) {
            state_ = state::ehlo;
            phase_ = phase::ehlo;
            return write_read("EHLO " + s_.ehlo_domain);
        }
        return fail(r.code >= 400 ? outcome_code::greeting_rejected : outcome_code::protocol_error, r);

    case state::ehlo:
    case state::ehlo_after_tls:
    case state::helo:
        if (r.code == 250) {
            caps_ = state_ == state::helo ? capabilities{} : parse_ehlo(r);
            return after_ehlo();
        }
        if (state_ == state::ehlo && r.code >= 500) {  // an old server: try HELO
            state_ = state::helo;
            return write_read("HELO " + s_.ehlo_domain);
        }
        return fail(outcome_code::greeting_rejected, r);

    case state::starttls:
        if (r.code == 220) {
            auth_before_tls_ = !caps_.auth.empty();
            return {dialog_step::kind::start_tls, {}, {}};
        }
        if (s_.mode == tls_mode::starttls) return fail(outcome_code::tls_unavailable, r);
        caps_.starttls = false;  // opportunistic: go on in plaintext
        return after_ehlo();

    case state::auth: return on_auth_reply(r);

    case state::mail:
        if (r.code != 250) return fail(outcome_code::sender_rejected, r);
        if (!pipelined_.empty()) {
            pipelined_.pop_front();
            state_ = state::rcpt;
            phase_ = phase::rcpt;
            return {dialog_step::kind::read, {}, {}};
        }
        state_ = state::rcpt;
        phase_ = phase::rcpt;
        return write_read("RCPT TO:<" + s_.recipient + ">");

    case state::rcpt:
        if (r.code != 250 && r.code != 251) return fail(outcome_code::recipient_rejected, r);
        if (!s_.send_message) {
            accepted_ = true;
            pipelined_.clear();
            state_ = state::rset;
            phase_ = phase::quit;
            return write_read("RSET");
        }
        state_ = state::data;
        phase_ = phase::data;
        if (!pipelined_.empty()) {
            pipelined_.pop_front();
            return {dialog_step::kind::read, {}, {}};
        }
        return write_read("DATA");

    case state::data: {
        pipelined_.clear();
        if (r.code != 354) return fail(outcome_code::message_rejected, r);
        state_ = state::message;
        // The message goes into the step (it is sent once) and is released here: no second
        // copy while the server takes its time over the final reply.
        const auto octets = s_.message.size();
        dialog_step step{dialog_step::kind::write_read, {}, {}};
        step.bytes.reserve(octets + 3);
        step.bytes.append(s_.message).append(".\r\n");
        s_.message = std::string();
        step.transcript.push_back("(message, " + std::to_string(octets) + " octets)");
        step.transcript.push_back(".");
        return step;
    }

    case state::message:
        if (r.code != 250) return fail(outcome_code::message_rejected, r);
        accepted_ = true;
        return quit();

    case state::rset: return quit();

    case state::quit:
        finished_ = true;
        state_ = state::done;
        return {dialog_step::kind::finish, {}, {}};

    case state::done: break;
    }
    return {dialog_step::kind::finish, {}, {}};
}

dialog_step dialog::on_tls_started() {
    tls_active_ = true;
    state_ = state::ehlo_after_tls;
    phase_ = phase::ehlo;
    return write_read("EHLO " + s_.ehlo_domain);
}

dialog_step dialog::on_tls_failed() { return fail(outcome_code::tls_failed, std::nullopt); }

dialog_step dialog::after_ehlo() {
    if (!tls_active_ && s_.mode != tls_mode::implicit) {
        if (caps_.starttls && state_ != state::starttls) {
            state_ = state::starttls;
            phase_ = phase::starttls;
            return write_read("STARTTLS");
        }
        if (s_.mode == tls_mode::starttls) {
            phase_ = phase::starttls;
            return fail(outcome_code::tls_unavailable, std::nullopt);
        }
    }
    return begin_auth();
}

dialog_step dialog::begin_auth() {
    if (!s_.user) return begin_transaction();
    phase_ = phase::auth;
    if (!tls_active_ && !s_.allow_plaintext_auth) return fail(outcome_code::auth_insecure, std::nullopt);
    if (!s_.mechanism.empty()) {
        if (!caps_.offers_auth(s_.mechanism)) return fail(outcome_code::auth_unavailable, std::nullopt);
        mechanism_ = s_.mechanism;
    } else {
        for (const char* m : {"PLAIN", "LOGIN", "CRAM-MD5"})
            if (caps_.offers_auth(m)) {
                mechanism_ = m;
                break;
            }
        if (mechanism_.empty()) return fail(outcome_code::auth_unavailable, std::nullopt);
    }
    state_ = state::auth;
    auth_round_ = 0;
    const std::string& user = *s_.user;
    const std::string password = s_.password.value_or("");
    if (mechanism_ == "PLAIN")
        return write_read("AUTH PLAIN " + core::base64_encode(std::string(1, '\0') + user + '\0' + password),
                          "AUTH PLAIN ***");
    if (mechanism_ == "XOAUTH2")
        return write_read("AUTH XOAUTH2 " + core::base64_encode("user=" + user + "\x01" "auth=Bearer " + password +
                                                                  "\x01\x01"),
                          "AUTH XOAUTH2 ***");
    return write_read("AUTH " + mechanism_);
}

dialog_step dialog::on_auth_reply(const reply& r) {
    if (r.code == 235) {
        auth_ok_ = true;
        return begin_transaction();
    }
    if (r.code != 334) return fail(r.code >= 400 ? outcome_code::auth_failed : outcome_code::protocol_error, r);

    ++auth_round_;
    const std::string& user = *s_.user;
    const std::string password = s_.password.value_or("");
    if (mechanism_ == "LOGIN" && auth_round_ <= 2)
        return write_read(core::base64_encode(auth_round_ == 1 ? user : password), "***");
    if (mechanism_ == "CRAM-MD5" && auth_round_ == 1) {
        auto challenge = core::base64_decode(r.lines.empty() ? "" : r.lines.front());
        if (!challenge || challenge->empty()) return fail(outcome_code::protocol_error, r);
        return write_read(core::base64_encode(detail::cram_md5_response(user, password, *challenge)), "***");
    }
    if (mechanism_ == "PLAIN" && auth_round_ == 1)  // a server that wants the response after 334
        return write_read(core::base64_encode(std::string(1, '\0') + user + '\0' + password), "***");
    if (mechanism_ == "XOAUTH2" && auth_round_ == 1)  // the error challenge: answer empty, report the final reply
        return write_read("", "");
    return fail(outcome_code::protocol_error, r);
}

dialog_step dialog::begin_transaction() {
    phase_ = phase::mail;
    state_ = state::mail;
    std::string mail = "MAIL FROM:<" + s_.from + ">";
    if (caps_.size && *caps_.size > 0 && s_.send_message) mail += " SIZE=" + std::to_string(s_.message.size());
    if (!is_ascii(s_.from) || !is_ascii(s_.recipient)) {
        if (!caps_.smtputf8) return fail(outcome_code::sender_rejected, std::nullopt);
        mail += " SMTPUTF8";
    }
    std::string rcpt = "RCPT TO:<" + s_.recipient + ">";
    if (!caps_.pipelining) return write_read(mail);
    if (!safe_on_wire(mail)) return fail(outcome_code::from_invalid, std::nullopt);
    if (!safe_on_wire(rcpt)) return fail(outcome_code::protocol_error, std::nullopt);

    // PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, their replies read in turn.
    dialog_step step{dialog_step::kind::write_read, mail + "\r\n" + rcpt + "\r\n", {mail, rcpt}};
    pipelined_ = {state::mail, state::rcpt};
    if (s_.send_message) {
        step.bytes += "DATA\r\n";
        step.transcript.push_back("DATA");
        pipelined_.push_back(state::data);
    }
    return step;
}

dialog_step dialog::quit() {
    state_ = state::quit;
    phase_ = phase::quit;
    return write_read("QUIT");
}

}  // namespace smtpcheck::smtp
