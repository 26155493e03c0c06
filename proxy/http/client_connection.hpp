#pragma once

#include <optional>
#include <string>

#include "proxy/connection_slot.hpp"
#include "proxy/io.hpp"
#include "proxy/tls_socket.hpp"
#include "proxy/worker.hpp"

namespace tg::proxy {

/// What a client connection keeps for its whole life: the stream, its slot in the worker, who
/// the peer is, and the bytes read ahead of the exchange under way. A Session serves exchanges
/// over it; a plain connection idle between requests is parked as this record alone, with no
/// coroutine frame (proxy/http/parking.hpp).
template <class Stream>
struct ClientConnection {
    ClientConnection(ConnectionTicket ticket, Stream stream, const ListenerInfo& listener,
                     tcp::endpoint peer);
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    tcp::socket& socket() { return beast::get_lowest_layer(stream); }
    /// The client is `peer` (at accept, or as a PROXY header names it).
    void set_peer(const tcp::endpoint& peer);

    ConnectionTicket ticket;
    Worker& worker;
    const ListenerInfo& listener;
    Stream stream;
    tcp::endpoint peer;  ///< the client: the TCP peer, or the source its PROXY header named
    std::string peer_ip;
    /// Where the client connected to, as its PROXY header said; unset: this socket's address.
    std::optional<tcp::endpoint> proxy_destination;
    ConnectionSlot slot;
    /// The header block being read, and the outgoing header's text: both empty between
    /// requests, their memory back with the worker's ExchangeBuffers.
    beast::flat_buffer buffer;
    std::string header_text;
    bool first_request = true;
    /// When the wait for the next request began, and whether the last such wait ended before
    /// park_delay: such a connection waits for its next request in its coroutine.
    Clock::time_point idle_since{};
    bool comes_back_soon = false;
};

using PlainConnection = ClientConnection<tcp::socket>;
using TlsStream = TlsSocket;
using TlsConnection = ClientConnection<TlsStream>;

/// How many bytes the next read of a header block may take into `buffer`, within `limit`.
std::size_t header_read_size(const beast::flat_buffer& buffer, std::size_t limit);

/// A plain client's read of a header block lands in the connection's buffer, taken from the
/// worker when the socket has bytes and given back when it had none (a ReadTarget,
/// proxy/readiness.hpp): a connection waiting for a request holds no buffer.
struct ClientReadTarget {
    PlainConnection* connection;
    std::size_t limit;  ///< max_header_bytes
    asio::mutable_buffer prepare() const;
    void found_nothing() const;
};

}  // namespace tg::proxy
