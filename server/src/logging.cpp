#include "smtpcheck/server/logging.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

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
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
    if (settings.style == log_settings::format::json)
        logger->set_formatter(std::make_unique<json_formatter>());
    else
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    logger->set_level(to_spdlog(settings.min_level));
    logger->flush_on(spdlog::level::info);
    return logger;
}

}  // namespace smtpcheck
