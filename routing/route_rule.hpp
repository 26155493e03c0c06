#pragma once

#include <string_view>

/// Which Odoo worker a request goes to, and which paths are Odoo's database manager (SPEC §3).
namespace tg::routing {

/// The two upstream routes of a pool; also the `route` label of the metrics.
enum class Route { web, longpolling };

/// The path of a request target: origin-form up to '?' or '#', and for an absolute-form target
/// (RFC 9112 §3.2.2, which Odoo's werkzeug server accepts) the part after the authority; "/"
/// when an absolute-form target has no path.
[[nodiscard]] std::string_view target_path(std::string_view target) noexcept;

/// `/websocket`, `/websocket/...` and `/longpolling/...` are served by Odoo's gevent worker
/// (its --gevent-port); everything else by the HTTP workers.
[[nodiscard]] Route classify_route(std::string_view target) noexcept;

/// "web" or "longpolling".
[[nodiscard]] std::string_view route_name(Route route) noexcept;

/// True when the target's path is `/web/database` or below it once read the way Odoo reads it:
/// werkzeug percent-decodes the whole path (including %2F) and merges repeated slashes, and
/// clients resolve "." and ".." segments (RFC 3986 §5.2.4). Both the merged path and the one
/// with dot segments resolved are checked, so no spelling of the database manager gets past.
/// Allocates only for paths longer than an internal 1 KiB buffer that need normalising.
[[nodiscard]] bool is_database_manager_path(std::string_view target);

}  // namespace tg::routing
