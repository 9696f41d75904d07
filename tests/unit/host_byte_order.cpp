// The s390x stage of scripts/test exists to run this suite on a big-endian host (the
// cross build under qemu-s390x). These checks pin down that it really does, and that the
// explicit big-endian helpers agree with a plain host load on exactly that kind of host.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstring>

#include "translate/byteorder.h"

namespace {

bool host_stores_big_endian() {
  const std::uint32_t value = 0x01020304;
  std::uint8_t bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  return bytes[0] == 0x01;
}

}  // namespace

TEST_SUITE("platform") {
  TEST_CASE("the running host has the byte order the compiler targeted") {
    CHECK(host_stores_big_endian() == (std::endian::native == std::endian::big));
#if defined(__s390x__)
    CHECK(host_stores_big_endian());  // s390x is big-endian: this is the BE stage
#endif
  }

  TEST_CASE("load_be32/load_be64 equal a host load exactly when the host is big-endian") {
    const std::uint8_t bytes[8] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
    std::uint32_t host32 = 0;
    std::uint64_t host64 = 0;
    std::memcpy(&host32, bytes, sizeof host32);
    std::memcpy(&host64, bytes, sizeof host64);
    CHECK(s390b::load_be32(bytes) == 0x12345678u);
    CHECK(s390b::load_be64(bytes) == 0x123456789abcdef0u);
    const bool big = host_stores_big_endian();
    CHECK((host32 == s390b::load_be32(bytes)) == big);
    CHECK((host64 == s390b::load_be64(bytes)) == big);
  }
}
