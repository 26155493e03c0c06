#include "proxy/http/proxy_error.hpp"

#include <ostream>

#include <boost/beast/http/status.hpp>

namespace tg::proxy {

unsigned status_of(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::bad_request:
            return 400;
        case ErrorKind::header_timeout:
        case ErrorKind::body_timeout:
            return 408;
        case ErrorKind::body_too_large:
            return 413;
        case ErrorKind::headers_too_large:
            return 431;
        case ErrorKind::unknown_host:
            return 404;
        case ErrorKind::forbidden:
            return 403;
        case ErrorKind::maintenance:
            return 503;
        case ErrorKind::rate_limited:
            return 429;
        case ErrorKind::no_endpoint:
        case ErrorKind::connect_failed:
        case ErrorKind::upstream_protocol:
            return 502;
        case ErrorKind::upstream_timeout:
            return 504;
    }
    return 500;
}

bool closes_connection(ErrorKind kind) {
    return kind == ErrorKind::bad_request || kind == ErrorKind::header_timeout ||
           kind == ErrorKind::body_timeout || kind == ErrorKind::headers_too_large ||
           kind == ErrorKind::body_too_large;
}

std::string_view reason_of(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::bad_request:
            return "bad_request";
        case ErrorKind::header_timeout:
            return "header_timeout";
        case ErrorKind::body_timeout:
            return "body_timeout";
        case ErrorKind::body_too_large:
            return "body_too_large";
        case ErrorKind::headers_too_large:
            return "headers_too_large";
        case ErrorKind::unknown_host:
            return "unknown_host";
        case ErrorKind::forbidden:
            return "forbidden";
        case ErrorKind::maintenance:
            return "maintenance";
        case ErrorKind::rate_limited:
            return "rate_limited";
        case ErrorKind::no_endpoint:
            return "no_endpoint";
        case ErrorKind::connect_failed:
            return "connect_failed";
        case ErrorKind::upstream_protocol:
            return "upstream_protocol";
        case ErrorKind::upstream_timeout:
            return "upstream_timeout";
    }
    return "internal";
}

void build_local_response(std::string& out, unsigned status, std::string_view request_id,
                          bool close, std::string_view extra_headers, std::string_view body,
                          std::string_view content_type) {
    const auto reason =
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    std::string generated;
    if (body.empty()) {
        generated.append(std::to_string(status)).append(" ").append(reason).append("\n");
        body = generated;
    }
    out.clear();
    out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason);
    out.append("\r\nContent-Type: ").append(content_type).append("\r\nContent-Length: ");
    out.append(std::to_string(body.size()));
    out.append("\r\nX-Request-Id: ").append(request_id).append("\r\n");
    out.append(extra_headers);
    if (close) out.append("Connection: close\r\n");
    out.append("\r\n").append(body);
}

}  // namespace tg::proxy
