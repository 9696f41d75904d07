// Frame layer: golden vectors from real GDB sessions, decoder corner cases, and property
// tests (encode/decode round trip, chunking invariance).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "rsp/codec.h"
#include "rsp/hex.h"

using namespace s390b::rsp;

namespace {

std::vector<FrameEvent> decode_all(std::string_view input, std::size_t max = kDefaultMaxPayload) {
  FrameDecoder dec(max);
  auto events = dec.feed(input);
  if (auto last = dec.finish()) events.push_back(*last);
  return events;
}

FrameEvent packet(std::string payload) {
  FrameEvent ev;
  ev.kind = FrameEventKind::Packet;
  ev.size = payload.size();
  ev.payload = std::move(payload);
  return ev;
}

FrameEvent simple(FrameEventKind kind) {
  FrameEvent ev;
  ev.kind = kind;
  return ev;
}

// The opening of a GDB 13+ session, byte for byte (checksums as GDB sent them).
const char* const kGdbQSupported =
    "$qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
    "exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;"
    "xmlRegisters=i386#77";

}  // namespace

TEST_CASE("codec: golden GDB frames decode to their payloads") {
  const std::vector<std::pair<std::string, std::string>> golden = {
      {kGdbQSupported,
       "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
       "exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386"},
      {"$vMustReplyEmpty#3a", "vMustReplyEmpty"},
      {"$QStartNoAckMode#b0", "QStartNoAckMode"},
      {"$Hg0#df", "Hg0"},
      {"$qXfer:features:read:target.xml:0,ffb#79", "qXfer:features:read:target.xml:0,ffb"},
      {"$qTStatus#49", "qTStatus"},
      {"$?#3f", "?"},
      {"$qfThreadInfo#bb", "qfThreadInfo"},
      {"$qsThreadInfo#c8", "qsThreadInfo"},
      {"$qAttached#8f", "qAttached"},
      {"$Hc-1#09", "Hc-1"},
      {"$qC#b4", "qC"},
      {"$qOffsets#4b", "qOffsets"},
      {"$g#67", "g"},
      {"$m1000,40#be", "m1000,40"},
      {"$qSymbol::#5b", "qSymbol::"},
      {"$vCont?#49", "vCont?"},
      {"$vCont;c:p1.-1#0f", "vCont;c:p1.-1"},
      {"$Z0,3ff8,2#4b", "Z0,3ff8,2"},
      {"$#00", ""},
  };
  for (const auto& [wire, payload] : golden) {
    CAPTURE(wire);
    const auto events = decode_all(wire);
    REQUIRE(events.size() == 1);
    CHECK(events[0] == packet(payload));
  }
}

TEST_CASE("codec: uppercase checksum digits are accepted") {
  const auto events = decode_all("$qOffsets#4B");
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == FrameEventKind::Packet);
}

TEST_CASE("codec: encoder produces GDB's bytes") {
  CHECK(encode_packet("OK") == "$OK#9a");
  CHECK(encode_packet("") == "$#00");
  CHECK(encode_packet("E16") == "$E16#ac");
  CHECK(encode_packet("T05thread:01;") == "$T05thread:01;#07");
  // `# $ } *` are escaped as 0x7d, byte ^ 0x20; the checksum covers the escaped bytes.
  const std::string raw = std::string("X1000,4:") + "#$}*";
  CHECK(encode_packet(raw) == std::string("$X1000,4:}\x03}\x04}]}\x0a#15"));
  CHECK(checksum("OK") == 0x9a);
}

TEST_CASE("codec: acks, naks, interrupts and noise between frames") {
  const auto events = decode_all(std::string("+-\x03") + "junk$g#67+");
  REQUIRE(events.size() == 6);
  CHECK(events[0] == simple(FrameEventKind::Ack));
  CHECK(events[1] == simple(FrameEventKind::Nak));
  CHECK(events[2] == simple(FrameEventKind::Interrupt));
  CHECK(events[3].kind == FrameEventKind::Noise);
  CHECK(events[3].size == 4);
  CHECK(events[3].payload == "junk");
  CHECK(events[4] == packet("g"));
  CHECK(events[5] == simple(FrameEventKind::Ack));
}

TEST_CASE("codec: 0x03, + and - inside a frame are data") {
  const std::string payload = std::string("X10,3:") + "\x03+-";
  const auto events = decode_all(encode_packet(payload));
  REQUIRE(events.size() == 1);
  CHECK(events[0] == packet(payload));
}

