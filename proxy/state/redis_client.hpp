#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/io.hpp"

struct redisAsyncContext;
struct redisReply;

namespace tg::proxy {

/// Where a `redis://[:PASSWORD@]HOST[:PORT][/DB]` URL points. The password is kept out of
/// every message: `display` is the URL with it masked.
struct RedisAddress {
    std::string host;
    std::uint16_t port = 6379;
    std::string password;
    int database = 0;
    std::string display;
};

/// Parses a redis:// URL; nullopt with `error` set when it is not one.
std::optional<RedisAddress> parse_redis_url(std::string_view url, std::string& error);

/// A Redis reply reduced to what the proxy reads: an integer, a string, an error or an array.
struct RedisValue {
    enum class Type { nil, integer, string, error, array } type = Type::nil;
    long long integer = 0;
    std::string text;
    std::vector<RedisValue> elements;
};

/// One connection to Redis through hiredis' async API, driven by an io_context (the control
/// thread's): no thread per call, and nothing here is ever waited on by a request. Every call
/// has a deadline; a deadline missed (a `DEBUG SLEEP`) drops the connection, so a slow Redis is
/// treated as a gone one. A connection either sends commands or, once `subscribe`d, only
/// receives messages (Redis allows nothing else on it): an owner that needs both uses two.
class RedisClient {
  public:
    using MessageHandler = std::function<void(std::string_view message)>;

    /// The deadline owners give each call: a Redis slower than this counts as gone.
    static constexpr Clock::duration call_timeout = std::chrono::seconds(1);

    RedisClient(asio::io_context& context, RedisAddress address);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// Connects (names resolved by Asio, not by hiredis' blocking lookup), authenticates and
    /// selects the database, all within `timeout`; false with `error` set when any step fails.
    asio::awaitable<bool> connect(Clock::duration timeout, std::string& error);
    /// Sends one command; nullopt when the connection is down, fails or misses `timeout`.
    asio::awaitable<std::optional<RedisValue>> command(std::vector<std::string> arguments,
                                                       Clock::duration timeout);
    /// Turns this connection into a subscriber of `channel`: true once Redis confirmed within
    /// `timeout`. Each message is then handed to `on_message` from the io_context (never from
    /// inside hiredis, so the handler may disconnect). Messages stop with the connection:
    /// `connected()` turns false and the owner reconnects and subscribes again. One channel per
    /// connection; `command` is refused on it.
    asio::awaitable<bool> subscribe(std::string channel, MessageHandler on_message,
                                    Clock::duration timeout);
    [[nodiscard]] bool connected() const;
    /// Drops the connection; pending commands complete with nullopt.
    void disconnect();
    const RedisAddress& address() const { return address_; }

  private:
    struct Link;
    asio::io_context& context_;
    RedisAddress address_;
    std::shared_ptr<Link> link_;
};

/// How long an owner waits before reconnecting: 100 ms, doubled after each failure up to 5 s,
/// and back to 100 ms once Redis answers.
class RedisBackoff {
  public:
    /// The delay before the next attempt.
    Clock::duration next() {
        const auto delay = delay_;
        delay_ = std::min(delay_ * 2, longest);
        return delay;
    }
    void reset() { delay_ = first; }

  private:
    static constexpr Clock::duration first = std::chrono::milliseconds(100);
    static constexpr Clock::duration longest = std::chrono::seconds(5);
    Clock::duration delay_ = first;
};

}  // namespace tg::proxy
