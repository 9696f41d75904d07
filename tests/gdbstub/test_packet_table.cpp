// The declarative packet table: no entry shadows another, and full-name matching.
#include <doctest/doctest.h>

#include <array>

#include "gdbstub/packet_table.h"

using namespace s390b::rsp;

namespace {
ParseResult dummy(std::string_view) { return Unknown{"dummy"}; }
}  // namespace

TEST_CASE("packet table: no entry shadows another") {
  const auto conflicts = check_no_shadowing(packet_table());
  for (const Shadowing& s : conflicts) {
    INFO(std::string(s.first), " vs ", std::string(s.second), " e.g. ", s.example);
    CHECK(false);
  }
  CHECK(conflicts.empty());
}

TEST_CASE("packet table: every entry is reachable and parses its own name") {
  for (const PacketEntry& e : packet_table()) {
    CAPTURE(std::string(e.name));
    CHECK(static_cast<bool>(e.parse));
    CHECK(!e.name.empty());
    std::string probe(e.name);
    if (e.match == MatchKind::Separated) probe.push_back(e.separators.front());
    const auto m = match_packet(packet_table(), probe);
    REQUIRE(m);
    CHECK(m->entry == &e);
    CHECK(request_packet_name(probe) == e.name);
  }
}

TEST_CASE("packet table: the checker finds overlaps") {
  SUBCASE("a letter entry swallows longer names") {
    const std::array table{PacketEntry{"q", MatchKind::Direct, "", dummy},
                           PacketEntry{"qC", MatchKind::Exact, "", dummy}};
    const auto c = check_no_shadowing(table);
    REQUIRE(c.size() == 1);
    CHECK(c[0].first == "q");
    CHECK(c[0].second == "qC");
    CHECK(c[0].example == "qC");
  }
  SUBCASE("a separator that is the next letter of a longer name") {
    const std::array table{PacketEntry{"QTDPsrc", MatchKind::Separated, ":", dummy},
                           PacketEntry{"QTDP", MatchKind::Separated, ":s", dummy}};
    CHECK(check_no_shadowing(table).size() == 1);
  }
  SUBCASE("the same name twice") {
    const std::array table{PacketEntry{"qAttached", MatchKind::ExactOrSeparated, ":", dummy},
                           PacketEntry{"qAttached", MatchKind::Exact, "", dummy}};
    CHECK(check_no_shadowing(table).size() == 1);
    const std::array table2{PacketEntry{"vCont", MatchKind::Separated, ";", dummy},
                            PacketEntry{"vCont", MatchKind::Separated, ",;", dummy}};
    CHECK(check_no_shadowing(table2).size() == 1);
  }
  SUBCASE("disjoint entries pass") {
    const std::array table{PacketEntry{"qC", MatchKind::Exact, "", dummy},
                           PacketEntry{"qCRC", MatchKind::Separated, ":", dummy},
                           PacketEntry{"vCont", MatchKind::Separated, ";", dummy},
                           PacketEntry{"vCont?", MatchKind::Exact, "", dummy},
                           PacketEntry{"QTDP", MatchKind::Separated, ":", dummy},
                           PacketEntry{"QTDPsrc", MatchKind::Separated, ":", dummy},
                           PacketEntry{"vCont", MatchKind::Exact, "", dummy}};
    CHECK(check_no_shadowing(table).empty());
  }
}

TEST_CASE("packet table: full-name matching") {
  CHECK(request_packet_name("qC") == "qC");
  CHECK(request_packet_name("qCRC:0,10") == "");
  CHECK(request_packet_name("vCont?") == "vCont?");
  CHECK(request_packet_name("vCont;c") == "vCont");
  CHECK(request_packet_name("qSupported") == "qSupported");
  CHECK(request_packet_name("qSupported:xmlRegisters=i386") == "qSupported");
  CHECK(request_packet_name("QStartNoAckMode") == "QStartNoAckMode");
  CHECK(request_packet_name("QNonStop:0") == "QNonStop");
  CHECK(request_packet_name("Z3,10,4") == "Z3");
  CHECK(request_packet_name("z4,10,4") == "z4");
  CHECK(request_packet_name("Z5,10,4") == "");
  CHECK(request_packet_name("qAttached:1") == "qAttached");
  CHECK(request_packet_name("qAttachedX") == "");
  CHECK(request_packet_name("m0,1") == "m");
  CHECK(request_packet_name("") == "");
}
