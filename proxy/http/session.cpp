#include "proxy/http/session.hpp"

#include <array>
#include <boost/container/static_vector.hpp>
#include <cassert>
#include <tuple>

#include "config/net.hpp"
#include "proxy/http/header_block.hpp"
#include "proxy/http/header_rewrite.hpp"
#include "proxy/http/maintenance_page.hpp"
#include "proxy/http/parking.hpp"
#include "proxy/http/proxy_protocol.hpp"
#include "proxy/http/relay.hpp"
#include "proxy/http/response_rules.hpp"
#include "proxy/http/tunnel_pump.hpp"
#include "proxy/http/websocket_frames.hpp"
#include "proxy/observe/ops_log.hpp"
#include "proxy/readiness.hpp"
#include "proxy/upstream/health_board.hpp"
#include "routing/balancer.hpp"
#include "routing/cookie.hpp"
#include "routing/forwarded.hpp"
#include "routing/host.hpp"
#include "routing/rate_limit.hpp"
#include "routing/release.hpp"
#include "routing/request_id.hpp"
#include "tls/handshake_failure.hpp"

namespace tg::proxy {
namespace {

constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";
/// What Odoo's /longpolling/poll answers when its timeout passes without a notification: the
/// bus client polls again at once, and a poll parked on a drained colour lands on the new one.
constexpr std::string_view empty_poll_result = R"({"jsonrpc": "2.0", "id": null, "result": []})";
/// RFC 6455 §7.4.1: 1012, the service is restarting; the client reconnects.
constexpr std::uint16_t websocket_service_restart = 1012;
constexpr std::size_t max_endpoints_tracked = 64;
constexpr std::size_t idle_buffer_capacity = 16 * 1024;

config::IpAddress to_ip(const asio::ip::address& address) {
    config::IpAddress ip;
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
    } else {
        ip.v6 = true;
        const auto bytes = address.to_v6().to_bytes();
        std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
    }
    return ip;
}

tcp::endpoint to_endpoint(const proxy_protocol::Endpoint& endpoint) {
    const auto& bytes = endpoint.address.bytes;
    if (!endpoint.address.v6) {
        asio::ip::address_v4::bytes_type v4;
        std::copy_n(bytes.begin(), v4.size(), v4.begin());
        return {asio::ip::address_v4(v4), endpoint.port};
    }
    asio::ip::address_v6::bytes_type v6;
    std::copy_n(bytes.begin(), v6.size(), v6.begin());
    return {asio::ip::address_v6(v6), endpoint.port};
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

/// Splits an absolute-form target (RFC 9112 §3.2.2) into its authority and origin-form rest.
bool split_absolute_form(std::string_view target, std::string_view& authority,
                         std::string_view& rest) {
    std::size_t scheme_end = 0;
    if (target.size() > 7 && beast::iequals(target.substr(0, 7), "http://"))
        scheme_end = 7;
    else if (target.size() > 8 && beast::iequals(target.substr(0, 8), "https://"))
        scheme_end = 8;
    else
        return false;
    const auto tail = target.substr(scheme_end);
    const auto slash = tail.find_first_of("/?");
    authority = tail.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view("/") : tail.substr(slash);
    return true;
}

bool request_has_body(const RequestParser& parser) {
    return parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
}

bool safe_to_retry(http::verb method) {
    return method == http::verb::get || method == http::verb::head;
}

}  // namespace

template <class Stream>
Session<Stream>::Session(ClientConnection<Stream>& connection)
    : connection_(connection), worker_(connection.worker), listener_(connection.listener) {}

template <class Stream>
asio::awaitable<typename Session<Stream>::End> Session<Stream>::run() {
    // A connection back from parking has had these done.
    if (connection_.first_request) {
        if (listener_.proxy_protocol && !co_await read_proxy_header()) {
            error_code ignored;
            connection_.socket().close(ignored);
            co_return End::closed;
        }
        if (!co_await handshake()) {
            error_code ignored;
            connection_.socket().close(ignored);
            co_return End::closed;
        }
    }
    auto next = Next::keep_alive;
    while ((next = co_await serve_one()) == Next::keep_alive) {
    }
    if (next == Next::park) co_return End::idle;
    if (next == Next::tunnel) {
        // Run from here, not from inside serve_one: the coroutine frames and the relay buffer
        // of the exchange that upgraded are released while the tunnel idles, and so are the
        // header fields (the request line stays, for the access log).
        request_parser_->get().clear();
        response_parser_.reset();
        co_await tunnel(*tunnel_upstream_);
        tunnel_upstream_.reset();
        finish();
    }
    // close() alone sends the FIN (or, with unread bytes, the RST) a shutdown would have.
    error_code ignored;
    connection_.socket().close(ignored);
    co_return End::closed;
}

/// Read from the socket before anything else (before TLS), bounded by client_header, and
/// believed only from a trusted_proxies peer. Its source becomes the client everywhere the peer
/// would be: X-Forwarded-For, X-Real-IP, limits, maintenance_bypass, the access log.
/// Bytes read past the header stay in the connection's buffer for the request or the TLS
/// handshake.
template <class Stream>
asio::awaitable<bool> Session<Stream>::read_proxy_header() {
    generation_ = worker_.generation();
    const auto& config = generation_->config();
    if (!config::contains_any(config.trusted_proxies, to_ip(connection_.peer.address()))) {
        log_proxy_refusal("peer not in trusted_proxies");
        co_return false;
    }
    arm(config.timeouts.client_header);
    for (;;) {
        const auto data = connection_.buffer.data();
        const auto result =
            proxy_protocol::parse({static_cast<const std::uint8_t*>(data.data()), data.size()});
        if (result.status == proxy_protocol::Status::malformed) {
            connection_.slot.disarm();
            log_proxy_refusal(result.reason);
            co_return false;
        }
        if (result.status == proxy_protocol::Status::parsed) {
            connection_.slot.disarm();
            connection_.buffer.consume(result.header.length);
            if (!result.header.local) {
                connection_.set_peer(to_endpoint(result.header.source));
                connection_.proxy_destination = to_endpoint(result.header.destination);
            }
            co_return true;
        }
        // parse() decides within max_length bytes, so there is always room to read into.
        assert(connection_.buffer.size() < proxy_protocol::max_length);
        // Asio's own read, not a drained one: the bytes read past the header may be a TLS
        // handshake's, which the SSL object takes from memory, so its first call must be tried
        // at once, not left waiting for an edge that comes only once the server has answered.
        error_code ec = reactor_access::register_for_waits(worker_.reactor(), connection_.socket());
        std::size_t n = 0;
        if (!ec)
            std::tie(ec, n) = co_await connection_.socket().async_read_some(
                connection_.buffer.prepare(proxy_protocol::max_length - connection_.buffer.size()),
                use_nothrow);
        connection_.buffer.commit(n);
        if (ec) {
            connection_.slot.disarm();
            log_proxy_refusal(connection_.slot.timed_out()
                                  ? "no complete header within client_header"
                                  : "closed before a complete header");
            co_return false;
        }
    }
}

template <class Stream>
void Session<Stream>::log_proxy_refusal(std::string_view reason) {
    std::uint64_t held_back = 0;
    if (!listener_.refusal_log->admit(Clock::now(), held_back)) return;
    const auto held = std::to_string(held_back);
    ops_log::warn("PROXY header refused, connection closed", {{"listener", listener_.name},
                                                              {"peer", connection_.peer_ip},
                                                              {"reason", reason},
                                                              {"held_back", held, true}});
}

/// The TLS handshake, bounded by client_header like the header block it precedes.
template <class Stream>
asio::awaitable<bool> Session<Stream>::handshake() {
    if constexpr (std::is_same_v<Stream, tcp::socket>)
        co_return true;
    else {
        generation_ = worker_.generation();
        arm(generation_->config().timeouts.client_header);
        // The ClientHello, or its start, may have come in with the PROXY header.
        auto [ec, used] = co_await connection_.stream.async_handshake(
            asio::ssl::stream_base::server, connection_.buffer.data(), use_nothrow);
        connection_.buffer.consume(used);
        // Only a ClientHello may precede the server's answer (no 0-RTT data here).
        if (!ec && connection_.buffer.size() != 0) ec = asio::ssl::error::unexpected_result;
        connection_.slot.disarm();
        if (ec) {
            const bool silent = ec == asio::error::eof || ec == asio::error::connection_reset;
            if constexpr (record_metrics)
                worker_.metrics().tls_handshake_failure(
                    listener_.name, connection_.slot.timed_out() ? std::string_view("timeout")
                                    : silent                     ? std::string_view("client_closed")
                                             : tls::handshake_failure_reason(ec));
            co_return false;
        }
        co_return true;
    }
}

template <class Stream>
Clock::duration Session<Stream>::route_timeout() const {
    const auto& timeouts = generation_->config().timeouts;
    return route_ == routing::Route::longpolling ? timeouts.longpolling
                                                 : timeouts.upstream_response;
}

template <class Stream>
void Session<Stream>::begin_exchange() {
    started_ = Clock::now();
    tenant_.reset();
    series_ = nullptr;
    pool_name_ = {};
    route_ = routing::Route::web;
    color_ = {};
    maintenance_ = nullptr;
    connection_.slot.untag_release();
    websocket_ = false;
    client_keep_alive_ = false;
    status_ = 0;
    bytes_in_ = 0;
    bytes_out_ = 0;
    upstream_label_.clear();
    host_.clear();
    request_id_.clear();
    client_ip_ = connection_.peer_ip;
    request_parser_.reset();
    response_parser_.reset();
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::serve_one() {
    begin_exchange();
    switch (co_await admit()) {
        case Admission::complete:
            break;
        case Admission::idle:
            co_return Next::park;
        case Admission::closed:
            co_return Next::close;
        case Admission::timed_out:
            co_return co_await respond_error(ErrorKind::header_timeout);
        case Admission::too_large:
            co_return co_await respond_error(ErrorKind::headers_too_large);
        case Admission::malformed:
            co_return co_await respond_error(ErrorKind::bad_request);
    }
    if (auto error = parse_header_block()) co_return co_await respond_error(*error);
    use_origin_form();
    if (needs_https_redirect()) co_return co_await respond_redirect();
    if (auto error = route()) co_return co_await respond_error(*error);
    if (auto error = apply_policy()) co_return co_await respond_error(*error);
    co_return co_await forward();
}

/// Waits for one complete header block: idle keep-alive time until the first byte, then
/// client_header for the whole block (slowloris defence), within max_header_bytes.
template <class Stream>
asio::awaitable<typename Session<Stream>::Admission> Session<Stream>::admit() {
    if (generation_ != worker_.generation()) generation_ = worker_.generation();
    const auto& config = generation_->config();
    const std::size_t limit = config.limits.max_header_bytes;
    bool waiting_for_first_byte = connection_.buffer.size() == 0;
    const bool between_requests = waiting_for_first_byte && !connection_.first_request;
    const auto now = Clock::now();
    connection_.slot.set_phase(waiting_for_first_byte ? ConnectionSlot::Phase::idle
                                                      : ConnectionSlot::Phase::request);
    connection_.slot.arm(
        now, between_requests ? config.timeouts.client_idle : config.timeouts.client_header);
    if (between_requests) connection_.idle_since = now;
    if constexpr (!reads_directly<Stream>) {
        // A buffer grown by a large request is returned while idle; a normal one is kept, so a
        // keep-alive request costs no allocation.
        if (waiting_for_first_byte && connection_.buffer.capacity() > idle_buffer_capacity)
            connection_.buffer.shrink_to_fit();
    }
    std::size_t checked = 0;  // bytes of the unfinished block found strict so far
    for (;;) {
        const std::string_view data(static_cast<const char*>(connection_.buffer.data().data()),
                                    connection_.buffer.size());
        if (const auto length = header_block_length(data.substr(0, limit)); length != 0) {
            header_length_ = length;
            connection_.slot.set_phase(ConnectionSlot::Phase::request);
            co_return Admission::complete;
        }
        // A bare LF, a fold or a NUL already received spoils the block whatever follows: 400
        // now (SPEC §3), instead of a 408 or 431 once the client gives up or fills the limit.
        if (!header_block_is_strict(data, checked)) co_return Admission::malformed;
        // The last byte is checked again with the next read: a LF there may start a fold.
        checked = data.empty() ? 0 : data.size() - 1;
        if (data.size() >= limit) co_return Admission::too_large;
        if (waiting_for_first_byte && worker_.draining()) co_return Admission::closed;
        error_code ec;
        std::size_t n = 0;
        if constexpr (reads_directly<Stream>) {
            // Between two requests the connection holds no buffer (SPEC §3's client_idle
            // wait): the read takes the worker's buffers once the socket has bytes.
            if (connection_.buffer.size() == 0 && connection_.buffer.capacity() != 0)
                worker_.exchange_buffers().give_back(connection_.buffer, connection_.header_text);
            // Parked at once (proxy/http/parking.hpp) unless its requests came sooner than
            // park_delay: then it waits here, and the sweep parks it after park_delay.
            if (between_requests && waiting_for_first_byte) {
                if (!connection_.comes_back_soon) co_return Admission::idle;
                connection_.slot.park_at(now + park_delay);
            }
            std::tie(ec, n) =
                co_await async_read_drained(worker_.reactor(), connection_.socket(),
                                            ClientReadTarget{&connection_, limit}, use_nothrow);
            const bool park_due = connection_.slot.end_park_wait();
            if (park_due && ec && connection_.buffer.size() == 0 && !connection_.slot.timed_out() &&
                !worker_.draining())
                co_return Admission::idle;
        } else {
            // A TLS stream is read through its SSL object, which may hold bytes the socket no
            // longer shows.
            if (connection_.buffer.capacity() == 0)
                worker_.exchange_buffers().take(connection_.buffer, connection_.header_text);
            std::tie(ec, n) = co_await connection_.stream.async_read_some(
                connection_.buffer.prepare(header_read_size(connection_.buffer, limit)),
                use_nothrow);
        }
        connection_.buffer.commit(n);
        if (ec) {
            // A timeout with nothing of a request yet is an idle keep-alive ending: no answer.
            if (connection_.slot.timed_out() && connection_.buffer.size() != 0)
                co_return Admission::timed_out;
            co_return Admission::closed;
        }
        if (waiting_for_first_byte) {
            waiting_for_first_byte = false;
            started_ = Clock::now();
            connection_.slot.set_phase(ConnectionSlot::Phase::request);
            arm(config.timeouts.client_header);
        }
    }
}

template <class Stream>
std::optional<ErrorKind> Session<Stream>::parse_header_block() {
    // The generation is taken when the request is complete, not when the keep-alive wait
    // began: a request that arrives after a reload is served by the new config.
    if (generation_ != worker_.generation()) generation_ = worker_.generation();
    connection_.first_request = false;
    const auto& limits = generation_->config().limits;
    const std::string_view block(static_cast<const char*>(connection_.buffer.data().data()),
                                 header_length_);
    auto& parser = request_parser_.emplace();
    parser.eager(false);
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_request_body);
    bytes_in_ = header_length_;
    if (!header_block_is_strict(block)) return ErrorKind::bad_request;
    error_code ec;
    parser.put(asio::buffer(block.data(), block.size()), ec);
    connection_.buffer.consume(header_length_);
    if (ec == http::error::body_limit) return ErrorKind::body_too_large;
    if (ec || !parser.is_header_done()) return ErrorKind::bad_request;
    client_keep_alive_ = parser.keep_alive();
    client_version_ = parser.get().version();
    const auto& request = parser.get();
    if (!request_framing_is_valid(request)) return ErrorKind::bad_request;
    return std::nullopt;
}

/// `redirect_https`: every request goes to https, except ACME HTTP-01 challenges, which a
/// certificate authority fetches over plain HTTP (RFC 8555 §8.3).
/// RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host; the upstream, the
/// router and the https redirect all see the origin form.
template <class Stream>
void Session<Stream>::use_origin_form() {
    auto& request = request_parser_->get();
    std::string_view authority;
    std::string_view rest;
    if (!split_absolute_form(request.target(), authority, rest)) return;
    const std::string origin_form(rest);
    request.set(http::field::host, authority);
    request.target(origin_form);
}

template <class Stream>
bool Session<Stream>::needs_https_redirect() const {
    if (!listener_.redirect_https) return false;
    const auto& request = request_parser_->get();
    return !request.target().starts_with("/.well-known/acme-challenge/") &&
           request.count(http::field::host) == 1;
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::respond_redirect() {
    const auto& request = request_parser_->get();
    if (!routing::normalize_host(request[http::field::host], host_))
        co_return co_await respond_error(ErrorKind::bad_request);
    routing::make_request_id(worker_.random(), worker_.random(), request_id_);
    const std::string location =
        "Location: https://" + host_ + std::string(request.target()) + "\r\n";
    const bool close = request_parser_->chunked() ||
                       request_parser_->content_length().value_or(0) > 0 || !client_keep_alive_ ||
                       worker_.draining();
    status_ = 308;
    co_return co_await send_local_response(close, location);
}

template <class Stream>
std::optional<ErrorKind> Session<Stream>::route() {
    auto& request = request_parser_->get();
    const auto host = request.find(http::field::host);
    if (host == request.end()) return ErrorKind::bad_request;
    original_host_.assign(host->value());
    if (!routing::normalize_host(original_host_, host_)) return ErrorKind::bad_request;

    const auto request_id = request.find("X-Request-Id");
    if (request_id != request.end() && routing::is_valid_request_id(request_id->value()))
        request_id_.assign(request_id->value());
    else
        routing::make_request_id(worker_.random(), worker_.random(), request_id_);

    tenant_ = generation_->hosts().match(host_);
    if (!tenant_) return ErrorKind::unknown_host;
    if constexpr (record_metrics)
        series_ = &worker_.metrics().tenant(tenant_->name, tenant_->from_template);
    route_ = routing::classify_route(request.target());
    websocket_ = is_websocket_upgrade(request);
    return std::nullopt;
}

template <class Stream>
std::optional<ErrorKind> Session<Stream>::apply_policy() {
    const auto& config = generation_->config();
    const auto& request = request_parser_->get();
    const auto peer = to_ip(connection_.peer.address());
    std::string incoming;
    for (const auto& field : request.matching("X-Forwarded-For")) {
        if (!incoming.empty()) incoming.append(", ");
        incoming.append(field.value());
    }
    routing::forwarded_for(connection_.peer_ip, peer, incoming, config.trusted_proxies,
                           forwarded_for_, client_ip_);

    // SPEC §3's order: maintenance before the limits, so a tenant in maintenance spends none.
    const auto bypasses = [&] {
        const auto client = client_address(peer);
        return client && config::contains_any(config.maintenance_bypass, *client);
    };
    if (const Maintenance* maintenance = generation_->maintenance(*tenant_)) {
        if (!bypasses()) {
            maintenance_ = maintenance;
            return ErrorKind::maintenance;
        }
    }
    if (!tenant_->policy->database_manager_allow &&
        routing::is_database_manager_path(request.target()) && !bypasses())
        return ErrorKind::forbidden;
    return apply_limits(peer);
}

/// SPEC §4: the per-client bucket, the tenant's bucket, then its in-flight slot. Tenants
/// without limits pay only the three tests of the policy.
template <class Stream>
std::optional<ErrorKind> Session<Stream>::apply_limits(const config::IpAddress& peer) {
    const auto& policy = *tenant_->policy;
    if (!policy.rate_limit && !policy.per_client_rate_limit && policy.max_in_flight == 0)
        return std::nullopt;
    std::optional<config::IpAddress> client;
    if (policy.per_client_rate_limit) client = client_address(peer);
    TenantBudget* budget = tenant_->from_template ? nullptr : generation_->budget(tenant_->index);
    const auto refusal =
        generation_->limiter().admit(*tenant_, budget, client ? &*client : nullptr,
                                     started_.time_since_epoch(), in_flight_ticket_);
    if (!refusal) return std::nullopt;
    if constexpr (record_metrics)
        series_->rate_limited[static_cast<std::size_t>(refusal->reason)].add();
    retry_after_seconds_ = routing::retry_after_seconds(refusal->retry_after);
    return ErrorKind::rate_limited;
}

template <class Stream>
std::optional<config::IpAddress> Session<Stream>::client_address(
    const config::IpAddress& peer) const {
    return client_ip_ == connection_.peer_ip ? std::optional(peer) : config::parse_ip(client_ip_);
}

template <class Stream>
std::optional<typename Session<Stream>::UpstreamChoice> Session<Stream>::choose_endpoint(
    EndpointsTried& tried, bool& no_endpoint) {
    const auto& pool_name = generation_->active_pool(*tenant_);
    pool_name_ = pool_name;
    // Every named tenant's connection is tagged: a release drains the colour it left, a removed
    // tenant drains them all.
    if (!tenant_->from_template) {
        const auto color = generation_->active_color(*tenant_);
        if (tenant_->policy->release) color_ = routing::color_name(color);
        connection_.slot.tag_release(tenant_->name, color, false);
    }
    const ResolvedPool* pool = generation_->pool(pool_name);
    const bool longpolling_list =
        route_ == routing::Route::longpolling && !pool->longpolling.empty();
    const auto& endpoints = longpolling_list ? pool->longpolling : pool->web;
    no_endpoint = endpoints.empty();
    if (no_endpoint) return std::nullopt;
    passive_fall_ = passive_fall(*pool->config);

    // Healthy: passing the pool's active check and not ejected by this worker's passive one.
    // Filled only as far as the pool goes: an array would write all 64 views every request.
    const HealthBoard& board = generation_->health();
    boost::container::static_vector<routing::EndpointView, max_endpoints_tracked> views;
    const std::size_t count = std::min(endpoints.size(), views.capacity());
    for (std::size_t i = 0; i < count; ++i) {
        const auto& load = worker_.upstreams().load(endpoints[i].address);
        const bool checked_up = longpolling_list ? board.longpolling_up(pool->health, i)
                                                 : board.web_up(pool->health, i);
        views.push_back(
            {checked_up && load.passive.available(started_), load.in_flight, endpoints[i].id});
    }

    std::optional<std::string_view> affinity;
    if (pool->config->balance == config::Balance::cookie_hash) {
        const auto& request = request_parser_->get();
        if (const auto cookie = request.find(http::field::cookie); cookie != request.end())
            affinity = routing::odoo_session_id(cookie->value());
    }
    const routing::BalanceRequest balance{pool->config->balance, std::span(views.data(), count),
                                          tried.excluded, affinity, tried.avoided};
    const auto chosen = routing::select_endpoint(balance, worker_.round_robin_cursor(pool_name));
    if (!chosen) return std::nullopt;
    tried.current = std::uint64_t{1} << *chosen;
    const auto& endpoint = endpoints[*chosen];
    upstream_label_ = endpoint.label;

    // send_proxy_protocol: the upstream takes the connection's first bytes as the client's
    // address, so a kept connection serves that client again and no other.
    UpstreamChoice choice{&endpoint, std::nullopt};
    if (pool->config->send_proxy_protocol) {
        const auto peer = to_ip(connection_.peer.address());
        choice.proxied_for = client_address(peer).value_or(peer);
    }
    return choice;
}

template <class Stream>
std::shared_ptr<UpstreamConnection> Session<Stream>::lease_idle(const UpstreamChoice& choice) {
    if (websocket_) return nullptr;
    const auto& proxied_for = choice.proxied_for;
    return worker_.upstreams().lease(choice.endpoint->address,
                                     proxied_for ? &*proxied_for : nullptr);
}

template <class Stream>
asio::awaitable<std::shared_ptr<UpstreamConnection>> Session<Stream>::connect_upstream(
    const UpstreamChoice& choice, EndpointsTried& tried) {
    const auto& endpoint = *choice.endpoint;
    const auto& proxied_for = choice.proxied_for;
    auto connection =
        std::make_shared<UpstreamConnection>(connection_.socket().get_executor(), endpoint.address);
    connection_.slot.watch_upstream(&connection->socket);
    arm(generation_->config().timeouts.upstream_connect);
    auto [ec] = co_await connection->socket.async_connect(endpoint.address, use_nothrow);
    if (!ec && proxied_for) {
        // The client's port is known only when it is the peer, not from X-Forwarded-For.
        const proxy_protocol::Endpoint source{*proxied_for, client_ip_ == connection_.peer_ip
                                                                ? connection_.peer.port()
                                                                : std::uint16_t{0}};
        const tcp::endpoint local = connection_.proxy_destination
                                        ? *connection_.proxy_destination
                                        : connection_.socket().local_endpoint(ec);
        std::array<std::uint8_t, proxy_protocol::max_written_length> header;
        const std::size_t length =
            proxy_protocol::write_v2(source, {to_ip(local.address()), local.port()}, header);
        if (!ec)
            std::tie(ec, std::ignore) =
                co_await write_bytes(connection->socket, asio::buffer(header.data(), length));
        connection->proxied_for = proxied_for;
    }
    connection_.slot.watch_upstream(nullptr);
    if (ec) {
        tried.excluded |= tried.current;  // a retry goes to another endpoint
        count_upstream_error("connect_failed");
        record_health(worker_.upstreams().load(endpoint.address).passive, false);
        ops_log::warn("upstream connect failed",
                      {{"upstream", endpoint.label},
                       {"reason", connection_.slot.timed_out() ? "timed out" : ec.message()}});
        co_return nullptr;
    }
    connection->socket.set_option(tcp::no_delay(true), ec);
    enable_direct_writes(connection->socket, ec);
    co_return connection;
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::forward() {
    auto& parser = *request_parser_;
    auto& request = parser.get();
    const bool has_body = request_has_body(parser);
    const bool expects_continue =
        has_body && beast::iequals(request[http::field::expect], "100-continue");
    if (expects_continue) request.erase(http::field::expect);
    rewrite_upstream_request(
        request,
        {forwarded_for_, client_ip_, connection_.peer_ip, listener_.tls ? "https" : "http",
         config::contains_any(generation_->config().trusted_proxies,
                              to_ip(connection_.peer.address())),
         original_host_, request_id_, tenant_->name, tenant_->policy->odoo_dbfilter_header},
        websocket_);
    connection_.slot.set_phase(ConnectionSlot::Phase::request);
    if constexpr (record_metrics) {
        series_->in_flight.add(1);
        counted_in_flight_ = true;
    }

    EndpointsTried tried;
    bool continue_sent = false;
    bool allow_idle = true;
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool no_endpoint = false;
        const auto choice = choose_endpoint(tried, no_endpoint);
        if (no_endpoint) {
            count_upstream_error("no_endpoint");
            co_return co_await respond_error(ErrorKind::no_endpoint);
        }
        // A kept connection is taken without a coroutine of its own: most requests need no
        // connect, and its frame would be one more allocation per request.
        std::shared_ptr<UpstreamConnection> connection;
        if (choice && allow_idle) connection = lease_idle(*choice);
        if (choice && !connection) connection = co_await connect_upstream(*choice, tried);
        if (!connection) {
            if (attempt == 0) continue;  // connect failed before a byte was sent: retry
            co_return co_await respond_error(ErrorKind::connect_failed);
        }
        if (expects_continue && !continue_sent) {
            continue_sent = true;
            arm(generation_->config().timeouts.client_idle);
            auto [ec, n] = co_await write_bytes(connection_.stream, asio::buffer(continue_100));
            if (ec) co_return Next::close;
        }
        // Held across the exchange: prune() keeps an endpoint with a request in flight.
        auto& load = worker_.upstreams().load(connection->endpoint);
        ++load.in_flight;
        const Attempt outcome = co_await exchange(connection, has_body);
        --load.in_flight;
        if (const auto healthy = endpoint_health_shown(*connection, outcome))
            record_health(load.passive, *healthy);
        switch (outcome) {
            case Attempt::responded:
                co_return co_await relay_response(std::move(connection));
            case Attempt::client_failed:
                status_ = 499;
                finish();
                co_return Next::close;
            case Attempt::client_timed_out:
                co_return co_await respond_error(ErrorKind::body_timeout);
            case Attempt::release_drained:
                co_return co_await answer_drained_poll();
            case Attempt::request_malformed:
                co_return co_await respond_error(ErrorKind::bad_request);
            case Attempt::request_too_large:
                co_return co_await respond_error(ErrorKind::body_too_large);
            case Attempt::upstream_timeout:
                count_upstream_error("timeout");
                co_return co_await respond_error(ErrorKind::upstream_timeout);
            case Attempt::upstream_protocol:
                count_upstream_error("protocol");
                co_return co_await respond_error(ErrorKind::upstream_protocol);
            case Attempt::connect_failed:
            case Attempt::failed_before_response:
                if (outcome == Attempt::failed_before_response)
                    count_upstream_error("closed_before_response");
                // Nothing was consumed from the client and GET/HEAD are idempotent: one retry,
                // on a new connection (the failed one may be a keep-alive the upstream closed),
                // to another endpoint if a healthy one is left (this one may have just died).
                if (attempt == 0 && !has_body && safe_to_retry(request.method())) {
                    allow_idle = false;
                    tried.avoided |= tried.current;
                    continue;
                }
                co_return co_await respond_error(ErrorKind::connect_failed);
        }
    }
    co_return co_await respond_error(ErrorKind::connect_failed);
}

template <class Stream>
std::optional<bool> Session<Stream>::endpoint_health_shown(const UpstreamConnection& connection,
                                                           Attempt outcome) const {
    switch (outcome) {
        case Attempt::responded:
            return !PassiveHealth::failed_status(response_parser_->get().result_int());
        case Attempt::upstream_timeout:
        case Attempt::upstream_protocol:
            return false;
        case Attempt::connect_failed:
        case Attempt::failed_before_response:
            // A reused keep-alive the upstream closed meanwhile says nothing of its health.
            if (connection.idle_epoch == 0) return false;
            return std::nullopt;
        case Attempt::client_failed:
        case Attempt::client_timed_out:
        case Attempt::release_drained:
        case Attempt::request_malformed:
        case Attempt::request_too_large:
            return std::nullopt;  // the client's doing
    }
    return std::nullopt;
}

template <class Stream>
void Session<Stream>::record_health(PassiveHealth& passive, bool success) {
    // Successes need no clock: they only reset the state.
    passive.record(success, success ? started_ : Clock::now(), passive_fall_);
}

/// Sends the request (header and streamed body) and reads the response header.
template <class Stream>
asio::awaitable<typename Session<Stream>::Attempt> Session<Stream>::exchange(
    std::shared_ptr<UpstreamConnection>& connection, bool has_body) {
    auto& upstream = connection->socket;
    connection_.slot.watch_upstream(&upstream);
    RelayResult sent;
    {
        // Returned before the wait for the response: a parked long poll holds no relay buffer.
        auto lease = worker_.buffers().borrow();
        // A plain client's body is read as an upstream's response is, through DrainedReads.
        decltype(auto) client_reads = [&]() -> decltype(auto) {
            if constexpr (reads_directly<Stream>)
                return DrainedReads(worker_.reactor(), connection_.socket());
            else
                return (connection_.stream);
        }();
        // A client that stops sending its body is given client_idle between reads, whatever
        // the route: the longpolling route's long timeout is for Odoo's answer, not for the
        // client, and a stalled upload holds an upstream connection as well as its own.
        sent = co_await relay_message(client_reads, connection_.buffer, *request_parser_, upstream,
                                      connection_.slot, generation_->config().timeouts.client_idle,
                                      route_timeout(), lease.span(), connection_.header_text, true);
    }
    // Nor does it keep the header text it sent (the response's is rendered when it comes).
    if (route_ == routing::Route::longpolling) std::string().swap(connection_.header_text);
    bytes_in_ += sent.body_bytes;
    if (sent.read_error == http::error::body_limit) co_return Attempt::request_too_large;
    if (sent.read_error.category() == make_error_code(http::error::bad_chunk).category())
        co_return Attempt::request_malformed;  // bad chunk framing, a body cut short
    if (sent.read_error)
        co_return connection_.slot.timed_out() ? Attempt::client_timed_out : Attempt::client_failed;
    if (sent.write_error)
        co_return has_body ? Attempt::upstream_protocol : Attempt::failed_before_response;

    arm(route_timeout());
    if (route_ == routing::Route::web)
        connection->buffer.reserve(UpstreamConnection::read_capacity);
    DrainedReads upstream_reads(worker_.reactor(), upstream);
    // Parked until the upstream answers: a drain of this colour may close it at its deadline.
    const bool parks = route_ == routing::Route::longpolling && !websocket_;
    if (parks) connection_.slot.set_long_lived(true);
    const auto start_response = [&]() -> auto& {
        auto& parser = response_parser_.emplace();
        parser.body_limit(boost::none);
        parser.header_limit(
            static_cast<std::uint32_t>(generation_->config().limits.max_header_bytes));
        if (request_parser_->get().method() == http::verb::head) parser.skip(true);
        return parser;
    };
    for (;;) {
        auto& response_parser = start_response();
        auto [ec, _] = co_await http::async_read_header(upstream_reads, connection->buffer,
                                                        response_parser, use_nothrow);
        if (ec) {
            const bool drained = parks && connection_.slot.closing_for_release();
            if (parks)
                connection_.slot.set_long_lived(false);  // whatever is answered now is not cut
            if (drained) co_return Attempt::release_drained;
            if (connection_.slot.timed_out()) co_return Attempt::upstream_timeout;
            const bool nothing_received = ec == http::error::end_of_stream ||
                                          ec == asio::error::connection_reset ||
                                          ec == asio::error::eof;
            co_return nothing_received ? Attempt::failed_before_response
                                       : Attempt::upstream_protocol;
        }
        const unsigned status = response_parser.get().result_int();
        if (status >= 200 || status == 101) break;
        if (relays_interim(status, client_version_) && !co_await relay_interim())
            co_return Attempt::client_failed;
    }
    // Answered: the response is relayed to its end whatever a drain decides meanwhile.
    if (parks) connection_.slot.set_long_lived(false);
    if (!response_framing_is_valid(*response_parser_)) co_return Attempt::upstream_protocol;
    co_return Attempt::responded;
}

/// Sends the interim response just read (a 103 Early Hints, say) on to the client, without
/// hop-by-hop fields; false when the client is gone.
template <class Stream>
asio::awaitable<bool> Session<Stream>::relay_interim() {
    auto& interim = response_parser_->get();
    strip_hop_by_hop(interim, false);
    interim.version(11);
    connection_.header_text.clear();
    render_header(interim, connection_.header_text);
    auto [ec, n] = co_await write_bytes(connection_.stream, asio::buffer(connection_.header_text));
    bytes_out_ += n;
    co_return !ec;
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::relay_response(
    std::shared_ptr<UpstreamConnection> connection) {
    auto& parser = *response_parser_;
    auto& response = parser.get();
    status_ = response.result_int();
    const bool switching = status_ == 101 && websocket_;
    const bool has_body = response_has_body(request_parser_->get().method(), status_);
    const bool upstream_reusable =
        !switching && upstream_reusable_after(has_body, {parser.keep_alive(), parser.chunked(),
                                                         parser.content_length().value_or(0)});
    bool keep_alive = client_keep_alive_ && !worker_.draining();
    if (!switching) {
        strip_hop_by_hop(response, false);
        keep_alive = frame_response_for_client(parser, client_version_, keep_alive);
    } else {
        response.version(11);
    }
    response.set("X-Request-Id", request_id_);
    if (listener_.tls) {
        if (!listener_.hsts.empty())
            response.set(http::field::strict_transport_security, listener_.hsts);
        harden_session_cookies(response);
    }

    auto lease = worker_.buffers().borrow();
    DrainedReads upstream_reads(worker_.reactor(), connection->socket);
    const auto relayed = co_await relay_message(
        upstream_reads, connection->buffer, parser, connection_.stream, connection_.slot,
        route_timeout(), route_timeout(), lease.span(), connection_.header_text, has_body);
    bytes_out_ += relayed.bytes_written;
    connection_.slot.watch_upstream(nullptr);
    if (relayed.read_error || relayed.write_error) {
        if (relayed.write_error) status_ = 499;
        finish();
        co_return Next::close;
    }
    if (switching) {
        tunnel_upstream_ = std::move(connection);
        co_return Next::tunnel;
    }
    if (upstream_reusable && !worker_.draining() &&
        generation_->serves_endpoint(connection->endpoint))
        worker_.upstreams().keep(std::move(connection), Clock::now());
    finish();
    co_return keep_alive ? Next::keep_alive : Next::close;
}

/// Moves WebSocket bytes both ways until either side closes (RFC 6455 frames pass untouched).
template <class Stream>
asio::awaitable<void> Session<Stream>::tunnel(UpstreamConnection& connection) {
    connection_.slot.set_phase(ConnectionSlot::Phase::tunnel);
    connection_.slot.watch_upstream(&connection.socket);
    const auto idle = generation_->config().timeouts.longpolling;
    arm(idle);
    // Bytes that arrived behind the handshakes belong to the tunnel.
    if (connection_.buffer.size() != 0) {
        auto [ec, n] = co_await write_bytes(connection.socket, connection_.buffer.data());
        if (ec) co_return;
        bytes_in_ += n;
        connection_.buffer.consume(n);
    }
    TunnelPump<Stream> pump(worker_.reactor(), connection_.stream, connection.socket,
                            worker_.buffers(), connection_.slot, idle, bytes_in_, bytes_out_);
    connection_.slot.set_long_lived(true);
    if (connection.buffer.size() != 0) {
        const auto early = connection.buffer.data();
        pump.sent_to_client({static_cast<const char*>(early.data()), early.size()});
        auto [ec, n] = co_await write_bytes(connection_.stream, early);
        if (ec) co_return;
        bytes_out_ += n;
        connection.buffer.consume(n);
    }
    connection_.buffer.shrink_to_fit();
    connection.buffer.shrink_to_fit();
    std::string().swap(connection_.header_text);
    leave_in_flight();  // tunnels are bounded by max_connections, not max_in_flight (SPEC §4)
    if constexpr (record_metrics) series_->tunnels.add(1);
    co_await pump.run();
    if constexpr (record_metrics) series_->tunnels.add(-1);
    connection_.slot.watch_upstream(nullptr);
    error_code ignored;
    connection.socket.close(ignored);
    if (pump.stopped_at_boundary()) {
        // RFC 6455 §7.4.1: 1012, the server is restarting; Odoo's bus client reconnects, and the
        // new connection goes to the colour now active.
        const std::string close = websocket_close_frame(websocket_service_restart, "release");
        arm(TunnelPump<Stream>::boundary_wait);
        auto [ec, n] = co_await write_bytes(connection_.stream, asio::buffer(close));
        if (!ec) bytes_out_ += n;
    }
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::respond_error(ErrorKind kind) {
    if (request_id_.empty())
        routing::make_request_id(worker_.random(), worker_.random(), request_id_);
    const bool has_unread_body =
        request_parser_ && request_parser_->is_header_done() && !request_parser_->is_done();
    const bool close =
        closes_connection(kind) || has_unread_body || !client_keep_alive_ || worker_.draining();
    status_ = status_of(kind);
    std::string extra = listener_.tls && !listener_.hsts.empty()
                            ? "Strict-Transport-Security: " + listener_.hsts + "\r\n"
                            : "";
    if (kind == ErrorKind::rate_limited)
        extra.append("Retry-After: ").append(std::to_string(retry_after_seconds_)).append("\r\n");
    if (kind != ErrorKind::maintenance) co_return co_await send_local_response(close, extra);
    extra.append("Retry-After: ").append(std::to_string(maintenance_->retry_after)).append("\r\n");
    extra.append("Cache-Control: no-store\r\n");
    co_return co_await send_local_response(close, extra, maintenance_page(maintenance_->message),
                                           "text/html; charset=utf-8");
}

/// A long poll parked on a colour whose drain deadline passed: Odoo's poll gets the empty
/// result it gets on its own timeout, so the bus client polls again at once (on the new
/// colour); another long-lived path is closed unanswered, and the client reconnects.
template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::answer_drained_poll() {
    if (path_of(request_parser_->get().target()) != "/longpolling/poll") {
        status_ = 499;
        finish();
        co_return Next::close;
    }
    status_ = 200;
    co_return co_await send_local_response(true, {}, empty_poll_result, "application/json");
}

template <class Stream>
asio::awaitable<typename Session<Stream>::Next> Session<Stream>::send_local_response(
    bool close, std::string_view extra_headers, std::string_view body,
    std::string_view content_type) {
    build_local_response(local_response_, status_, request_id_, close, extra_headers, body,
                         content_type);
    arm(generation_->config().timeouts.client_idle);
    auto [ec, n] = co_await write_bytes(connection_.stream, asio::buffer(local_response_));
    bytes_out_ += n;
    finish();
    co_return close || ec ? Next::close : Next::keep_alive;
}

/// Odoo sets session_id without Secure; over HTTPS the proxy adds Secure and SameSite=Lax so
/// the session cookie never travels in clear and is not sent cross-site (SPEC §3).
template <class Stream>
void Session<Stream>::harden_session_cookies(ProxyFields& response) {
    std::vector<std::string> cookies;
    bool changed = false;
    std::string hardened;
    for (const auto& field : response.matching(http::field::set_cookie)) {
        if (routing::harden_session_cookie(field.value(), hardened)) {
            cookies.push_back(hardened);
            changed = true;
        } else {
            cookies.emplace_back(field.value());
        }
    }
    if (!changed) return;
    response.erase(http::field::set_cookie);
    for (const auto& cookie : cookies) response.insert(http::field::set_cookie, cookie);
}

template <class Stream>
void Session<Stream>::leave_in_flight() {
    in_flight_ticket_.release();
    if (!counted_in_flight_) return;
    series_->in_flight.add(-1);
    counted_in_flight_ = false;
}

template <class Stream>
void Session<Stream>::count_upstream_error(std::string_view reason) {
    if constexpr (record_metrics) worker_.metrics().upstream_error(pool_name_, reason);
}

template <class Stream>
void Session<Stream>::finish() {
    connection_.slot.disarm();
    leave_in_flight();
    const auto elapsed = Clock::now() - started_;
    if constexpr (record_metrics) {
        if (!series_) series_ = &worker_.metrics().tenant({}, false);
        worker_.metrics().request_finished(*series_, static_cast<std::size_t>(route_), status_,
                                           std::chrono::duration<double>(elapsed).count());
    }
    auto& log = worker_.access_log();
    if (!log.enabled()) return;
    std::string_view method;
    std::string_view target;
    if (request_parser_ && request_parser_->is_header_done()) {
        method = request_parser_->get().method_string();
        target = request_parser_->get().target();
    }
    log.record({std::chrono::system_clock::now(), request_id_, client_ip_,
                tenant_ ? tenant_->name : std::string_view{}, routing::route_name(route_), method,
                path_of(target), status_, bytes_in_, bytes_out_,
                std::chrono::duration<double, std::milli>(elapsed).count(), upstream_label_,
                color_});
}

template class Session<tcp::socket>;
template class Session<TlsStream>;

namespace {

/// A connection's coroutine ended by an exception (its frames unwound and closed it).
void log_connection_failure(std::exception_ptr failure) {
    if (!failure) return;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        ops_log::error("connection ended by an exception", {{"reason", e.what()}});
    }
}

asio::awaitable<void> serve_plain(std::unique_ptr<PlainConnection> connection) {
    using End = Session<tcp::socket>::End;
    End end;
    {
        Session<tcp::socket> session(*connection);
        end = co_await session.run();
    }
    if (end == End::idle) park(std::move(connection));
}

asio::awaitable<void> serve_tls(ConnectionTicket ticket, tcp::socket socket, tcp::endpoint peer,
                                const ListenerInfo& listener) {
    const auto& store = ticket.worker().generation()->tls(listener.index);
    auto& worker = ticket.worker();
    TlsConnection connection(std::move(ticket),
                             TlsStream(std::move(socket), store->asio_context(), worker.reactor()),
                             listener, peer);
    Session<TlsStream> session(connection);
    co_await session.run();
}

}  // namespace

void start_plain(std::unique_ptr<PlainConnection> connection) {
    auto& context = connection->worker.context();
    asio::co_spawn(context, serve_plain(std::move(connection)), log_connection_failure);
}

void start_tls(ConnectionTicket ticket, tcp::socket socket, tcp::endpoint peer,
               const ListenerInfo& listener) {
    auto& context = ticket.worker().context();
    asio::co_spawn(context, serve_tls(std::move(ticket), std::move(socket), peer, listener),
                   log_connection_failure);
}

}  // namespace tg::proxy
