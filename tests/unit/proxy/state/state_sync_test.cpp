#include "proxy/state/state_sync.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <thread>

#include "proxy/state/runtime_state_json.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using namespace tg::proxy;
using tg::config::Color;

constexpr const char* redis_binary = "/usr/bin/redis-server";
constexpr const char* key_prefix = "tgtest:";

/// A port nothing listens on right now (bound, read and released).
std::uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

/// One command through a fresh blocking connection: the reply's text (an integer as its
/// digits), nullopt for nil, an error or no answer within a second.
std::optional<std::string> ask(std::uint16_t port, const std::vector<std::string>& arguments) {
    const timeval second{1, 0};
    std::unique_ptr<redisContext, void (*)(redisContext*)> context(
        redisConnectWithTimeout("127.0.0.1", port, second), &redisFree);
    if (!context || context->err || redisSetTimeout(context.get(), second) != REDIS_OK)
        return std::nullopt;
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : arguments) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    std::unique_ptr<redisReply, void (*)(void*)> reply(
        static_cast<redisReply*>(redisCommandArgv(context.get(), static_cast<int>(argv.size()),
                                                  argv.data(), lengths.data())),
        &freeReplyObject);
    if (!reply) return std::nullopt;
    if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
        return std::string(reply->str, reply->len);
    return std::nullopt;
}

