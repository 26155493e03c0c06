#include "proxy/state/redis_client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cassert>
#include <charconv>
#include <string_view>

namespace tg::proxy {
namespace {

RedisValue convert(const redisReply* reply) {
    RedisValue value;
    switch (reply->type) {
        case REDIS_REPLY_INTEGER:
            value.type = RedisValue::Type::integer;
            value.integer = reply->integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            value.type = RedisValue::Type::string;
            value.text.assign(reply->str, reply->len);
            break;
        case REDIS_REPLY_ERROR:
            value.type = RedisValue::Type::error;
            value.text.assign(reply->str, reply->len);
            break;
        case REDIS_REPLY_ARRAY:
            value.type = RedisValue::Type::array;
            for (std::size_t i = 0; i < reply->elements; ++i)
                value.elements.push_back(convert(reply->element[i]));
            break;
        default:
            break;
    }
    return value;
}

/// One command's outcome, shared by the waiting coroutine and hiredis' callback.
struct Pending {
    explicit Pending(asio::io_context& context) : signal(context) {}
    asio::steady_timer signal;
    bool done = false;
    std::optional<RedisValue> result;
};

void on_reply(redisAsyncContext*, void* reply, void* data) {
    std::unique_ptr<std::shared_ptr<Pending>> owner(static_cast<std::shared_ptr<Pending>*>(data));
    auto& pending = **owner;
    pending.done = true;
    if (reply) pending.result = convert(static_cast<redisReply*>(reply));
    pending.signal.cancel();
}

/// One subscription, shared by `subscribe`, hiredis' callback and the messages posted from it.
struct Subscription {
    Subscription(asio::io_context& c, RedisClient::MessageHandler handler)
        : context(c), signal(c), on_message(std::move(handler)) {}
    asio::io_context& context;
    asio::steady_timer signal;  ///< wakes `subscribe` on the confirmation or the loss
    RedisClient::MessageHandler on_message;
    bool confirmed = false;
    bool lost = false;  ///< the connection is gone: messages still queued are dropped
};

std::string_view text_of(const redisReply* reply) {
    return reply->type == REDIS_REPLY_STRING ? std::string_view(reply->str, reply->len)
                                             : std::string_view();
}

/// hiredis calls this for the SUBSCRIBE confirmation, then for every message of the channel,
/// and last with no reply when the context is freed (asked for or on a lost connection): that
/// call, and only it, releases `data`.
void on_subscription(redisAsyncContext*, void* reply, void* data) {
    auto* owner = static_cast<std::shared_ptr<Subscription>*>(data);
    auto subscription = *owner;
    if (!reply) {
        delete owner;
        subscription->lost = true;
        subscription->signal.cancel();
        return;
    }
    const auto* r = static_cast<const redisReply*>(reply);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const auto kind = text_of(r->element[0]);
    if (kind == "subscribe") {
        subscription->confirmed = true;
        subscription->signal.cancel();
    } else if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
        asio::post(subscription->context,
                   [subscription, message = std::string(text_of(r->element[2]))] {
                       if (!subscription->lost) subscription->on_message(message);
                   });
    }
}

}  // namespace

/// The hiredis context and the descriptor Asio watches for it. hiredis owns the socket (it
/// closes it); Asio only waits for readiness, as hiredis' own libevent adapter does.
struct RedisClient::Link : std::enable_shared_from_this<Link> {
    explicit Link(asio::io_context& c) : context(c) {}

    asio::io_context& context;
    redisAsyncContext* async = nullptr;  ///< null once hiredis has freed it
    std::optional<asio::posix::stream_descriptor> socket;
    bool reading = false;
    bool writing = false;
    bool read_armed = false;
    bool write_armed = false;
    bool subscribed = false;  ///< only messages from now on

