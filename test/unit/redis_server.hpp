// A real redis-server (Debian's) for the store tests: on a unix socket in a temporary folder,
// no persistence, stopped (SIGKILL) when the object goes. stop(), pause() and resume() play
// a Redis that dies, hangs or comes back.
#pragma once

#include "coroutine_support.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace smtpcheck::test {

class redis_server {
public:
    redis_server() {
        char dir_template[] = "/tmp/smtpcheck-redis-XXXXXX";
        BOOST_REQUIRE(mkdtemp(dir_template));
        dir_ = dir_template;
        start();
    }
    ~redis_server() {
        stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::string socket() const { return dir_ + "/redis.sock"; }
    std::string url() const { return "unix:" + socket(); }

    void start() {
        std::vector<std::string> args{"redis-server", "--port", "0", "--unixsocket", socket(), "--unixsocketperm", "700",
                                      "--save", "", "--appendonly", "no", "--dir", dir_, "--logfile", dir_ + "/redis.log"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        BOOST_REQUIRE_MESSAGE(posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) == 0,
                              "redis-server (Debian's package redis-server) must be installed");
        for (int i = 0; i < 200 && !std::filesystem::exists(socket()); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        BOOST_REQUIRE_MESSAGE(std::filesystem::exists(socket()), "redis-server did not open " + socket());
    }
    void stop() {
        if (pid_ <= 0) return;
        resume();
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        std::error_code ignored;
        std::filesystem::remove(socket(), ignored);
    }
    void pause() { kill(pid_, SIGSTOP); }
    void resume() { kill(pid_, SIGCONT); }

private:
    std::string dir_;
    pid_t pid_ = -1;
};

}  // namespace smtpcheck::test
