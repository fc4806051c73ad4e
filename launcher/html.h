// Text for the HTML pages of `uda report`: escaping and number formats.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace uda::cli {

// &, <, >, " and ' as character references.
std::string html_escape(const std::string& s);
// Whole numbers without decimals, others with 4 significant digits; "n/a"
// when not finite.
std::string format_number(double v);
// A fraction in [0, 1] as a percentage with two decimals (no % sign); "n/a"
// when not finite.
std::string format_percent(double v);
// A string as it is, anything else as JSON.
std::string json_text(const nlohmann::json& v);

}  // namespace uda::cli
