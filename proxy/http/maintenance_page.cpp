#include "proxy/http/maintenance_page.hpp"

namespace tg::proxy {

void append_html_escaped(std::string& out, std::string_view text) {
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
}

std::string maintenance_page(std::string_view message) {
    std::string page =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Down for maintenance</title></head>\n<body><h1>Down for maintenance</h1>\n<p>";
    append_html_escaped(page, message.empty() ? "We will be back shortly." : message);
    page += "</p>\n</body></html>\n";
    return page;
}

}  // namespace tg::proxy
