#include "proxy/http/client_connection.hpp"

#include <array>
#include <charconv>

namespace tg::proxy {
namespace {

constexpr std::size_t min_read_size = 4096;

/// What address_v4::to_string() gives, without the printf that inet_ntop runs per connection.
std::string dotted_quad(const asio::ip::address_v4& address) {
    std::array<char, 16> text;
    char* end = text.data();
    for (const auto byte : address.to_bytes()) {
        if (end != text.data()) *end++ = '.';
        end = std::to_chars(end, text.data() + text.size(), byte).ptr;
    }
    return std::string(text.data(), end);
}

/// The client's address as logs and headers show it: dotted quad for IPv4, also when it came
/// IPv4-mapped on a dual-stack socket.
std::string address_text(const asio::ip::address& address) {
    if (address.is_v4()) return dotted_quad(address.to_v4());
    if (address.to_v6().is_v4_mapped())
        return dotted_quad(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()));
    return address.to_string();
}

}  // namespace

template <class Stream>
ClientConnection<Stream>::ClientConnection(ConnectionTicket ticket_in, Stream stream_in,
                                           const ListenerInfo& listener_in, tcp::endpoint peer_in)
    : ticket(std::move(ticket_in)),
      worker(ticket.worker()),
      listener(listener_in),
      stream(std::move(stream_in)) {
    set_peer(peer_in);
    worker.connections().push_back(slot);
    slot.watch(&socket(), nullptr);
}

template <class Stream>
void ClientConnection<Stream>::set_peer(const tcp::endpoint& peer_in) {
    peer = peer_in;
    peer_ip = address_text(peer.address());
}

template struct ClientConnection<tcp::socket>;
template struct ClientConnection<TlsStream>;

std::size_t header_read_size(const beast::flat_buffer& buffer, std::size_t limit) {
    const std::size_t room = std::max(min_read_size, buffer.capacity() - buffer.size());
    return std::min(limit - buffer.size(), room);
}

asio::mutable_buffer ClientReadTarget::prepare() const {
    auto& buffer = connection->buffer;
    if (buffer.capacity() == 0)
        connection->worker.exchange_buffers().take(buffer, connection->header_text);
    return buffer.prepare(header_read_size(buffer, limit));
}

void ClientReadTarget::found_nothing() const {
    if (connection->buffer.size() == 0)
        connection->worker.exchange_buffers().give_back(connection->buffer,
                                                        connection->header_text);
}

}  // namespace tg::proxy
