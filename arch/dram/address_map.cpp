#include "arch/dram/address_map.hpp"

#include <bit>

#include "sim/base/error.hpp"
#include "sim/base/text.hpp"

namespace qaccel::dram {

namespace {
int log2i(i64 v) {
  return int(std::bit_width(static_cast<std::uint64_t>(v)) - 1);
}
}  // namespace

std::vector<std::string> AddressMap::known() {
  return {
      "RoBaRaCoCh", "RoBaBgRaCoCh", "RoRaBaCoCh", "RoCoBaRaCh",
      "ChRaBaRoCo", "RoBaRaChCo",   "MOP4CLXOR",  "(any order of Ro Ba Bg Ra Co Ch, MSB first)"};
}

AddressMap::AddressMap(const std::string& name, const Org& org) {
  tx_shift_ = log2i(org.tx_bytes);
  bg_bits_ = log2i(org.bank_groups);
  width_[Ch] = log2i(org.channels);
  width_[Ra] = log2i(org.ranks_per_channel());
  width_[Ro] = log2i(org.rows);
  width_[Co] = log2i(org.tx_per_row());
  auto bad = [&](const std::string& why) {
    throw ConfigError("unknown address mapping '" + name + "': " + why +
                      " (known: " + join(known(), ", ") + ")");
  };
  if (name == "MOP4CLXOR") {
    bg_separate_ = true;
    xor_banks_ = true;
    width_[Bg] = log2i(org.bank_groups);
    width_[Ba] = log2i(org.banks_per_group);
    const int low_col = std::min(2, width_[Co]);
    order_ = {{Co, low_col, 0},    {Ch, width_[Ch], 0}, {Bg, width_[Bg], 0},
              {Ba, width_[Ba], 0}, {Ra, width_[Ra], 0}, {Co, width_[Co] - low_col, low_col},
              {Ro, width_[Ro], 0}};
    make_parts();
    return;
  }
  if (name.size() % 2 != 0 || name.empty()) bad("expected two-letter fields");
  std::vector<Field> msb_first;
  for (std::size_t i = 0; i < name.size(); i += 2) {
    const std::string f = name.substr(i, 2);
    Field v = nfields;
    if (f == "Ch") v = Ch;
    if (f == "Ra") v = Ra;
    if (f == "Bg") v = Bg;
    if (f == "Ba") v = Ba;
    if (f == "Ro") v = Ro;
    if (f == "Co") v = Co;
    if (v == nfields) bad("'" + f + "' is not a field");
    for (Field g : msb_first)
      if (g == v) bad("field '" + f + "' given twice");
    msb_first.push_back(v);
  }
  bg_separate_ = false;
  for (Field f : msb_first)
    bg_separate_ |= f == Bg;
  for (Field f : {Ch, Ra, Ba, Ro, Co}) {
    bool found = false;
    for (Field g : msb_first)
      found |= g == f;
    if (!found) bad("every one of Ro, Ba, Ra, Co, Ch must appear");
  }
  width_[Bg] = bg_separate_ ? log2i(org.bank_groups) : 0;
  width_[Ba] = bg_separate_ ? log2i(org.banks_per_group) : log2i(org.banks_per_rank());
  for (auto it = msb_first.rbegin(); it != msb_first.rend(); ++it)
    order_.push_back({*it, width_[*it], 0});
  make_parts();
}

void AddressMap::make_parts() {
  int pos = 0, used[nfields] = {};
  for (const Slice& s : order_) {
    QACCEL_ASSERT(used[s.field] < 2 && (used[s.field] == 1 || s.shift == 0),
                  "an address field in more than two slices, or low bits not first");
    parts_[s.field][used[s.field]++] = {pos, s.shift, (std::uint64_t(1) << s.bits) - 1};
    pos += s.bits;
  }
  for (int f = 0; f < nfields; ++f)
    split_ |= used[f] > 1;
}

DramAddr AddressMap::decode(std::uint64_t addr) const {
  const std::uint64_t a = addr >> tx_shift_;
  auto field = [&](Field f) {
    const Part* p = parts_[f];
    const std::uint64_t lo = a >> p[0].pos & p[0].mask;  // shift 0: the low part
    return split_ ? lo | ((a >> p[1].pos & p[1].mask) << p[1].shift) : lo;
  };
  const std::uint64_t v[nfields] = {field(Ch), field(Ra), field(Bg),
                                    field(Ba), field(Ro), field(Co)};
  DramAddr d;
  d.channel = int(v[Ch]);
  d.rank = int(v[Ra]);
  d.row = i64(v[Ro]);
  d.column = i64(v[Co]);
  if (bg_separate_) {
    d.bank_group = int(v[Bg]);
    d.bank = int(v[Ba]);
  } else {  // Ba = bank << bg_bits | bank group
    d.bank_group = int(v[Ba] & ((std::uint64_t(1) << bg_bits_) - 1));
    d.bank = int(v[Ba] >> bg_bits_);
  }
  if (xor_banks_) {
    d.bank_group ^= int(v[Ro] & ((std::uint64_t(1) << width_[Bg]) - 1));
    d.bank ^= int((v[Ro] >> width_[Bg]) & ((std::uint64_t(1) << width_[Ba]) - 1));
  }
  return d;
}

std::uint64_t AddressMap::encode(const DramAddr& d) const {
  std::uint64_t v[nfields] = {};
  v[Ch] = std::uint64_t(d.channel);
  v[Ra] = std::uint64_t(d.rank);
  v[Ro] = std::uint64_t(d.row);
  v[Co] = std::uint64_t(d.column);
  std::uint64_t bg = std::uint64_t(d.bank_group), ba = std::uint64_t(d.bank);
  if (xor_banks_) {
    bg ^= v[Ro] & ((std::uint64_t(1) << width_[Bg]) - 1);
    ba ^= (v[Ro] >> width_[Bg]) & ((std::uint64_t(1) << width_[Ba]) - 1);
  }
  v[Bg] = bg;
  v[Ba] = bg_separate_ ? ba : (ba << bg_bits_ | bg);
  std::uint64_t a = 0;
  int pos = 0;
  for (const Slice& s : order_) {
    a |= ((v[s.field] >> s.shift) & ((std::uint64_t(1) << s.bits) - 1)) << pos;
    pos += s.bits;
  }
  return a << tx_shift_;
}

}  // namespace qaccel::dram