TEST_CASE("codec: a bad checksum is reported with both sums and the decoder carries on") {
  const auto events = decode_all("$g#68$g#67");
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == FrameEventKind::BadChecksum);
  CHECK(events[0].payload == "g");
  CHECK(events[0].received_checksum == 0x68);
  CHECK(events[0].computed_checksum == 0x67);
  CHECK_FALSE(events[0].malformed);
  CHECK(events[1] == packet("g"));
}

TEST_CASE("codec: a non-hex checksum digit ends the frame and is re-read") {
  SUBCASE("followed by a retransmission") {
    const auto events = decode_all("$g#6$g#67");
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == FrameEventKind::BadChecksum);
    CHECK(events[0].malformed);
    CHECK(events[1] == packet("g"));
  }
  SUBCASE("an ack right after the #") {
    const auto events = decode_all("$g#+");
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == FrameEventKind::BadChecksum);
    CHECK(events[1] == simple(FrameEventKind::Ack));
  }
}

TEST_CASE("codec: no-ack mode can skip checksum verification") {
  FrameDecoder dec;
  dec.set_verify_checksum(false);
  auto events = dec.feed("$g#00");
  REQUIRE(events.size() == 1);
  CHECK(events[0] == packet("g"));
  // A malformed trailer is still a broken frame.
  events = dec.feed("$g#zz");
  REQUIRE(events.size() >= 1);
  CHECK(events[0].kind == FrameEventKind::BadChecksum);
}

TEST_CASE("codec: settings change between events within one read") {
  // QStartNoAckMode and the next packet arrive in one read; the session switches off
  // verification after the first event and the second (bad sum) frame is accepted.
  FrameDecoder dec;
  std::string_view input = "$QStartNoAckMode#b0+$g#00";
  auto first = dec.next(input);
  REQUIRE(first);
  CHECK(*first == packet("QStartNoAckMode"));
  dec.set_verify_checksum(false);
  auto second = dec.next(input);
  REQUIRE(second);
  CHECK(second->kind == FrameEventKind::Ack);
  auto third = dec.next(input);
  REQUIRE(third);
  CHECK(*third == packet("g"));
  CHECK_FALSE(dec.next(input));
  CHECK(input.empty());
}

TEST_CASE("codec: a $ inside a frame restarts it") {
  const auto events = decode_all("$m10$m1000,40#be");
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == FrameEventKind::Noise);
  CHECK(events[0].payload == "$m10");
  CHECK(events[0].size == 4);
  CHECK(events[1] == packet("m1000,40"));
}

TEST_CASE("codec: # and the checksum digits split across reads") {
  FrameDecoder dec;
  CHECK(dec.feed("$qC").empty());
  CHECK(dec.in_frame());
  CHECK(dec.feed("#").empty());
  CHECK(dec.feed("b").empty());
  const auto events = dec.feed("4");
  REQUIRE(events.size() == 1);
  CHECK(events[0] == packet("qC"));
  CHECK_FALSE(dec.in_frame());
}

TEST_CASE("codec: a disconnect mid-frame is just state") {
  FrameDecoder dec;
  CHECK(dec.feed("$m1000,").empty());
  CHECK(dec.in_frame());
  CHECK_FALSE(dec.finish());  // the partial frame is dropped silently
  CHECK_FALSE(dec.in_frame());
  const auto events = dec.feed("$g#67");
  REQUIRE(events.size() == 1);
  CHECK(events[0] == packet("g"));
}

TEST_CASE("codec: oversized packets are reported once and never stored") {
  constexpr std::size_t kMax = 16;
  SUBCASE("exactly the maximum is accepted") {
    const std::string payload(kMax, 'a');
    const auto events = decode_all(encode_packet(payload), kMax);
    REQUIRE(events.size() == 1);
    CHECK(events[0] == packet(payload));
  }
  SUBCASE("one more overflows, the next frame is fine") {
    const std::string big(kMax + 1, 'a');
    const auto events = decode_all(encode_packet(big) + "$g#67", kMax);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == FrameEventKind::Overflow);
    CHECK(events[0].size == kMax + 1);
    CHECK(events[0].payload.empty());
    CHECK(events[1] == packet("g"));
  }
  SUBCASE("resynchronises on the next $ when the trailer never comes") {
    const std::string big(1000, 'z');
    const auto events = decode_all("$" + big + "$qC#b4", kMax);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == FrameEventKind::Overflow);
    CHECK(events[0].size == 1000);
    CHECK(events[1] == packet("qC"));
  }
  SUBCASE("a stream that never ends stays bounded") {
    FrameDecoder dec(kMax);
    CHECK(dec.feed("$").empty());
    const std::string chunk(4096, 'q');
    for (int i = 0; i < 256; ++i) CHECK(dec.feed(chunk).empty());
    CHECK(dec.in_frame());
  }
}

