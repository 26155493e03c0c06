#pragma once

#include <string_view>

#include "proxy/http/message_parser.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// What the proxy tells the upstream about the request (SPEC §3 "Headers sent upstream").
struct ForwardedHeaders {
    std::string_view forwarded_for;  ///< the full X-Forwarded-For value to send
    std::string_view client_ip;      ///< X-Real-IP
    std::string_view peer_ip;        ///< who connected to this hop: `for=` of Forwarded
    std::string_view proto;          ///< "http" or "https": the scheme the client used here
    bool peer_trusted = false;       ///< a trusted proxy's X-Forwarded-Proto and Forwarded are kept
    std::string_view original_host;  ///< the client's Host header as sent, port included
    std::string_view request_id;
    std::string_view tenant;
    bool odoo_dbfilter = false;
};

/// True for a WebSocket handshake (RFC 6455 §4.1): GET, HTTP/1.1, `Upgrade: websocket` and
/// `Connection: upgrade`.
bool is_websocket_upgrade(const http::request_header<ProxyFields>& request);

/// Checks framing Beast leaves to us (RFC 9112 §6.1, §3.2): Transfer-Encoding, when present,
/// must be exactly `chunked` (any other coding makes the length unknowable), and there is
/// exactly one Host header.
bool request_framing_is_valid(const http::request_header<ProxyFields>& request);

/// Checks the framing of an upstream response that Beast leaves to us: Beast's parser (which
/// decodes the body) and its fields (from which the relay frames what it sends on) must read
/// Transfer-Encoding alike. They do not for two Transfer-Encoding lines (the parser reads the
/// last, the fields the first) nor for "chunked, chunked"; nginx answers 502 to the first. And
/// a Transfer-Encoding other than chunked must come without Content-Length, which Beast's
/// parser then counts the body by while the client, as RFC 9112 §6.3 says, would not.
bool response_framing_is_valid(const ResponseParser& parser);

/// Removes hop-by-hop fields (RFC 9110 §7.6.1) and those listed in Connection. `keep_upgrade`
/// keeps `Upgrade` and sets `Connection: upgrade` (a WebSocket handshake passes through).
void strip_hop_by_hop(ProxyFields& fields, bool keep_upgrade);

/// Makes an upstream response, whose header `parser` has read, an HTTP/1.1 response for a
/// client speaking HTTP `client_version` (RFC 9112 §6.3, §7, §9.6): a chunked body goes to an
/// HTTP/1.0 client unchunked, and a body the upstream ends by closing goes to an HTTP/1.1
/// client chunked, unless the upstream sent a Transfer-Encoding (another coding than chunked,
/// or a value that is no token list, to which `chunked` cannot be appended so that the client
/// reads what is sent). Returns whether the client connection stays open after the body:
/// `keep_alive` unless the body must be ended by closing; the response says so (Connection).
bool frame_response_for_client(ResponseParser& parser, unsigned client_version, bool keep_alive);

/// Rewrites a client request for the upstream: hop-by-hop fields out, X-Forwarded-*,
/// X-Real-IP, X-Request-Id, X-Tenant and (when enabled) X-Odoo-dbfilter in. Client-sent
/// copies of the headers the proxy asserts are removed, so they cannot be spoofed, and so are
/// fields whose name has an underscore (a WSGI server reads X_Real_IP as X-Real-IP) and, from
/// an untrusted peer, `Forwarded` (a trusted proxy's is kept, with this hop's element added).
void rewrite_upstream_request(http::request_header<ProxyFields>& request,
                              const ForwardedHeaders& forwarded, bool websocket_upgrade);

}  // namespace tg::proxy
