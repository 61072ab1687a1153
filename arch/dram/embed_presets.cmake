# Writes OUT, a C++ file holding the text of each DRAM preset file in FILES, so presets work
# from any directory (`preset: HBM2-2000` in a DRAM file). Run at configure time.
set(arrays "")
set(entries "")
set(i 0)
foreach(f IN LISTS FILES)
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND arrays "const unsigned char p${i}[] = {${hex}};\n")
  string(APPEND entries "      {\"${name}\", std::string(reinterpret_cast<const char*>(p${i}), sizeof p${i})},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from configs/dram/*.yaml by arch/dram/embed_presets.cmake.
#include <string>
#include <utility>
#include <vector>
namespace qaccel::dram {
namespace {
${arrays}}  // namespace
const std::vector<std::pair<std::string, std::string>>& embedded_presets() {
  static const std::vector<std::pair<std::string, std::string>> p = {
${entries}  };
  return p;
}
}  // namespace qaccel::dram
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