    void arm_read() {
        if (!reading || read_armed || !socket) return;
        read_armed = true;
        socket->async_wait(asio::posix::stream_descriptor::wait_read,
                           [self = shared_from_this()](error_code ec) {
                               self->read_armed = false;
                               if (ec || !self->async || !self->reading) return;
                               redisAsyncHandleRead(self->async);
                               self->arm_read();
                           });
    }
    void arm_write() {
        if (!writing || write_armed || !socket) return;
        write_armed = true;
        socket->async_wait(asio::posix::stream_descriptor::wait_write,
                           [self = shared_from_this()](error_code ec) {
                               self->write_armed = false;
                               if (ec || !self->async || !self->writing) return;
                               redisAsyncHandleWrite(self->async);
                               self->arm_write();
                           });
    }
    void release_socket() {
        reading = writing = false;
        if (!socket) return;
        error_code ignored;
        socket->cancel(ignored);
        socket->release();  // hiredis closes the descriptor
        socket.reset();
    }

    static Link& of(void* data) { return *static_cast<Link*>(data); }
    static void add_read(void* data) {
        of(data).reading = true;
        of(data).arm_read();
    }
    static void del_read(void* data) { of(data).reading = false; }
    static void add_write(void* data) {
        of(data).writing = true;
        of(data).arm_write();
    }
    static void del_write(void* data) { of(data).writing = false; }
    static void cleanup(void* data) { of(data).release_socket(); }
    static void on_connect(const redisAsyncContext* async, int status) {
        if (status != REDIS_OK) of(async->data).async = nullptr;  // hiredis frees it next
    }
    static void on_disconnect(const redisAsyncContext* async, int) {
        of(async->data).async = nullptr;
    }
};

std::optional<RedisAddress> parse_redis_url(std::string_view url, std::string& error) {
    constexpr std::string_view scheme = "redis://";
    if (!url.starts_with(scheme)) {
        error = "expected a redis:// URL";
        return std::nullopt;
    }
    RedisAddress address;
    auto rest = url.substr(scheme.size());
    std::string_view database;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        database = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        auto user_info = rest.substr(0, at);
        if (const auto colon = user_info.find(':'); colon != std::string_view::npos)
            address.password = std::string(user_info.substr(colon + 1));
        rest = rest.substr(at + 1);
    }
    auto host = rest;
    if (const auto colon = rest.rfind(':');
        colon != std::string_view::npos && rest.find(']', colon) == std::string_view::npos) {
        host = rest.substr(0, colon);
        const auto port = rest.substr(colon + 1);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
            error = "bad port in the Redis URL";
            return std::nullopt;
        }
        address.port = static_cast<std::uint16_t>(value);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty()) {
        error = "no host in the Redis URL";
        return std::nullopt;
    }
    address.host = std::string(host);
    if (!database.empty()) {
        const auto [end, ec] =
            std::from_chars(database.data(), database.data() + database.size(), address.database);
        if (ec != std::errc{} || end != database.data() + database.size() || address.database < 0) {
            error = "bad database number in the Redis URL";
            return std::nullopt;
        }
    }
    address.display = "redis://" + std::string(address.password.empty() ? "" : ":***@") +
                      std::string(rest) + "/" + std::to_string(address.database);
    return address;
}

RedisClient::RedisClient(asio::io_context& context, RedisAddress address)
    : context_(context), address_(std::move(address)) {}

RedisClient::~RedisClient() {
    disconnect();
}

bool RedisClient::connected() const {
    return link_ && link_->async;
}

void RedisClient::disconnect() {
    if (!link_) return;
    auto link = std::move(link_);
    if (link->async) {
        auto* async = link->async;
        link->async = nullptr;
        redisAsyncFree(async);  // pending callbacks run now, with no reply
    }
    link->release_socket();
}

