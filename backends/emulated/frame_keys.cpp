#include "backends/emulated/frame_keys.h"

namespace s390b {

namespace {

constexpr std::uint64_t node_mask = (std::uint64_t{1} << FrameKeys::node_bits) - 1;
constexpr std::uint64_t leaf_mask = (std::uint64_t{1} << FrameKeys::leaf_bits) - 1;
// Frame numbers are 52 bits (64-bit addresses, 4 KiB frames); the tree spans exactly that.
static_assert(FrameKeys::leaf_bits + FrameKeys::levels * FrameKeys::node_bits == 64 - 12);

unsigned shift_of(unsigned depth) {
  return FrameKeys::leaf_bits + (FrameKeys::levels - 1 - depth) * FrameKeys::node_bits;
}

}  // namespace

FrameKeys::FrameKeys() : root_(std::make_unique<Node>()) {}

FrameKeys::~FrameKeys() {
  for (auto& slot : root_->slots)
    if (void* child = slot.load(std::memory_order_relaxed)) free_node(static_cast<Node*>(child), 1);
}

void FrameKeys::free_node(Node* node, unsigned depth) {
  for (auto& slot : node->slots) {
    void* child = slot.load(std::memory_order_relaxed);
    if (!child) continue;
    if (depth + 1 == levels) {
      delete static_cast<Leaf*>(child);
    } else {
      free_node(static_cast<Node*>(child), depth + 1);
    }
  }
  delete node;
}

std::uint8_t* FrameKeys::byte(std::uint64_t frame, bool create) const {
  Node* node = root_.get();
  for (unsigned depth = 0; depth < levels; ++depth) {
    std::atomic<void*>& slot = node->slots[(frame >> shift_of(depth)) & node_mask];
    void* child = slot.load(std::memory_order_acquire);
    if (!child) {
      if (!create) return nullptr;
      const bool leaf = depth + 1 == levels;
      void* fresh = leaf ? static_cast<void*>(new Leaf{}) : static_cast<void*>(new Node{});
      if (slot.compare_exchange_strong(child, fresh, std::memory_order_acq_rel)) {
        child = fresh;
        if (leaf) leaves_.fetch_add(1, std::memory_order_relaxed);
      } else if (leaf) {  // another thread installed it first: use theirs
        delete static_cast<Leaf*>(fresh);
      } else {
        delete static_cast<Node*>(fresh);
      }
    }
    if (depth + 1 == levels) return &(*static_cast<Leaf*>(child))[frame & leaf_mask];
    node = static_cast<Node*>(child);
  }
  return nullptr;  // not reached: the loop returns at the leaf level
}

std::uint8_t FrameKeys::get(std::uint64_t frame) const {
  const std::uint8_t* b = byte(frame, false);
  return b ? std::atomic_ref<std::uint8_t>(*const_cast<std::uint8_t*>(b)).load(std::memory_order_relaxed) : 0;
}

void FrameKeys::set(std::uint64_t frame, std::uint8_t key) {
  std::atomic_ref<std::uint8_t>(*byte(frame, true)).store(key, std::memory_order_relaxed);
}

void FrameKeys::set_bits(std::uint64_t frame, std::uint8_t bits) {
  std::atomic_ref<std::uint8_t>(*byte(frame, true)).fetch_or(bits, std::memory_order_relaxed);
}

}  // namespace s390b
