#pragma once

#include <optional>
#include <string>

#include "proxy/http/client_connection.hpp"
#include "proxy/http/message_parser.hpp"
#include "proxy/http/proxy_error.hpp"
#include "proxy/io.hpp"
#include "proxy/limits/limiter.hpp"
#include "proxy/upstream/passive_health.hpp"
#include "proxy/worker.hpp"
#include "routing/host_table.hpp"
#include "routing/route_rule.hpp"

namespace tg::proxy {

/// The exchanges of one client connection: a loop of HTTP/1.1 exchanges, each read top to
/// bottom as admit → route → apply_policy → choose_endpoint → forward → relay → finish,
/// and possibly a WebSocket tunnel at the end. Plain and TLS share it through `Stream`.
template <class Stream>
class Session {
  public:
    explicit Session(ClientConnection<Stream>& connection);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// How run() ended: the connection is closed, or (plain only) idle and to be parked.
    enum class End { closed, idle };

    /// Serves requests until the client leaves, a timeout, an error that spoils the framing,
    /// a drain, or a tunnel ends; or until a plain connection is idle between requests for
    /// longer than it is worth holding its coroutine (proxy/http/parking.hpp).
    asio::awaitable<End> run();

  private:
    enum class Admission { complete, idle, closed, timed_out, too_large, malformed };
    /// What follows a request: the next one, parking until it comes, the end, or a byte tunnel
    /// (after 101).
    enum class Next { keep_alive, park, close, tunnel };

    /// How one attempt at an upstream exchange ended.
    enum class Attempt {
        responded,
        connect_failed,
        failed_before_response,
        upstream_timeout,
        upstream_protocol,
        client_failed,
        client_timed_out,  ///< the request body stalled for client_idle
        release_drained,   ///< a parked long poll whose colour's drain deadline passed
        request_malformed,
        request_too_large
    };

    /// The PROXY header a proxy_protocol listener expects first: false when refused.
    asio::awaitable<bool> read_proxy_header();
    /// Logs (throttled) why a connection's PROXY header was refused.
    void log_proxy_refusal(std::string_view reason);
    asio::awaitable<bool> handshake();
    asio::awaitable<Next> serve_one();
    void use_origin_form();
    bool needs_https_redirect() const;
    asio::awaitable<Next> respond_redirect();
    /// Writes the proxy's own response with status `status_` and ends the request.
    asio::awaitable<Next> send_local_response(
        bool close, std::string_view extra_headers, std::string_view body = {},
        std::string_view content_type = default_local_content_type);
    asio::awaitable<Next> answer_drained_poll();
    void harden_session_cookies(ProxyFields& response);
    asio::awaitable<Admission> admit();
    std::optional<ErrorKind> parse_header_block();
    std::optional<ErrorKind> route();
    std::optional<ErrorKind> apply_policy();
    std::optional<ErrorKind> apply_limits(const config::IpAddress& peer);
    /// The client of the request under way (X-Real-IP's address); `peer` is peer_ as an address.
    std::optional<config::IpAddress> client_address(const config::IpAddress& peer) const;
    asio::awaitable<Next> forward();
    asio::awaitable<Attempt> exchange(std::shared_ptr<UpstreamConnection>& connection,
                                      bool has_body);
    /// The endpoints one request's attempts went to; bit i is endpoint i of the list it
    /// balances over.
    struct EndpointsTried {
        std::uint64_t excluded = 0;  ///< connect failed: not tried again
        std::uint64_t avoided = 0;   ///< failed after the request was sent: routing::avoid_mask
        std::uint64_t current = 0;   ///< the endpoint of the attempt under way
    };
    /// The endpoint of one attempt and the client a PROXY header names to it.
    struct UpstreamChoice {
        const ResolvedEndpoint* endpoint;
        std::optional<config::IpAddress> proxied_for;  ///< pools with send_proxy_protocol
    };
    /// Balances over the healthy endpoints of the tenant's active pool; none when every one
    /// is excluded (`no_endpoint` when the pool has none at all).
    std::optional<UpstreamChoice> choose_endpoint(EndpointsTried& tried, bool& no_endpoint);
    /// A kept connection to the chosen endpoint (never for a WebSocket), or null.
    std::shared_ptr<UpstreamConnection> lease_idle(const UpstreamChoice& choice);
    /// A new connection to the chosen endpoint, with the PROXY header sent; null when the
    /// connect failed (logged, counted, and the endpoint excluded from a retry).
    asio::awaitable<std::shared_ptr<UpstreamConnection>> connect_upstream(
        const UpstreamChoice& choice, EndpointsTried& tried);
    asio::awaitable<bool> relay_interim();
    asio::awaitable<Next> relay_response(std::shared_ptr<UpstreamConnection> connection);
    asio::awaitable<void> tunnel(UpstreamConnection& connection);
    asio::awaitable<Next> respond_error(ErrorKind kind);
    void finish();

    void begin_exchange();
    void leave_in_flight();
    void count_upstream_error(std::string_view reason);
    /// What one exchange showed of the endpoint's health, if anything.
    std::optional<bool> endpoint_health_shown(const UpstreamConnection& connection,
                                              Attempt outcome) const;
    /// Feeds this worker's passive health of an endpoint.
    void record_health(PassiveHealth& passive, bool success);
    Clock::duration route_timeout() const;
    void arm(Clock::duration timeout) { connection_.slot.arm(Clock::now(), timeout); }

    ClientConnection<Stream>& connection_;
    Worker& worker_;
    const ListenerInfo& listener_;
    std::shared_ptr<const Generation> generation_;

    // The exchange under way; members so their capacity is reused across requests.
    std::optional<RequestParser> request_parser_;
    std::optional<ResponseParser> response_parser_;
    std::shared_ptr<UpstreamConnection> tunnel_upstream_;  ///< after a 101, until the tunnel ends
    std::size_t header_length_ = 0;
    Clock::time_point started_{};
    std::string request_id_;
    std::string host_;
    std::string original_host_;
    std::string forwarded_for_;
    std::string client_ip_;
    std::string local_response_;
    std::string upstream_label_;
    std::optional<routing::TenantMatch> tenant_;
    TenantSeries* series_ = nullptr;
    bool counted_in_flight_ = false;
    InFlightTicket in_flight_ticket_;           ///< the tenant's max_in_flight slot
    std::int64_t retry_after_seconds_ = 0;      ///< of a 429 being answered
    const Maintenance* maintenance_ = nullptr;  ///< of a 503 being answered
    std::string_view pool_name_;
    int passive_fall_ = PassiveHealth::default_fall;  ///< of the pool being forwarded to
    routing::Route route_ = routing::Route::web;
    std::string_view color_;
    bool client_keep_alive_ = false;
    /// The version of the client's request line: the request is rewritten to HTTP/1.1 for the
    /// upstream, but the response must be one the client can read.
    unsigned client_version_ = 11;
    bool websocket_ = false;
    unsigned status_ = 0;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
};

/// Serves a plain-TCP connection on its worker's context, from its first request or, once
/// parked, from its next one, until it ends or is parked again.
void start_plain(std::unique_ptr<PlainConnection> connection);
/// Serves one accepted connection of a TLS listener on its worker's context: handshake (SNI
/// picks the certificate of the current generation's store), then the same exchanges as plain
/// HTTP. It is never parked: its SSL object would stay anyway, and with it most of what
/// an idle TLS connection holds.
void start_tls(ConnectionTicket ticket, tcp::socket socket, tcp::endpoint peer,
               const ListenerInfo& listener);

}  // namespace tg::proxy
