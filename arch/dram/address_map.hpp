#pragma once
// Physical address -> (channel, rank, bank group, bank, row, column), by name as in YAML:
//  - a field order written MSB first, two letters a field: Ro(w), Ba(nk), Bg (bank group),
//    Ra(nk; pseudo-channel on HBM), Co(lumn), Ch(annel); e.g. RoBaRaCoCh, ChRaBaRoCo. Without
//    a Bg field, Ba holds the bank group in its low bits and the bank above it.
//  - MOP4CLXOR: minimalist open page (four consecutive transactions in one row, then channel,
//    bank group, bank, rank, the rest of the column, row), bank and bank-group bits XORed with
//    the low row bits so strided streams spread over banks.
// The column is counted in transactions (tx_bytes), the low log2(tx_bytes) bits are dropped.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/dram/spec.hpp"

namespace qaccel::dram {

struct DramAddr {
  int channel = 0, rank = 0, bank_group = 0, bank = 0;  // bank within its group
  i64 row = 0, column = 0;                              // column in transactions
};

class AddressMap {
 public:
  // Throws ConfigError (naming the known mappings) on an unknown or malformed name.
  AddressMap(const std::string& name, const Org& org);
  DramAddr decode(std::uint64_t addr) const;
  // The inverse (tests, synthetic traffic).
  std::uint64_t encode(const DramAddr& a) const;
  static std::vector<std::string> known();

 private:
  enum Field { Ch, Ra, Bg, Ba, Ro, Co, nfields };
  struct Slice {
    Field field;
    int bits, shift;  // bits of the field, position within the field (low part first)
  };
  std::vector<Slice> order_;  // LSB first
  // decode()'s form of order_: each field from at most two slices, as (position in the
  // address, mask, shift within the field); a field's unused slice has mask 0.
  struct Part {
    int pos = 0, shift = 0;
    std::uint64_t mask = 0;
  };
  Part parts_[nfields][2] = {};
  bool split_ = false;  // some field has two slices
  void make_parts();
  int width_[nfields] = {};
  int tx_shift_ = 0, bg_bits_ = 0;
  bool xor_banks_ = false;
  bool bg_separate_ = false;
};

}  // namespace qaccel::dram
