// QemuBackend (backends/qemu/qemu_backend.h) end to end against a fake QEMU 7.2 s390x
// gdbstub (fake_qemu.h, qemu_fixture.h), part 1: attach, registers through the target
// description, MEMOPs over QEMU's physical-memory mode or a shared RAM file.
// Part 2 (test_qemu_backend_run.cpp): run control, QEMU going away and coming back.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "tests/backends/qemu_fixture.h"
#include "tests/translate/table_builder.h"

using namespace s390b;
using namespace s390b::test;

TEST_SUITE("concurrency") {

TEST_CASE("qemu backend: attach reads QEMU's features, registers and vCPUs") {
  QemuFixture f;
  CHECK(f.backend->name() == "qemu");
  CHECK(f.backend->cpu_count() == 2);
  const auto d = f.backend->describe();
  CHECK(d.registers == 107);  // 18 core + 16 acr + 17 fpr + 32 vx + 4 gs + 16 cr + 4 virt
  CHECK(d.ram_size == kRam);
  CHECK(d.accelerator == "tcg");
  CHECK(d.prefix_source == "gdbstub register");
  CHECK(contains(d.memory_path, "physical-memory mode"));
  CHECK_FALSE(d.no_ack);
  CHECK(f.backend->vcont_actions() == ";c;C;s;S");
  REQUIRE(f.backend->memory_map());
  const auto ranges = f.backend->memory_map()->ranges();
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].start == 0);
  CHECK(ranges[0].size == kRam);
  CHECK(f.backend->run_control() != nullptr);
  CHECK(f.backend->breakpoints() != nullptr);
  REQUIRE(f.backend->monitor_passthrough());
  CHECK(f.backend->monitor_passthrough()->monitor_word() == "qemu");
  CHECK_FALSE(f.backend->unavailable_reason());
  CHECK(f.fake->monitor_commands() == std::vector<std::string>{"info memory_size_summary"});
  CHECK(f.count("Qqemu.PhyMemMode:1") == 1);
  // Every document was read, in windows no longer than QEMU's packet size allows.
  for (const char* doc : {"target.xml", "s390x-core64.xml", "s390-acr.xml", "s390-fpr.xml", "s390-vx.xml",
                          "s390-gs.xml", "s390-cr.xml", "s390-virt.xml"}) {
    CAPTURE(doc);
    CHECK(f.count(std::string("qXfer:features:read:") + doc + ":") >= 1);
  }
  CHECK(f.count("qXfer:features:read:s390-vx.xml:") >= 2);  // longer than one window
  CHECK(f.fake->stub().problems().empty());
  // Going away leaves QEMU's memory mode as it was.
  f.backend.reset();
  CHECK(f.fake->stub().wait_for([](const auto& s) { return !s.received.empty() && s.received.back() == "Qqemu.PhyMemMode:0"; }));
}

TEST_CASE("qemu backend: cpu_state puts every register in its CpuState field") {
  QemuFixture f;
  for (unsigned cpu = 0; cpu < 2; ++cpu) {
    CAPTURE(cpu);
    auto s = f.backend->cpu_state(cpu);
    REQUIRE(s);
    const FakeQemu& q = *f.fake;
    CHECK(s->psw.mask == q.reg(cpu, "pswm"));
    CHECK(s->psw.addr == q.reg(cpu, "pswa"));
    for (unsigned i = 0; i < 16; ++i) {
      CAPTURE(i);
      const std::string n = std::to_string(i);
      CHECK(s->gprs[i] == q.reg(cpu, "r" + n));
      CHECK(s->acrs[i] == q.reg(cpu, "acr" + n));
      CHECK(s->crs[i] == q.reg(cpu, "cr" + n));
      CHECK(s->vrs[i][0] == q.reg(cpu, "f" + n));       // FPR n: the left half of VR n
      CHECK(s->vrs[i][1] == q.reg(cpu, "v" + n + "l"));  // the right half
      CHECK(s->vrs[16 + i][0] == q.reg(cpu, "v" + std::to_string(16 + i)));
      CHECK(s->vrs[16 + i][1] == q.reg_low(cpu, "v" + std::to_string(16 + i)));
    }
    CHECK(s->acrs[5] == static_cast<std::uint32_t>(FakeQemu::initial_value(cpu, 18 + 5)));
    CHECK(s->fpc == q.reg(cpu, "fpc"));
    CHECK(s->gs[0] == q.reg(cpu, "gs_reserved"));
    CHECK(s->gs[1] == q.reg(cpu, "gsd"));
    CHECK(s->gs[2] == q.reg(cpu, "gssm"));
    CHECK(s->gs[3] == q.reg(cpu, "gsepla"));
    CHECK(s->ckc == q.reg(cpu, "ckc"));
    CHECK(s->cputm == q.reg(cpu, "cputm"));
    CHECK(s->last_break == q.reg(cpu, "last_break"));
    CHECK(s->prefix == (cpu == 0 ? kPrefix0 : kPrefix1));
    const auto& p = s->present;
    CHECK((p.psw && p.gprs && p.acrs && p.crs && p.fprs && p.vrs && p.gs && p.prefix && p.ckc && p.cputm &&
           p.last_break));
    CHECK_FALSE(p.todpr);  // QEMU's stub has no TOD programmable register
  }
  CHECK(f.fake->stub().received_starting("Hg") == std::vector<std::string>{"Hg01", "Hg02"});
  // Fetched once per stop: asking again costs no packet.
  const auto before = f.fake->stub().received().size();
  CHECK(f.backend->cpu_state(1));
  CHECK(f.fake->stub().received().size() == before);
  CHECK(f.backend->cpu_state(2).error() == HostError::einval);
}

