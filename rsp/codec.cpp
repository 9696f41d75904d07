#include "rsp/codec.h"

#include <algorithm>
#include <utility>

#include "rsp/hex.h"

namespace s390b::rsp {

namespace {

// A packet usually fits in far less than PacketSize; start small and grow to at most
// max_payload (std::string growth is bounded by a small factor of that).
constexpr std::size_t kInitialPayloadReserve = 256;

bool is_significant_between_frames(char c) {
  return c == kFrameStart || c == kAckByte || c == kNakByte || c == kInterruptByte;
}

FrameEvent simple_event(FrameEventKind kind) {
  FrameEvent ev;
  ev.kind = kind;
  return ev;
}

}  // namespace

const char* to_string(FrameEventKind kind) {
  switch (kind) {
    case FrameEventKind::Packet: return "packet";
    case FrameEventKind::BadChecksum: return "bad-checksum";
    case FrameEventKind::Ack: return "ack";
    case FrameEventKind::Nak: return "nak";
    case FrameEventKind::Interrupt: return "interrupt";
    case FrameEventKind::Noise: return "noise";
    case FrameEventKind::Overflow: return "overflow";
  }
  return "unknown";
}

FrameDecoder::FrameDecoder(std::size_t max_payload) : max_payload_(std::max<std::size_t>(max_payload, 1)) {}

void FrameDecoder::set_max_payload(std::size_t max_payload) {
  max_payload_ = std::max<std::size_t>(max_payload, 1);
}

void FrameDecoder::reset() {
  state_ = State::Idle;
  payload_.clear();
  frame_size_ = 0;
  overflowed_ = false;
  sum_ = 0;
  received_ = 0;
  noise_count_ = 0;
  noise_sample_.clear();
}

void FrameDecoder::begin_frame() {
  state_ = State::Payload;
  payload_.clear();
  payload_.reserve(std::min(max_payload_, kInitialPayloadReserve));
  frame_size_ = 0;
  overflowed_ = false;
  sum_ = 0;
  received_ = 0;
}

bool FrameDecoder::too_long() const { return overflowed_ || frame_size_ > max_payload_; }

FrameEvent FrameDecoder::end_frame(bool malformed) {
  state_ = State::Idle;
  FrameEvent ev;
  ev.size = frame_size_;
  if (too_long()) {
    // Also covers a frame that outgrew a max_payload lowered while it was in progress.
    payload_.clear();
    ev.kind = FrameEventKind::Overflow;
  } else if (malformed || (verify_checksum_ && received_ != sum_)) {
    ev.kind = FrameEventKind::BadChecksum;
    ev.payload = std::move(payload_);
    ev.received_checksum = malformed ? 0 : received_;
    ev.computed_checksum = sum_;
    ev.malformed = malformed;
  } else {
    ev.kind = FrameEventKind::Packet;
    ev.payload = std::move(payload_);
  }
  payload_.clear();
  overflowed_ = false;
  return ev;
}

FrameEvent FrameDecoder::abandoned_frame() {
  // A `$` before the `#`: the frame so far is lost (the client will time out and resend).
  if (too_long()) return end_frame(false);
  FrameEvent ev;
  ev.kind = FrameEventKind::Noise;
  ev.size = 1 + frame_size_;
  ev.payload.push_back(kFrameStart);
  ev.payload.append(payload_, 0, std::min(payload_.size(), kNoiseSampleMax - 1));
  state_ = State::Idle;
  payload_.clear();
  return ev;
}

void FrameDecoder::add_noise(char c) {
  ++noise_count_;
  if (noise_sample_.size() < kNoiseSampleMax) noise_sample_.push_back(c);
}

FrameEvent FrameDecoder::take_noise() {
  FrameEvent ev;
  ev.kind = FrameEventKind::Noise;
  ev.size = noise_count_;
  ev.payload = std::move(noise_sample_);
  noise_sample_.clear();
  noise_count_ = 0;
  return ev;
}

std::optional<FrameEvent> FrameDecoder::next(std::string_view& input) {
  while (!input.empty()) {
    const char c = input.front();
    switch (state_) {
      case State::Idle:
        if (!is_significant_between_frames(c)) {
          input.remove_prefix(1);
          add_noise(c);
          break;
        }
        // Report the noise run that this byte ends before acting on the byte itself.
        if (noise_count_ > 0) return take_noise();
        input.remove_prefix(1);
        switch (c) {
          case kFrameStart: begin_frame(); break;
          case kAckByte: return simple_event(FrameEventKind::Ack);
          case kNakByte: return simple_event(FrameEventKind::Nak);
          default: return simple_event(FrameEventKind::Interrupt);
        }
        break;

      case State::Payload: {
        input.remove_prefix(1);
        if (c == kFrameStart) {
          // Restart: a `$` can never be payload (it is always escaped), so the previous
          // frame is incomplete and this byte starts a new one.
          FrameEvent ev = abandoned_frame();
          begin_frame();
          return ev;
        }
        if (c == kFrameEnd) {
          state_ = State::Checksum1;
          break;
        }
        sum_ = static_cast<std::uint8_t>(sum_ + static_cast<std::uint8_t>(c));
        ++frame_size_;
        if (!overflowed_) {
          if (payload_.size() < max_payload_) {
            payload_.push_back(c);
          } else {
            // Count the rest without storing it: memory stays bounded by max_payload.
            overflowed_ = true;
            payload_.clear();
          }
        }
        break;
      }

      case State::Checksum1:
      case State::Checksum2: {
        const int digit = hex_digit_value(c);
        // Not a checksum digit: the frame is broken. Leave the byte in the input so it is
        // re-read between frames (it may be a `$` starting the retransmission).
        if (digit < 0) return end_frame(true);
        input.remove_prefix(1);
        if (state_ == State::Checksum1) {
          received_ = static_cast<std::uint8_t>(digit << 4);
          state_ = State::Checksum2;
          break;
        }
        received_ = static_cast<std::uint8_t>(received_ | digit);
        return end_frame(false);
      }
    }
  }
  return std::nullopt;
}

std::vector<FrameEvent> FrameDecoder::feed(std::string_view input) {
  std::vector<FrameEvent> events;
  while (auto ev = next(input)) events.push_back(std::move(*ev));
  return events;
}

std::optional<FrameEvent> FrameDecoder::finish() {
  std::optional<FrameEvent> pending;
  if (noise_count_ > 0) pending = take_noise();
  reset();
  return pending;
}

std::uint8_t checksum(std::string_view wire_payload) {
  std::uint8_t sum = 0;
  for (char c : wire_payload) sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
  return sum;
}

void encode_packet_append(std::string& out, std::string_view payload) {
  out.push_back(kFrameStart);
  const std::size_t body = out.size();
  escape_binary_append(out, payload);
  const std::uint8_t sum = checksum(std::string_view(out).substr(body));
  out.push_back(kFrameEnd);
  format_hex_byte_append(out, sum);
}

std::string encode_packet(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 4);
  encode_packet_append(out, payload);
  return out;
}

}  // namespace s390b::rsp