/// A redis-server without persistence on a free 127.0.0.1 port; `start` after `stop` reuses the
/// port. Stopped by its PID only.
class RedisServer {
  public:
    RedisServer() : port_(free_port()) {}
    ~RedisServer() { stop(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    static bool installed() { return ::access(redis_binary, X_OK) == 0; }

    /// Spawns it and waits (at most 5 s) until it answers PING.
    bool start() {
        const auto port = std::to_string(port_);
        std::vector<std::string> arguments = {
            redis_binary,   "--port", port,          "--bind", "127.0.0.1", "--save",   "",
            "--appendonly", "no",     "--daemonize", "no",     "--logfile", "/dev/null"};
        std::vector<char*> argv;
        for (auto& a : arguments) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        const int failed =
            posix_spawn(&pid_, redis_binary, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (failed != 0) {
            pid_ = -1;
            return false;
        }
        for (int attempt = 0; attempt < 50; ++attempt) {
            if (ask(port_, {"PING"}) == "PONG") return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    /// SIGTERM, then SIGKILL when it has not exited within 5 s.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int attempt = 0; attempt < 100; ++attempt) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    std::uint16_t port() const { return port_; }
    RedisAddress address() const {
        return {"127.0.0.1", port_, "", 0, "redis://127.0.0.1:" + std::to_string(port_) + "/0"};
    }
    /// The version of the state stored in Redis, 0 when there is none.
    std::uint64_t stored_version() const {
        const auto text = ask(port_, {"HGET", key(), "version"});
        return text ? std::stoull(*text) : 0;
    }
    /// Stores `state` as a replica would, without publishing it.
    void store_quietly(const RuntimeState& state) const {
        std::vector<std::string> command = {
            "HSET", key(), "version", std::to_string(state.version), "origin", state.origin};
        for (auto& field : runtime_state_fields(state)) command.push_back(std::move(field));
        REQUIRE(ask(port_, command).has_value());
    }
    /// Bytes Redis has read from its clients so far.
    long bytes_received() const {
        const auto info = ask(port_, {"INFO", "stats"}).value_or("");
        const std::string label = "total_net_input_bytes:";
        const auto at = info.find(label);
        return at == std::string::npos ? 0 : std::stol(info.substr(at + label.size()));
    }
    /// How many times Redis ran `command` (INFO commandstats), 0 before the first.
    long calls(const std::string& command) const {
        const auto info = ask(port_, {"INFO", "commandstats"}).value_or("");
        const std::string label = "cmdstat_" + command + ":calls=";
        const auto at = info.find(label);
        return at == std::string::npos ? 0 : std::stol(info.substr(at + label.size()));
    }
    void publish(const std::string& message) const { ask(port_, {"PUBLISH", key(), message}); }
    /// Publishes `change` as made from the stored state `base` (version and origin).
    void publish_change(const RuntimeState& base, const RuntimeState& change) const {
        publish(R"({"version":)" + std::to_string(base.version) + R"(,"origin":")" + base.origin +
                "\"}\n" + runtime_state_text(change));
    }
    static std::string key() { return std::string(key_prefix) + "runtime"; }

  private:
    std::uint16_t port_;
    pid_t pid_ = -1;
};

/// Starts `server` for a test; false, with a warning that says why, when there is no
/// redis-server to run (the test is then skipped, visibly).
bool start_redis(RedisServer& server) {
    if (!RedisServer::installed()) {
        WARN("skipped: redis-server is not installed at " << redis_binary);
        return false;
    }
    ::signal(SIGPIPE, SIG_IGN);  // as proxy/main.cpp: hiredis writes to sockets Redis closed
    REQUIRE(server.start());
    return true;
}

/// Runs `io` until `done` holds, at most `limit` (and a bounded number of rounds).
template <class Done>
bool run_until(asio::io_context& io, Done done, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    for (int round = 0; round < 100000 && !done() && Clock::now() < deadline; ++round) {
        io.restart();
        io.run_for(5ms);
    }
    return done();
}

RuntimeState maintenance_state(std::uint64_t version, std::string origin, std::string message) {
    RuntimeState state;
    state.version = version;
    state.origin = std::move(origin);
    state.global_maintenance = {true, std::move(message), 600, static_cast<std::int64_t>(version)};
    return state;
}

/// One replica: its local state, what it adopted, and its StateSync.
struct Replica {
    Replica(asio::io_context& io, const RedisAddress& address, std::string name)
        : id(std::move(name)),
          sync(io, address, key_prefix, id,
               {[this] { return state; },
                [this](RuntimeState adopted) {
                    state = std::move(adopted);
                    adoptions.push_back(state);
                }}) {}

    /// Adds a runtime tenant `name` (host erp.HOST.com) to the local state, as a change of
    /// `version`; pushed by the caller.
    void define(const std::string& name, const std::string& host, std::uint64_t version) {
        state.version = version;
        state.origin = id;
        state.tenants.insert_or_assign(name,
                                       {R"({"hosts":["erp.)" + host + R"(.com"],"pool":"odoo"})",
                                        static_cast<std::int64_t>(version)});
    }

    /// Makes a local change, as the admin API does, and pushes it.
    void change(std::uint64_t version, std::string message) {
        state = maintenance_state(version, id, std::move(message));
        sync.push();
    }

    std::string id;
    RuntimeState state;
    std::vector<RuntimeState> adoptions;
    StateSync sync;
    bool started = false;
    bool running = false;
};

/// Replicas on one io_context; stops them and lets their loops end before they go.
class Cluster {
  public:
    explicit Cluster(RedisAddress address) : address_(std::move(address)) {}
    ~Cluster() {
        for (auto& replica : replicas_) replica->sync.stop();
        ::run_until(
            io_,
            [this] {
                for (const auto& replica : replicas_)
                    if (replica->running) return false;
                return true;
            },
            5s);
    }
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    Replica& add(std::string id) {
        replicas_.push_back(std::make_unique<Replica>(io_, address_, std::move(id)));
        return *replicas_.back();
    }
    /// Runs `start` to its end; false when it took longer than `limit`.
    bool start(Replica& replica, Clock::duration timeout, Clock::duration limit) {
        asio::co_spawn(io_, replica.sync.start(timeout),
                       [&replica](std::exception_ptr) { replica.started = true; });
        return run_until([&] { return replica.started; }, limit);
    }
    /// A replica through `start`, then with its background loop running.
    Replica& launch(std::string id) {
        auto& replica = add(std::move(id));
        REQUIRE(start(replica, 2s, 3s));
        replica.running = true;
        asio::co_spawn(io_, replica.sync.run(),
                       [&replica](std::exception_ptr) { replica.running = false; });
        return replica;
    }
    template <class Done>
    bool run_until(Done done, Clock::duration limit) {
        return ::run_until(io_, done, limit);
    }

  private:
    asio::io_context io_;
    RedisAddress address_;
    std::vector<std::unique_ptr<Replica>> replicas_;
};

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

TEST_CASE("state sync: a change reaches the other replica within a second",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");
    CHECK(a.sync.up());
    CHECK(b.sync.up());

    const auto version = now_ms();
    const auto sent = Clock::now();
    a.change(version, "Upgrading");
    REQUIRE(cluster.run_until([&] { return !b.adoptions.empty(); }, 2s));
    CHECK(Clock::now() - sent < 1s);
    CHECK(b.state == a.state);
    CHECK(b.adoptions.size() == 1);
    CHECK(server.stored_version() == version);
    // A hears its own message back and ignores it.
    cluster.run_until([] { return false; }, 200ms);
    CHECK(a.adoptions.empty());
}

TEST_CASE("state sync: an older setting never replaces a newer one", "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");

    const auto newer = now_ms();
    a.change(newer, "new");
    REQUIRE(cluster.run_until([&] { return b.adoptions.size() == 1; }, 2s));

    // B pushes an older change (made while it was cut off): Redis refuses it and B takes back
    // the newer state the script returned.
    b.change(newer - 500, "old");
    REQUIRE(cluster.run_until([&] { return b.adoptions.size() == 2; }, 2s));
    CHECK(b.state.version == newer);
    CHECK(b.state.global_maintenance.message == "new");
    CHECK(server.stored_version() == newer);

    // An older message on the channel is ignored; the newer one after it is taken.
    const auto stored = maintenance_state(newer, "replica-a", "new");
    server.publish_change(stored, maintenance_state(newer - 1000, "replica-x", "older"));
    server.publish_change(stored, maintenance_state(newer + 1, "replica-x", "newest"));
    REQUIRE(cluster.run_until([&] { return a.adoptions.size() == 1; }, 2s));
    CHECK(a.state.global_maintenance.message == "newest");
    REQUIRE(cluster.run_until([&] { return b.adoptions.size() == 3; }, 2s));
    CHECK(b.state.global_maintenance.message == "newest");
}

TEST_CASE("state sync: a replica that starts reads the current state first",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    const auto version = now_ms();
    a.change(version, "stored");
    REQUIRE(cluster.run_until([&] { return server.stored_version() == version; }, 2s));

    // Only start(), no run(): the state is there when start() returns.
    auto& b = cluster.add("replica-b");
    REQUIRE(cluster.start(b, 2s, 3s));
    CHECK(b.sync.up());
    REQUIRE(b.adoptions.size() == 1);
    CHECK(b.state == a.state);

    // A replica whose local state is newer (changed while Redis was away) pushes it in start().
    auto& c = cluster.add("replica-c");
    c.state = maintenance_state(version + 10, "replica-c", "offline change");
    REQUIRE(cluster.start(c, 2s, 3s));
    CHECK(c.adoptions.empty());
    CHECK(server.stored_version() == version + 10);
    REQUIRE(cluster.run_until([&] { return a.adoptions.size() == 1; }, 1s));
    CHECK(a.state == c.state);
}

TEST_CASE("state sync: the check every second reads the whole state only when it changed",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");
    const auto version = now_ms();
    a.change(version, "Upgrading");
    REQUIRE(cluster.run_until([&] { return b.adoptions.size() == 1; }, 2s));

    // Both replicas have the stored version: their checks read it, not the state.
    const long reads = server.calls("hgetall");
    const long stamps = server.calls("hmget");
    cluster.run_until([] { return false; }, StateSync::check_interval * 2 + 500ms);
    CHECK(server.calls("hmget") >= stamps + 4);
    CHECK(server.calls("hgetall") == reads);

    // A state written without a message (one lost on the way): the next check reads it whole.
    auto newer = maintenance_state(version + 5, "replica-c", "written quietly");
    server.store_quietly(newer);
    REQUIRE(cluster.run_until([&] { return b.adoptions.size() == 2 && a.adoptions.size() == 1; },
                              StateSync::check_interval * 2 + 500ms));
    CHECK(b.state == newer);
    CHECK(a.state == newer);
    CHECK(server.calls("hgetall") >= reads + 2);
}

TEST_CASE("state sync: a change to one of many tenants sends that tenant's entry only",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");

    const auto version = now_ms();
    for (int i = 0; i < 2000; ++i)
        a.define("tenant-" + std::to_string(i), "tenant-" + std::to_string(i), version);
    const long empty = server.bytes_received();
    a.sync.push();
    REQUIRE(cluster.run_until([&] { return b.state == a.state; }, 3s));
    CHECK(server.bytes_received() - empty > 2000 * 60);  // the first write: every tenant

    const long before = server.bytes_received();
    const long reads = server.calls("hgetall");
    a.define("tenant-7", "tenant-70", version + 1);
    a.sync.push();
    REQUIRE(cluster.run_until([&] { return b.state == a.state; }, 2s));
    // The write carries one entry, and the message is that entry: nobody reads the state whole.
    CHECK(server.bytes_received() - before < 4096);
    CHECK(server.calls("hgetall") == reads);
    CHECK(ask(server.port(), {"HGET", RedisServer::key(), "tenants:tenant-7"})->find("tenant-70") !=
          std::string::npos);
    CHECK(ask(server.port(), {"HLEN", RedisServer::key()}) == std::to_string(2000 + 3));
}

TEST_CASE("state sync: changes made at once on two replicas are both kept",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");
    const auto version = now_ms();
    for (auto* replica : {&a, &b}) {
        replica->define("from-" + replica->id, replica->id, version + (replica == &b ? 1 : 0));
        replica->sync.push();  // both before either runs: one write is refused
    }
    REQUIRE(cluster.run_until(
        [&] { return a.state.tenants.size() == 2 && b.state.same_entries(a.state); }, 3s));
    CHECK(a.state.tenants.contains("from-replica-b"));
    CHECK(ask(server.port(), {"HEXISTS", RedisServer::key(), "tenants:from-replica-a"}) == "1");
    CHECK(ask(server.port(), {"HEXISTS", RedisServer::key(), "tenants:from-replica-b"}) == "1");
    CHECK(server.calls("eval") >= 3);  // two at once, and the refused one again
}

TEST_CASE("state sync: changes made at once on replicas in step are both kept",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");
    const auto version = now_ms();
    a.change(version, "shared first");
    REQUIRE(cluster.run_until([&] { return b.state == a.state; }, 2s));

    // Both know the stored state: each change is made from it, and one write is refused.
    for (auto* replica : {&a, &b}) {
        replica->define("from-" + replica->id, replica->id, version + (replica == &b ? 2 : 1));
        replica->sync.push();
    }
    REQUIRE(cluster.run_until(
        [&] { return a.state.tenants.size() == 2 && b.state.same_entries(a.state); }, 3s));
    CHECK(ask(server.port(), {"HLEN", RedisServer::key()}) == "5");  // stamp, global, 2 tenants
    CHECK(server.stored_version() >= version + 2);
}

TEST_CASE("state sync: an entry Redis got older than a replica's is sent back by that replica",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");
    const auto version = now_ms();
    const auto switched = [](std::int64_t at, tg::config::Color to) {
        return ReleaseState{to, std::nullopt, at, 0};
    };
    a.state.version = version;
    a.state.origin = a.id;
    a.state.releases["acme"] = switched(static_cast<std::int64_t>(version), Color::green);
    a.sync.push();
    REQUIRE(cluster.run_until([&] { return b.state == a.state; }, 2s));

    // B switches back at a wall time behind A's (its clock is late), in a newer state: Redis
    // takes it, A keeps its newer switch and writes it again, and B ends up with it too.
    b.state.version = version + 1;
    b.state.origin = b.id;
    b.state.releases["acme"] = switched(static_cast<std::int64_t>(version - 50), Color::blue);
    b.sync.push();
    REQUIRE(cluster.run_until(
        [&] {
            return b.state.releases.at("acme").active == Color::green &&
                   ask(server.port(), {"HGET", RedisServer::key(), "releases:acme"})
                           .value_or("")
                           .find("green") != std::string::npos;
        },
        2s));
    CHECK(a.state.releases.at("acme") == b.state.releases.at("acme"));
}

TEST_CASE("state sync: a change made from a state this replica lacks is read whole at once",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& b = cluster.launch("replica-b");

    // Right after B's check of the second, so that only the message can make it read sooner.
    const long stamps = server.calls("hmget");
    REQUIRE(cluster.run_until([&] { return server.calls("hmget") > stamps; },
                              StateSync::check_interval * 2));
    const auto newer = maintenance_state(now_ms(), "replica-x", "made elsewhere");
    server.store_quietly(newer);
    const auto heard = Clock::now();
    server.publish_change(maintenance_state(newer.version - 1, "replica-y", "never heard"), newer);
    REQUIRE(cluster.run_until([&] { return !b.adoptions.empty(); }, 2s));
    CHECK(Clock::now() - heard < StateSync::check_interval / 2);
    CHECK(b.state == newer);
}

TEST_CASE("state sync: a stored value of another shape is replaced by the next change",
          "[proxy][state][redis]") {
    // An older tenantgate's string, and a hash that is no state (with a version from the far
    // future, which a version check alone would never let a change pass).
    const std::vector<std::vector<std::string>> shapes = {
        {"SET", RedisServer::key(), R"({"version":1})"},
        {"HSET", RedisServer::key(), "version", "99999999999999999", "colour", "blue"}};
    for (const auto& shape : shapes) {
        INFO(shape.front());
        RedisServer server;
        if (!start_redis(server)) return;
        REQUIRE(ask(server.port(), shape).has_value());
        Cluster cluster(server.address());
        auto& a = cluster.launch("replica-a");
        CHECK(a.sync.up());
        const auto version = now_ms();
        a.change(version, "replaces it");
        REQUIRE(cluster.run_until([&] { return server.stored_version() == version; }, 2s));
        CHECK(ask(server.port(), {"TYPE", RedisServer::key()}) == "hash");
        CHECK(ask(server.port(), {"HEXISTS", RedisServer::key(), "colour"}) == "0");
        CHECK(server.calls("eval") == 1);
        auto& b = cluster.launch("replica-b");
        CHECK(b.state == a.state);
    }
}

TEST_CASE("state sync: changes made while Redis is down reach it once it is back",
          "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& a = cluster.launch("replica-a");
    auto& b = cluster.launch("replica-b");

    server.stop();
    REQUIRE(cluster.run_until([&] { return !a.sync.up() && !b.sync.up(); }, 5s));
    const auto version = now_ms();
    a.change(version, "while redis was down");
    cluster.run_until([] { return false; }, 300ms);
    CHECK_FALSE(a.sync.up());
    CHECK(a.state.version == version);  // the local state keeps working

    REQUIRE(server.start());  // same port, empty: no persistence
    REQUIRE(cluster.run_until([&] { return a.sync.up() && !b.adoptions.empty(); }, 10s));
    CHECK(b.state == a.state);
    CHECK(server.stored_version() == version);
}

TEST_CASE("state sync: a malformed message is ignored", "[proxy][state][redis]") {
    RedisServer server;
    if (!start_redis(server)) return;
    Cluster cluster(server.address());
    auto& b = cluster.launch("replica-b");

    server.publish("not json at all");
    server.publish(R"({"version":"soon","origin":"x"})");
    server.publish(runtime_state_text(maintenance_state(now_ms(), "replica-x", "one line")));
    const auto valid = maintenance_state(now_ms(), "replica-x", "valid");
    server.publish_change(RuntimeState{}, valid);  // made from no state, as B knows Redis
    REQUIRE(cluster.run_until([&] { return !b.adoptions.empty(); }, 2s));
    CHECK(b.adoptions.size() == 1);
    CHECK(b.state == valid);
    CHECK(b.sync.up());
}

TEST_CASE("state sync: start gives up within its timeout when Redis is away",
          "[proxy][state][redis]") {
    ::signal(SIGPIPE, SIG_IGN);
    // A listener that never accepts: the TCP handshake succeeds, PING is never answered.
    asio::io_context silent_io;
    tcp::acceptor silent(silent_io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto silent_port = silent.local_endpoint().port();
    for (const auto port : {free_port(), silent_port}) {
        INFO("port " << port);
        Cluster cluster({"127.0.0.1", port, "", 0, "redis://127.0.0.1/0"});
        auto& a = cluster.add("replica-a");
        a.state = maintenance_state(now_ms(), "replica-a", "local");
        const auto began = Clock::now();
        REQUIRE(cluster.start(a, 300ms, 2s));
        CHECK(Clock::now() - began < 600ms);
        CHECK_FALSE(a.sync.up());
        CHECK(a.state.global_maintenance.message == "local");
        a.sync.push();  // kept pending, no wait
    }
}
