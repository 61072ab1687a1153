#pragma once
// Small text helpers shared by the config parser and the CLI.
#include <string>
#include <string_view>
#include <vector>

namespace qaccel {

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or "" when none is plausibly a typo of it.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Splits on any run of whitespace and/or commas.
std::vector<std::string> split_words(std::string_view text);

// Strict integer parse of the whole string; false on any junk or overflow.
bool parse_int64(std::string_view text, long long& out);
bool parse_double(std::string_view text, double& out);

}  // namespace qaccel
