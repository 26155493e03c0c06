#pragma once

#include <string>
#include <string_view>

/// The HTML page of a 503 in maintenance mode (SPEC §5).
namespace tg::proxy {

/// Appends `text` with &, <, >, " and ' escaped, so an operator's message is shown, never run.
void append_html_escaped(std::string& out, std::string_view text);

/// A small self-contained page showing `message` (escaped).
[[nodiscard]] std::string maintenance_page(std::string_view message);

}  // namespace tg::proxy
