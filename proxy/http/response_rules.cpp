#include "proxy/http/response_rules.hpp"

namespace tg::proxy {

bool response_has_body(http::verb method, unsigned status) {
    return method != http::verb::head && status >= 200 && status != 204 && status != 304;
}

bool upstream_reusable_after(bool has_body, const AnnouncedFraming& framing) {
    if (!framing.keep_alive) return false;
    const bool announced_body = framing.chunked || framing.content_length > 0;
    return has_body || !announced_body;
}

bool relays_interim(unsigned status, unsigned client_version) {
    return status >= 100 && status < 200 && status != 100 && status != 101 && client_version >= 11;
}

}  // namespace tg::proxy
