#pragma once
// Shared by the fuzz harnesses (README.md, "Fuzzing"). Inputs go through the same file-reading
// code as the command line, so each is first written to a scratch file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace qaccel::fuzz {

// A per-process scratch folder laid out like the repository's configs/: every configs/*
// folder is linked in and inputs go to configs/fuzz/, so a config's relative references
// (`../systems/edge-npu.yaml`, `../tech/...`) resolve as they do for the shipped files.
// Removed at exit.
const std::filesystem::path& scratch();

// Writes the input to scratch()/configs/fuzz/`name` and returns that path.
std::filesystem::path write_input(const std::uint8_t* data, std::size_t size,
                                  const std::string& name);

// A shipped config file, by its path under the repository's configs/.
std::filesystem::path shipped(const std::string& under_configs);

}  // namespace qaccel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