TEST_CASE("qemu backend: set_cpu_state writes only the changed registers with P") {
  QemuFixture f;
  auto s = f.backend->cpu_state(1);
  REQUIRE(s);
  const std::size_t hg_before = f.count("Hg");
  s->gprs[3] = 0x1111'2222'3333'4444;
  s->crs[0] = 0x00000000'14000000;
  s->acrs[2] = 0xabcd0123;
  s->vrs[17] = {0x0102030405060708, 0x090a0b0c0d0e0f10};
  s->vrs[4][1] = 0x4444;  // v4l
  s->prefix = 0x8000;
  REQUIRE(f.backend->set_cpu_state(1, *s));
  std::vector<std::string> writes = f.fake->stub().received_starting("P");
  std::sort(writes.begin(), writes.end());
  std::vector<std::string> expected = {
      fmt::format("P{:x}=1111222233334444", f.fake->number("r3")),
      fmt::format("P{:x}=0000000014000000", f.fake->number("cr0")),
      fmt::format("P{:x}=abcd0123", f.fake->number("acr2")),
      fmt::format("P{:x}=0102030405060708090a0b0c0d0e0f10", f.fake->number("v17")),
      fmt::format("P{:x}=0000000000004444", f.fake->number("v4l")),
      fmt::format("P{:x}=0000000000008000", f.fake->number("prefix")),
  };
  std::sort(expected.begin(), expected.end());
  CHECK(writes == expected);
  CHECK(f.count("Hg") == hg_before + 1);
  CHECK(f.fake->stub().received_starting("Hg").back() == "Hg02");
  CHECK(f.fake->reg(1, "r3") == 0x1111'2222'3333'4444);
  CHECK(f.fake->reg(1, "v17") == 0x0102030405060708);
  CHECK(f.fake->reg_low(1, "v17") == 0x090a0b0c0d0e0f10);
  CHECK(f.fake->reg(0, "r3") == FakeQemu::initial_value(0, f.fake->number("r3")));  // the other vCPU
  // Read back from QEMU: the new values.
  auto again = f.backend->cpu_state(1);
  REQUIRE(again);
  CHECK(again->gprs[3] == 0x1111'2222'3333'4444);
  CHECK(again->prefix == 0x8000);
  // Nothing changed: nothing written.
  const auto n = f.fake->stub().received().size();
  REQUIRE(f.backend->set_cpu_state(1, *again));
  CHECK(f.fake->stub().received().size() == n);
  // The TOD programmable register is not QEMU's to set.
  again->todpr = 1;
  CHECK(f.backend->set_cpu_state(1, *again).error() == HostError::enotsup);
}

TEST_CASE("qemu backend: logical reads with DAT off apply the prefix; a tiny DAT space on cpu 1") {
  QemuFixture f;
  f.fake->poke(0x0100, "absolute-0100");
  f.fake->poke(kPrefix0 + 0x100, "lowcore-of-cpu0");
  f.fake->poke(kPrefix1 + 0x100, "lowcore-of-cpu1");
  // cpu 0, DAT off: real 0x100 is its lowcore; real PREFIX+0x100 is absolute 0x100.
  CHECK(read_logical(*f.backend, 0, 0x100, 15) == "lowcore-of-cpu0");
  CHECK(read_logical(*f.backend, 0, kPrefix0 + 0x100, 13) == "absolute-0100");
  CHECK(read_absolute(*f.backend, 0x100, 13) == "absolute-0100");

  // cpu 1: a segment table, one page table, one page: va 0x123000 -> frame 0x30000.
  SparseStorage tables;
  TableBuilder tb(tables, 0x40000, 0x80000);
  const Table st = tb.segment_table(0, 0);
  const Asce asce = TableBuilder::asce(st);
  tb.map_page(asce, 0x123000, 0x30000);
  for (const auto& [frame, bytes] : tables.frames())
    f.fake->poke(frame, std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  f.fake->poke(0x30456, "through-dat");
  f.fake->set_reg(1, "pswm", kPsw64 | Psw::dat_bit);
  f.fake->set_reg(1, "cr1", asce.raw);
  CHECK(read_logical(*f.backend, 1, 0x123456, 11) == "through-dat");
  MemopResult r;
  read_logical(*f.backend, 1, 0x124000, 4, &r);
  CHECK(r.is_exception());
  CHECK(r.fault.code == PgmCode::page_translation);
  read_logical(*f.backend, 1, 0x200000, 4, &r);
  CHECK(r.is_exception());
  CHECK(r.fault.code == PgmCode::segment_translation);

  // A logical write goes through to QEMU's RAM at once, prefixed.
  CHECK(write_memop(*f.backend, MemopKind::logical_write, 0, 0x300, "via-cpu0").ok());
  CHECK(f.fake->peek(kPrefix0 + 0x300, 8) == "via-cpu0");
  CHECK(f.fake->stub().problems().empty());
}

TEST_CASE("qemu backend: absolute reads and writes reach QEMU's RAM") {
  QemuFixture f;
  f.fake->poke(0x8000, "guest data");
  CHECK(read_absolute(*f.backend, 0x8000, 10) == "guest data");
  // Every m was on an absolute address inside RAM, for no more than QEMU takes (half its
  // PacketSize of 0x1000: gdbstub.c, handle_read_mem).
  for (const std::string& m : f.fake->stub().received_starting("m")) {
    CAPTURE(m);
    const auto comma = m.find(',');
    CHECK(std::stoull(m.substr(comma + 1), nullptr, 16) <= 0x1000 / 2);
  }
  // A write reaches QEMU before the MEMOP returns (write-through), also across a page.
  CHECK(write_memop(*f.backend, MemopKind::absolute_write, 0, 0x8ffc, "crossing").ok());
  CHECK(f.fake->peek(0x8ffc, 8) == "crossing");
  CHECK(read_absolute(*f.backend, 0x8ffc, 8) == "crossing");
  CHECK(read_absolute(*f.backend, 0x8000, 4) == "gues");
  // Outside RAM: an addressing exception, not a request QEMU would refuse.
  MemopResult r;
  read_absolute(*f.backend, kRam - 2, 4, &r);
  CHECK(r.is_exception());
  CHECK(r.fault.code == PgmCode::addressing);
}

TEST_CASE("qemu backend: sequential reads are read ahead; writes and runs keep them fresh") {
  QemuFixture f;
  for (std::uint64_t page = 0x10000; page < 0x20000; page += 0x1000) f.fake->poke(page, fmt::format("page {:x}", page));
  auto m_count = [&] { return f.count("m"); };
  CHECK(read_absolute(*f.backend, 0x10000, 10) == "page 10000");
  CHECK(read_absolute(*f.backend, 0x11000, 10) == "page 11000");  // sequential: reads ahead
  const auto after_ahead = m_count();
  CHECK(read_absolute(*f.backend, 0x12000, 10) == "page 12000");
  CHECK(read_absolute(*f.backend, 0x1f000, 10) == "page 1f000");
  CHECK(m_count() == after_ahead);  // both came with the read-ahead
  // A write to a page read ahead but not yet asked for is what a later read sees.
  CHECK(write_memop(*f.backend, MemopKind::absolute_write, 0, 0x13000, "written!!!").ok());
  CHECK(read_absolute(*f.backend, 0x13000, 10) == "written!!!");
  CHECK(f.fake->peek(0x13000, 10) == "written!!!");
  // The guest ran: what was read ahead is stale.
  REQUIRE(f.backend->resume({0, 1}));
  REQUIRE(f.fake->wait_running());
  f.fake->poke(0x14000, "after run!");
  auto w = f.wait_async();
  f.fake->stop("T05thread:01;");
  REQUIRE(f.get(w));
  CHECK(read_absolute(*f.backend, 0x14000, 10) == "after run!");
  // Sequential reads at the end of RAM never ask for more than there is.
  f.fake->poke(kRam - 0x1000, "last page!");
  CHECK(read_absolute(*f.backend, kRam - 0x3000, 4).size() == 4);
  CHECK(read_absolute(*f.backend, kRam - 0x2000, 4).size() == 4);
  CHECK(read_absolute(*f.backend, kRam - 0x1000, 10) == "last page!");
  for (const std::string& m : f.fake->stub().received_starting("m")) {
    CAPTURE(m);
    const auto comma = m.find(',');
    CHECK(std::stoull(m.substr(1, comma - 1), nullptr, 16) + std::stoull(m.substr(comma + 1), nullptr, 16) <= kRam);
  }
  CHECK_FALSE(f.backend->unavailable_reason());
}

TEST_CASE("qemu backend: the shared RAM file is guest storage") {
  TempDir ram_dir("s390b-qemu-ram");
  const std::string ram = (ram_dir.path / "guest.ram").string();
  {
    std::string image(64 * 1024, '\0');
    image.replace(0x100, 9, "from-file");
    image.replace(kPrefix0 + 0x100, 8, "lowcore0");
    std::ofstream(ram, std::ios::binary).write(image.data(), static_cast<std::streamsize>(image.size()));
  }
  QemuFixture f({}, ram);
  const auto d = f.backend->describe();
  CHECK(d.ram_size == 64 * 1024);
  CHECK(contains(d.memory_path, ram));
  CHECK(read_absolute(*f.backend, 0x100, 9) == "from-file");
  CHECK(read_logical(*f.backend, 0, 0x100, 8) == "lowcore0");
  CHECK(write_memop(*f.backend, MemopKind::absolute_write, 0, 0x2000, "to-file").ok());
  std::string back(7, '\0');
  std::ifstream in(ram, std::ios::binary);
  in.seekg(0x2000);
  in.read(back.data(), 7);
  CHECK(back == "to-file");
  // QEMU's memory was never asked for, nor its memory mode changed.
  CHECK(f.count("m") == 0);
  CHECK(f.count("M") == 0);
  CHECK(f.count("Qqemu.PhyMemMode") == 0);
  CHECK(f.fake->monitor_commands().empty());
}

TEST_CASE("qemu backend: without the virt registers and no dump, the prefix is not present") {
  FakeQemu::Config config;
  config.virt = false;
  QemuFixture f(config);
  const auto d = f.backend->describe();
  CHECK(d.registers == 103);
  CHECK(contains(d.prefix_source, "dump"));
  auto s0 = f.backend->cpu_state(0);
  REQUIRE(s0);
  CHECK_FALSE(s0->present.prefix);
  CHECK_FALSE(s0->present.ckc);
  CHECK(s0->gprs[1] == f.fake->reg(0, "r1"));
  REQUIRE(f.backend->cpu_state(1));
  // The one-page dump was asked for once per stop, and its failure logged.
  const auto commands = f.fake->monitor_commands();
  CHECK(std::count_if(commands.begin(), commands.end(), [](auto& c) { return c.starts_with("dump-guest-memory"); }) == 1);
  {
    std::lock_guard lk(f.log_mutex);
    CHECK(std::any_of(f.log_lines.begin(), f.log_lines.end(), [](auto& l) { return contains(l, "prefixes are unknown"); }));
  }
  // A prefix change has no register to go to.
  s0->prefix = 0x8000;
  CHECK(f.backend->set_cpu_state(0, *s0).error() == HostError::enotsup);
}

}  // TEST_SUITE("concurrency")
