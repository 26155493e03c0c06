#pragma once

#include <cstdint>

#include "proxy/io.hpp"

/// What an upstream's response allows the proxy to do next: whether it has a body, whether its
/// connection may carry another request, which interim responses the client gets.
namespace tg::proxy {

/// How an upstream's response header said its body is framed.
struct AnnouncedFraming {
    bool keep_alive = false;  ///< the upstream keeps the connection open after it
    bool chunked = false;
    std::uint64_t content_length = 0;  ///< 0 also when absent
};

/// RFC 9112 §6.3: a response to HEAD, a 1xx, a 204 or a 304 ends with its header, whatever its
/// framing fields say.
bool response_has_body(http::verb method, unsigned status);

/// True when the upstream connection may serve another request after this response. A
/// response without a body that announced one anyway (`Content-Length: 5` on a 204, say) may
/// be followed by those bytes; on a reused connection they would be read as the start of the
/// next response, which is another client's: that connection is closed instead.
bool upstream_reusable_after(bool has_body, const AnnouncedFraming& framing);

/// RFC 9110 §15.2: a proxy forwards the interim responses it did not ask for (103 Early Hints
/// lets a browser preload Odoo's assets), but none to an HTTP/1.0 client, which cannot read
/// them. 100 Continue is the proxy's own: it answers a client's Expect itself and removes it
/// from the request, so an upstream's 100 answers nothing the client asked.
bool relays_interim(unsigned status, unsigned client_version);

}  // namespace tg::proxy
