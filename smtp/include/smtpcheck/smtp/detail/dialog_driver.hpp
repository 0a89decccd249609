// Drives a dialog over any transport: the one piece that does SMTP I/O. A transport has
//   awaitable<std::pair<error_code, std::size_t>> read_some(boost::asio::mutable_buffer)
//   awaitable<error_code> write(std::string_view)
//   awaitable<error_code> start_tls()
//   bool tls_active() const
// The engine passes a TCP/TLS transport; tests pass a scripted one with injected faults.
#pragma once

#include "smtpcheck/core/printable_text.hpp"
#include "smtpcheck/smtp/dialog.hpp"
#include "smtpcheck/smtp/engine.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace smtpcheck::smtp::detail {

/// What the driver keeps between replies: unparsed bytes, the transcript, phase timings.
class driver_context {
public:
    driver_context(const test_settings& settings, test_report& report,
                   std::chrono::steady_clock::time_point started)
        : parser_(settings.reply_bounds),
          limits_(settings.reply_bounds),
          keep_(settings.keep_transcript),
          max_lines_(settings.max_transcript_lines),
          max_line_(settings.max_transcript_line),
          report_(report),
          started_(started),
          phase_started_(started) {}

    double elapsed_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    }

    void note(char dir, std::string_view line) {
        if (!keep_) return;
        auto& t = report_.transcript;
        if (t.size() > max_lines_) return;
        if (t.size() == max_lines_) {
            t.push_back({elapsed_ms(), dir, "(transcript truncated)"});
            return;
        }
        std::string text(line.substr(0, max_line_));
        if (line.size() > max_line_) text += "...";
        t.push_back({elapsed_ms(), dir, std::move(text)});
    }

    bool keeps_transcript() const { return keep_; }

    /// The first phase, timed from `started` (the test's clock began before this context).
    void resume(phase p) { current_ = p; }

    /// Closes the running phase's timing when the phase changes.
    void enter(phase p) {
        if (current_ && *current_ == p) return;
        close_phase();
        current_ = p;
    }
    void close_phase() {
        auto now = std::chrono::steady_clock::now();
        if (current_)
            report_.timings.push_back(
                {*current_, std::chrono::duration<double, std::milli>(now - phase_started_).count()});
        phase_started_ = now;
        current_.reset();
    }

    /// After STARTTLS nothing from before the handshake may count.
    void forget_received() {
        inbuf.clear();
        parser_ = reply_parser(limits_);
    }

    reply_parser parser_;
    std::string inbuf;           ///< received, not yet parsed
    std::string server_partial;  ///< the server's current line, for the transcript
    std::string protocol_error;

private:
    reply_limits limits_;
    bool keep_;
    std::size_t max_lines_, max_line_;
    test_report& report_;
    std::chrono::steady_clock::time_point started_, phase_started_;
    std::optional<phase> current_;
};

inline void note_server_bytes(driver_context& ctx, std::string_view bytes) {
    if (!ctx.keeps_transcript()) return;
    for (char c : bytes) {
        if (c == '\n') {
            if (!ctx.server_partial.empty() && ctx.server_partial.back() == '\r') ctx.server_partial.pop_back();
            ctx.note('S', core::printable_text(ctx.server_partial));
            ctx.server_partial.clear();
        } else if (ctx.server_partial.size() < 4096) {
            ctx.server_partial += c;
        }
    }
}

/// One reply, or nullopt when the connection ended (ctx.protocol_error says if it was the
/// server's bytes that broke the protocol).
template <class Transport>
boost::asio::awaitable<std::optional<reply>> read_reply(Transport& t, driver_context& ctx) {
    for (;;) {
        if (!ctx.inbuf.empty()) {
            std::size_t used = 0;
            auto status = ctx.parser_.feed(ctx.inbuf, used);
            note_server_bytes(ctx, std::string_view(ctx.inbuf).substr(0, used));
            ctx.inbuf.erase(0, used);
            if (status == reply_parser::status::done) co_return ctx.parser_.take();
            if (status == reply_parser::status::error) {
                ctx.protocol_error = ctx.parser_.error();
                co_return std::nullopt;
            }
        }
        // Small: this array lives in the coroutine frame of every test in flight, and SMTP
        // replies are short (a longer one just takes more reads).
        char buffer[512];
        auto [ec, n] = co_await t.read_some(boost::asio::buffer(buffer));
        if (ec || n == 0) co_return std::nullopt;
        ctx.inbuf.append(buffer, n);
    }
}

template <class Transport>
boost::asio::awaitable<void> drive_dialog(Transport& t, dialog& d, driver_context& ctx) {
    auto step = d.start(t.tls_active());
    for (;;) {
        ctx.enter(d.current_phase());
        for (const auto& line : step.transcript) ctx.note('C', line);
        if (!step.bytes.empty()) {
            auto ec = co_await t.write(step.bytes);
            std::string().swap(step.bytes);  // sent: not kept while the reply is awaited
            if (ec && step.what != dialog_step::kind::finish) {
                d.on_connection_lost();
                break;
            }
        }
        if (step.what == dialog_step::kind::finish) break;
        if (step.what == dialog_step::kind::start_tls) {
            ctx.forget_received();
            auto ec = co_await t.start_tls();
            step = ec ? d.on_tls_failed() : d.on_tls_started();
            continue;
        }
        auto r = co_await read_reply(t, ctx);
        if (!r) {
            if (!ctx.protocol_error.empty())
                d.on_protocol_error();
            else
                d.on_connection_lost();
            break;
        }
        step = d.on_reply(*r);
    }
    ctx.enter(d.current_phase());
    ctx.close_phase();
}

}  // namespace smtpcheck::smtp::detail
