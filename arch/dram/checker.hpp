#pragma once
// Replays one channel's issued command stream against the JEDEC relations, written here a
// second time and independently of rules.cpp: pair by pair (every earlier command within the
// longest timing window against the new one), the four-activate window, one command per
// cycle, and bank state (ACT only to a closed bank, column commands only to the open row,
// refresh only with the banks closed). Used by tests and `qaccel dram --check`.
#include <string>
#include <vector>

#include "arch/dram/channel.hpp"
#include "arch/dram/spec.hpp"

namespace qaccel::dram {

// Every violation found (at most `max_errors`), each "cycle C: CMD rank r bank b: ...".
std::vector<std::string> check_commands(const DramConfig& cfg, const std::vector<IssuedCmd>& cmds,
                                        std::size_t max_errors = 10);

}  // namespace qaccel::dram