asio::awaitable<bool> RedisClient::connect(Clock::duration timeout, std::string& error) {
    disconnect();
    const auto deadline = Clock::now() + timeout;
    // A resolver that hangs (DNS gone) is cancelled at the deadline; the guard owns it, as its
    // expiry may already be queued when the answer comes.
    auto resolver = std::make_shared<tcp::resolver>(context_);
    asio::steady_timer guard(context_, deadline);
    guard.async_wait([resolver](error_code ec) {
        if (!ec) resolver->cancel();
    });
    auto [resolve_error, results] =
        co_await resolver->async_resolve(address_.host, std::to_string(address_.port), use_nothrow);
    guard.cancel();
    if (resolve_error || results.empty()) {
        error = "cannot resolve " + address_.host + ": " + resolve_error.message();
        co_return false;
    }
    const auto ip = results.begin()->endpoint().address().to_string();
    redisAsyncContext* async = redisAsyncConnect(ip.c_str(), address_.port);
    if (!async || async->err) {
        error = async ? async->errstr : "out of memory";
        if (async) redisAsyncFree(async);
        co_return false;
    }
    auto link = std::make_shared<Link>(context_);
    link->async = async;
    link->socket.emplace(context_, async->c.fd);
    async->data = link.get();
    async->ev.data = link.get();
    async->ev.addRead = &Link::add_read;
    async->ev.delRead = &Link::del_read;
    async->ev.addWrite = &Link::add_write;
    async->ev.delWrite = &Link::del_write;
    async->ev.cleanup = &Link::cleanup;
    redisAsyncSetConnectCallback(async, &Link::on_connect);
    redisAsyncSetDisconnectCallback(async, &Link::on_disconnect);
    link_ = link;

    // Commands built before each co_await: GCC 12 miscompiles braced string lists inside one.
    std::vector<std::vector<std::string>> steps;
    if (!address_.password.empty()) steps.push_back({"AUTH", address_.password});
    if (address_.database != 0) steps.push_back({"SELECT", std::to_string(address_.database)});
    steps.push_back({"PING"});
    for (auto& step : steps) {
        const std::string name = step.front();
        const auto reply = co_await command(std::move(step), deadline - Clock::now());
        if (!reply || reply->type == RedisValue::Type::error) {
            error = name + (reply ? " refused: " + reply->text : std::string(" got no answer"));
            disconnect();
            co_return false;
        }
    }
    co_return true;
}

asio::awaitable<std::optional<RedisValue>> RedisClient::command(std::vector<std::string> arguments,
                                                                Clock::duration timeout) {
    if (!connected()) co_return std::nullopt;
    assert(!link_->subscribed && "a subscribed connection carries no commands");
    if (link_->subscribed) co_return std::nullopt;
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : arguments) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto pending = std::make_shared<Pending>(context_);
    auto* owner = new std::shared_ptr<Pending>(pending);
    if (redisAsyncCommandArgv(link_->async, &on_reply, owner, static_cast<int>(argv.size()),
                              argv.data(), lengths.data()) != REDIS_OK) {
        delete owner;
        co_return std::nullopt;
    }
    pending->signal.expires_after(timeout);
    co_await pending->signal.async_wait(use_nothrow);
    if (!pending->done) {
        disconnect();  // a Redis that does not answer in time is down
        co_return std::nullopt;
    }
    co_return std::move(pending->result);
}

asio::awaitable<bool> RedisClient::subscribe(std::string channel, MessageHandler on_message,
                                             Clock::duration timeout) {
    if (!connected() || link_->subscribed) co_return false;
    auto subscription = std::make_shared<Subscription>(context_, std::move(on_message));
    auto* owner = new std::shared_ptr<Subscription>(subscription);
    const char* argv[] = {"SUBSCRIBE", channel.data()};
    const std::size_t lengths[] = {9, channel.size()};
    if (redisAsyncCommandArgv(link_->async, &on_subscription, owner, 2, argv, lengths) !=
        REDIS_OK) {
        delete owner;
        co_return false;
    }
    link_->subscribed = true;
    subscription->signal.expires_after(timeout);
    co_await subscription->signal.async_wait(use_nothrow);
    if (!subscription->confirmed || subscription->lost) {
        disconnect();  // no confirmation in time: a subscriber that may hear nothing is useless
        co_return false;
    }
    co_return true;
}

}  // namespace tg::proxy
