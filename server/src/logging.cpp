#include "smtpcheck/server/logging.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <ctime>

namespace smtpcheck {
namespace {

// One JSON object per line: {"time":...,"level":...,"logger":...,"msg":...}. The message is
// escaped by Boost.JSON, so a value quoted in a message can never break the line apart.
class json_formatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        using namespace std::chrono;
        auto since_epoch = msg.time.time_since_epoch();
        auto secs = duration_cast<seconds>(since_epoch);
        auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
        std::time_t t = secs.count();
        std::tm tm{};
        gmtime_r(&t, &tm);
        char stamp[40];
        auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis));

        auto level = spdlog::level::to_string_view(msg.level);
        std::string line = "{\"time\":\"";
        line += stamp;
        line += "\",\"level\":\"";
        line.append(level.data(), level.size());
        line += "\",\"logger\":";
        line += boost::json::serialize(boost::json::string(msg.logger_name.data(), msg.logger_name.size()));
        line += ",\"msg\":";
        line += boost::json::serialize(boost::json::string(msg.payload.data(), msg.payload.size()));
        line += "}\n";
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

// The text format: spdlog's pattern, with the message's control characters written as \xNN,
// so that text a caller chose (a user name, a JWT's "kid") cannot start a forged line.
class escaping_text_formatter final : public spdlog::formatter {
public:
    escaping_text_formatter() : pattern_("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view payload(msg.payload.data(), msg.payload.size());
        if (std::none_of(payload.begin(), payload.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
            return pattern_.format(msg, dest);
        std::string escaped;
        escaped.reserve(payload.size() + 16);
        for (unsigned char c : payload) {
            if (c < 0x20 || c == 0x7f) {
                static constexpr char hex[] = "0123456789abcdef";
                escaped += "\\x";
                escaped += hex[c >> 4];
                escaped += hex[c & 15];
            } else {
                escaped += static_cast<char>(c);
            }
        }
        spdlog::details::log_msg copy = msg;
        copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
        pattern_.format(copy, dest);
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<escaping_text_formatter>(); }

private:
    spdlog::pattern_formatter pattern_;
};

spdlog::level::level_enum to_spdlog(log_settings::level l) {
    switch (l) {
    case log_settings::level::trace: return spdlog::level::trace;
    case log_settings::level::debug: return spdlog::level::debug;
    case log_settings::level::info: return spdlog::level::info;
    case log_settings::level::warn: return spdlog::level::warn;
    case log_settings::level::error: return spdlog::level::err;
    }
    return spdlog::level::info;
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings, std::string name) {
    return make_logger(settings, std::move(name), std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

std::shared_ptr<spdlog::logger> make_logger(const log_settings& settings, std::string name,
                                            std::shared_ptr<spdlog::sinks::sink> sink) {
    auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
    if (settings.style == log_settings::format::json)
        logger->set_formatter(std::make_unique<json_formatter>());
    else
        logger->set_formatter(std::make_unique<escaping_text_formatter>());
    logger->set_level(to_spdlog(settings.min_level));
    logger->flush_on(spdlog::level::info);
    return logger;
}

}  // namespace smtpcheck
