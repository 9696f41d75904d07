// Storage keys of absolute 4 KiB frames, sparse: a frame nobody set costs nothing.
//
// A key byte per frame allocated up front costs 1 GiB for a 4 TiB guest and more than the
// address space allows for a sparse dump segment of 2^46 bytes; and a dump or a guest
// sets few keys (QEMU's dump-skeys lists the frames it knows, every store sets R and C on
// one frame). So keys live in a radix tree over the 52-bit frame number: four levels of
// 1024 pointers above leaves of 4096 key bytes, allocated on the first write of a key in
// their span. A frame without a leaf has key 0 (access key 0, no fetch protection, R and
// C clear): the key a frame has after a reset.
//
// Thread safety: lookups and updates are lock-free. A missing node is installed with a
// compare-and-swap (the loser frees its copy); key bytes are read and updated with
// atomic_ref, because concurrent stores set R/C bits while other threads check keys.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

namespace s390b {

class FrameKeys {
 public:
  FrameKeys();
  ~FrameKeys();
  FrameKeys(const FrameKeys&) = delete;
  FrameKeys& operator=(const FrameKeys&) = delete;

  std::uint8_t get(std::uint64_t frame) const;
  void set(std::uint64_t frame, std::uint8_t key);
  void set_bits(std::uint64_t frame, std::uint8_t bits);  // atomic OR (reference/change)
  // Leaves allocated so far (a test's measure of "costs nothing").
  std::uint64_t leaves() const { return leaves_.load(std::memory_order_relaxed); }

  static constexpr unsigned leaf_bits = 12;  // 4096 frames = 16 MiB of storage per leaf
  static constexpr unsigned node_bits = 10;
  static constexpr unsigned levels = 4;      // 12 + 4 * 10 = 52 bits of frame number

 private:
  struct Node {
    std::array<std::atomic<void*>, std::size_t{1} << node_bits> slots{};
  };
  using Leaf = std::array<std::uint8_t, std::size_t{1} << leaf_bits>;

  std::uint8_t* byte(std::uint64_t frame, bool create) const;
  static void free_node(Node* node, unsigned depth);

  std::unique_ptr<Node> root_;
  mutable std::atomic<std::uint64_t> leaves_{0};
};

}  // namespace s390b
