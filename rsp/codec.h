// The RSP frame layer: bytes <-> frame events. Pure: no I/O, no sockets, no backend.
//
// Wire format (GDB manual, Remote Protocol appendix): `$` payload `#` cc, where cc is two hex
// digits (either case accepted, lowercase sent) of the 8-bit sum of the payload bytes as
// transmitted. Between frames the client may send `+` (ack), `-` (nak, resend) and a lone
// 0x03 (interrupt); inside a frame those bytes are data.
//
// Decoding
// --------
//   FrameDecoder dec{packet_size};          // the PacketSize advertised in qSupported
//   std::string_view rest = bytes_just_read;
//   while (auto ev = dec.next(rest)) handle(*ev);   // `rest` is consumed from the front
//
// `next` returns one event at a time so the session can change decoder settings between
// events (e.g. stop verifying checksums right after answering QStartNoAckMode); state
// carries over between calls, so a frame, a `#` and its two checksum digits may be split
// across reads arbitrarily. Events:
//
//   Packet       a complete frame with a good checksum. `payload` is the RAW payload
//                between `$` and `#`: binary escapes are NOT undone here (only the X
//                parser and friends know which part is binary). Ack mode: send `+`.
//   BadChecksum  a complete frame whose checksum did not match, or whose `#` was not
//                followed by two hex digits. Ack mode: send `-` and drop it.
//   Ack / Nak    `+` / `-` between frames. Tolerate them in any mode (GDB sends one last
//                `+` after QStartNoAckMode).
//   Interrupt    0x03 between frames.
//   Noise        bytes between frames that mean nothing (`size` counts them, `payload`
//                holds the first few for a trace), or a frame abandoned because a new `$`
//                arrived before its `#` (the payload sample then starts with `$`). A run of
//                noise is reported once, when a meaningful byte ends it (or by finish()),
//                so the events do not depend on how the input was split into reads.
//   Overflow     a frame whose payload exceeded max_payload. Its bytes were counted, not
//                stored (`size` = payload bytes seen), so memory stays bounded by
//                max_payload. Reported when the frame ends: at its `#cc` trailer (not
//                verified) or at a `$` that starts the next frame (resynchronisation).
//                Ack mode: send `-`, the client will retry; GDB gives up after 3 tries.
//
// The decoder works the same in ack and no-ack mode; the session decides whether to send
// `+`/`-`. In no-ack mode GDB does not verify checksums and the manual lets the stub skip
// it too: set_verify_checksum(false) then delivers mismatching frames as Packet.
//
// There is no run-length (`*`) expansion: GDB never run-length encodes what it sends
// (GDB manual, Remote Protocol appendix: run-length encoding is described for response
// data), so a `*` in a request is data.
//
// Disconnect: call reset() (or finish() to collect a pending noise run first). A frame
// cut off mid-way is simply forgotten.
//
// Encoding
// --------
// encode_packet(payload) escapes `$ # } *` (0x7d, XOR 0x20) and frames it. Reply payloads
// from reply.h are logical (unescaped): hex and plain-text replies contain none of those
// four bytes, so for them escaping changes nothing; binary replies (x, qXfer) get exactly
// the escaping the client undoes. We never emit run-length encoding (not worth it over
// TCP, and a source of `#`/`$` bugs, e.g. daniel5151/gdbstub #182).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace s390b::rsp {

inline constexpr char kFrameStart = '$';
inline constexpr char kFrameEnd = '#';
inline constexpr char kAckByte = '+';
inline constexpr char kNakByte = '-';
inline constexpr char kInterruptByte = '\x03';
inline constexpr std::size_t kChecksumDigits = 2;

// Default PacketSize: 16 KiB, about what gdbserver advertises (0x47ff; rr: 0x100000); GDB
// sizes m/x reads to PacketSize/2 bytes (gdb/remote.c, remote_read_bytes_1).
inline constexpr std::size_t kDefaultMaxPayload = 0x4000;
// Noise events keep at most this many bytes as a sample for the packet trace.
inline constexpr std::size_t kNoiseSampleMax = 32;

enum class FrameEventKind : std::uint8_t {
  Packet,
  BadChecksum,
  Ack,
  Nak,
  Interrupt,
  Noise,
  Overflow,
};

const char* to_string(FrameEventKind kind);

struct FrameEvent {
  FrameEventKind kind = FrameEventKind::Noise;
  // Packet, BadChecksum: the raw payload. Noise: a sample of at most kNoiseSampleMax
  // bytes. Empty for the other kinds.
  std::string payload;
  // Packet, BadChecksum: payload size. Noise: bytes dropped. Overflow: payload bytes seen.
  std::uint64_t size = 0;
  // BadChecksum: what the frame carried and what its payload sums to. `malformed` is set
  // when the trailer was not two hex digits (received_checksum is then meaningless).
  std::uint8_t received_checksum = 0;
  std::uint8_t computed_checksum = 0;
  bool malformed = false;

  bool operator==(const FrameEvent&) const = default;
};

class FrameDecoder {
 public:
  // max_payload: the largest payload accepted, i.e. the advertised PacketSize. Must be >= 1.
  explicit FrameDecoder(std::size_t max_payload = kDefaultMaxPayload);

  // Consumes bytes from the front of `input` until it can report one event, and returns
  // it; returns nullopt once `input` is empty (everything consumed, partial state kept).
  std::optional<FrameEvent> next(std::string_view& input);

  // Convenience for tests and the fuzzer: all events `input` completes, in order.
  std::vector<FrameEvent> feed(std::string_view input);

  // End of stream: reports a pending noise run (if any) and resets. A partial frame is
  // dropped silently.
  std::optional<FrameEvent> finish();

  // Forget all state (disconnect). Settings (max payload, verification) are kept.
  void reset();

  // True between a `$` and the end of that frame's checksum.
  bool in_frame() const { return state_ != State::Idle; }

  std::size_t max_payload() const { return max_payload_; }
  // Takes effect immediately: a frame in progress that is already longer is reported as
  // Overflow when it ends.
  void set_max_payload(std::size_t max_payload);

  bool verify_checksum() const { return verify_checksum_; }
  void set_verify_checksum(bool verify) { verify_checksum_ = verify; }

 private:
  enum class State : std::uint8_t { Idle, Payload, Checksum1, Checksum2 };

  void begin_frame();
  FrameEvent end_frame(bool malformed);
  FrameEvent abandoned_frame();
  bool too_long() const;
  FrameEvent take_noise();
  void add_noise(char c);

  std::size_t max_payload_;
  bool verify_checksum_ = true;

  State state_ = State::Idle;
  std::string payload_;
  std::uint64_t frame_size_ = 0;  // payload bytes seen in this frame, stored or not
  bool overflowed_ = false;
  std::uint8_t sum_ = 0;
  std::uint8_t received_ = 0;

  std::uint64_t noise_count_ = 0;
  std::string noise_sample_;
};

// 8-bit sum of the bytes (the RSP checksum of a payload as transmitted).
std::uint8_t checksum(std::string_view wire_payload);

// `$` + escaped payload + `#` + two lowercase checksum digits.
std::string encode_packet(std::string_view payload);
void encode_packet_append(std::string& out, std::string_view payload);

}  // namespace s390b::rsp
