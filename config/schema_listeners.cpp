#include <limits>

#include "config/schema.hpp"

namespace tg::config::detail {
namespace {

CertificateFiles parse_certificate(const Field& field, const std::string& base_dir,
                                   Diagnostics& diag) {
    CertificateFiles files;
    const MapReader map(field, {"cert", "key"}, diag);
    // Existence and readability are checked where the files are loaded (tls/), not here.
    if (const auto cert = read_string(map.require("cert"), diag)) {
        files.cert = resolve_path(base_dir, *cert);
    }
    if (const auto key = read_string(map.require("key"), diag)) {
        files.key = resolve_path(base_dir, *key);
    }
    return files;
}

TlsSettings parse_tls(const Field& field, const std::string& base_dir, Diagnostics& diag) {
    TlsSettings tls;
    const MapReader map(field, {"certificates", "default_certificate", "min_version", "hsts"},
                        diag);
    for (const auto& item : list_items(map.require("certificates"), diag)) {
        tls.certificates.push_back(parse_certificate(item, base_dir, diag));
    }
    set_if(
        read_int(map.get("default_certificate"), 0, std::numeric_limits<std::int64_t>::max(), diag),
        tls.default_certificate);
    const std::string_view versions[] = {"1.2", "1.3"};
    if (const auto version = read_choice(map.get("min_version"), versions, diag)) {
        tls.min_version = std::string(versions[*version]);
    }
    set_if(read_int(map.get("hsts"), 0, std::numeric_limits<std::int64_t>::max(), diag),
           tls.hsts_seconds);
    return tls;
}

Listener parse_listener(const Field& field, const std::string& base_dir, Diagnostics& diag) {
    Listener listener;
    const MapReader map(field, {"name", "address", "redirect_https", "proxy_protocol", "tls"},
                        diag);
    set_if(read_string(map.require("name"), diag), listener.name);
    // Port 0 binds any free port: tests and side-by-side instances rely on it.
    set_if(read_host_port(map.require("address"), true, diag), listener.address);
    set_if(read_bool(map.get("redirect_https"), diag), listener.redirect_https);
    set_if(read_bool(map.get("proxy_protocol"), diag), listener.proxy_protocol);
    if (const auto tls = map.get("tls")) listener.tls = parse_tls(*tls, base_dir, diag);
    return listener;
}

}  // namespace

std::vector<Listener> parse_listeners(const std::optional<Field>& field,
                                      const std::string& base_dir, Diagnostics& diag) {
    std::vector<Listener> listeners;
    for (const auto& item : list_items(field, diag)) {
        listeners.push_back(parse_listener(item, base_dir, diag));
    }
    return listeners;
}

}  // namespace tg::config::detail