TEST_CASE("codec: noise runs coalesce across reads") {
  FrameDecoder dec;
  CHECK(dec.feed("ab").empty());
  CHECK(dec.feed("cd").empty());
  auto events = dec.feed("+");
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == FrameEventKind::Noise);
  CHECK(events[0].payload == "abcd");
  CHECK(events[0].size == 4);
  // A long run keeps only a bounded sample.
  CHECK(dec.feed(std::string(1000, 'n')).empty());
  auto last = dec.finish();
  REQUIRE(last);
  CHECK(last->size == 1000);
  CHECK(last->payload.size() == kNoiseSampleMax);
}

TEST_CASE("codec: property: encode then decode yields the payload back") {
  std::mt19937 rng(0x5390b);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 300);
  for (int round = 0; round < 500; ++round) {
    std::string payload;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) payload.push_back(static_cast<char>(byte(rng)));
    const std::string wire = encode_packet(payload);
    CAPTURE(round);
    // Only the frame delimiters are special: no raw `$`, `#` or `*` inside the body.
    const std::string_view body = std::string_view(wire).substr(1, wire.size() - 4);
    CHECK(body.find_first_of("$#*") == std::string_view::npos);
    const auto events = decode_all(wire, 1024);
    REQUIRE(events.size() == 1);
    REQUIRE(events[0].kind == FrameEventKind::Packet);
    const auto decoded = unescape_binary(events[0].payload);
    REQUIRE(decoded);
    CHECK(std::string(decoded->begin(), decoded->end()) == payload);
  }
}

TEST_CASE("codec: property: chunking at every split point gives the same events") {
  // Built by appending: g++ 12 misreports a chain of `+` on temporaries here
  // (-Wstringop-overflow inside char_traits).
  std::string stream = "+";
  stream += kGdbQSupported;
  stream += "+noise\x03$g#67$m10$M3ff0,4:deadbeef#36--$g#68$qC#b$x7ffff000,200#95$";
  stream += std::string(40, 'o');
  stream += "#00$qOffsets#4b trailing";
  constexpr std::size_t kMax = 32;  // makes the long frames overflow
  const auto whole = decode_all(stream, kMax);
  REQUIRE(whole.size() > 10);

  for (std::size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    FrameDecoder dec(kMax);
    auto events = dec.feed(std::string_view(stream).substr(0, split));
    for (auto& ev : dec.feed(std::string_view(stream).substr(split))) events.push_back(ev);
    if (auto last = dec.finish()) events.push_back(*last);
    CHECK(events == whole);
  }
  // And byte by byte.
  FrameDecoder dec(kMax);
  std::vector<FrameEvent> events;
  for (char c : stream) {
    for (auto& ev : dec.feed(std::string_view(&c, 1))) events.push_back(ev);
  }
  if (auto last = dec.finish()) events.push_back(*last);
  CHECK(events == whole);
}

TEST_CASE("codec: property: random chunkings of random streams agree") {
  std::mt19937 rng(20240601);
  // Bias towards the significant characters so frames actually form.
  const std::string alphabet = "$#+-\x03}0123456789abcdefgmMxX,:;*";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> any(0, 255);
  std::uniform_int_distribution<int> coin(0, 9);
  for (int round = 0; round < 200; ++round) {
    std::string stream;
    for (int i = 0; i < 200; ++i) {
      stream.push_back(coin(rng) == 0 ? static_cast<char>(any(rng)) : alphabet[pick(rng)]);
      if (coin(rng) == 0) stream += encode_packet("m1000,4");
    }
    const auto whole = decode_all(stream, 24);
    FrameDecoder dec(24);
    std::vector<FrameEvent> events;
    std::size_t pos = 0;
    std::uniform_int_distribution<std::size_t> step(0, 17);
    while (pos < stream.size()) {
      const std::size_t n = std::min(step(rng), stream.size() - pos);
      for (auto& ev : dec.feed(std::string_view(stream).substr(pos, n))) events.push_back(ev);
      pos += n;
    }
    if (auto last = dec.finish()) events.push_back(*last);
    CAPTURE(round);
    CHECK(events == whole);
  }
}

TEST_CASE("codec: lowering the maximum mid-frame overflows that frame") {
  FrameDecoder dec(64);
  CHECK(dec.feed("$m1000,40").empty());
  dec.set_max_payload(4);
  auto events = dec.feed("#be$g#67");
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == FrameEventKind::Overflow);
  CHECK(events[0].size == 8);
  CHECK(events[1] == packet("g"));
}
