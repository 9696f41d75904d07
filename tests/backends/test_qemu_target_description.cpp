// TargetDescription (backends/qemu/target_description.h): QEMU's target.xml and the
// documents it includes, parsed into numbered registers; the documents QEMU 7.2 sends
// (fake_qemu.h) give its 107 s390x registers; malformed or hostile descriptions are errors,
// never hangs.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "backends/qemu/target_description.h"
#include "tests/backends/fake_qemu.h"

using namespace s390b::qemu;

namespace {

// A fetch over a map of documents, counting what was asked for.
struct Documents {
  std::map<std::string, std::string> docs;
  std::vector<std::string> fetched;
  TargetDescription::Fetch fetch() {
    return [this](std::string_view annex) -> tl::expected<std::string, std::string> {
      fetched.emplace_back(annex);
      auto it = docs.find(std::string(annex));
      if (it == docs.end()) return tl::unexpected(std::string("E00"));
      return it->second;
    };
  }
};

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

}  // namespace

TEST_CASE("target description: QEMU 7.2's s390x documents") {
  for (const bool virt : {false, true}) {
    CAPTURE(virt);
    Documents d;
    const auto features = s390b::test::qemu_s390x_features(virt);
    d.docs["target.xml"] = s390b::test::target_document(features);
    for (const auto& f : features) d.docs[f.file] = s390b::test::feature_document(f);
    auto t = TargetDescription::load(d.fetch());
    INFO((t ? std::string() : t.error()));
    REQUIRE(t);
    CHECK(t->architecture() == "s390:64-bit");
    CHECK(t->registers().size() == (virt ? 107u : 103u));
    CHECK(d.fetched.front() == "target.xml");
    CHECK(d.fetched.size() == features.size() + 1);
    for (unsigned i = 0; i < t->registers().size(); ++i) CHECK(t->registers()[i].number == i);
    const auto* pswa = t->find("pswa");
    REQUIRE(pswa);
    CHECK(pswa->number == 1);
    CHECK(pswa->feature == "org.gnu.gdb.s390.core");
    CHECK(t->find("r15")->number == 17);
    CHECK(t->find("acr0")->number == 18);
    CHECK(t->find("acr0")->bits == 32);
    CHECK(t->find("fpc")->number == 34);
    CHECK(t->find("f0")->number == 35);
    CHECK(t->find("v0l")->number == 51);
    CHECK(t->find("v16")->number == 67);
    CHECK(t->find("v16")->bits == 128);
    CHECK(t->find("gs_reserved")->number == 83);
    CHECK(t->find("cr0")->number == 87);
    CHECK(t->find("cr0")->feature == "org.gnu.gdb.s390.cr");
    CHECK(t->has_feature("org.gnu.gdb.s390.vx"));
    CHECK(t->has_feature("org.gnu.gdb.s390.virt") == virt);
    CHECK((t->find("prefix") != nullptr) == virt);
    if (virt) CHECK(t->find("prefix")->number == 106);
    CHECK(t->find("nonesuch") == nullptr);
  }
}

TEST_CASE("target description: regnum restarts the numbering; comments and declarations are skipped") {
  Documents d;
  const std::string root =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
      "<!-- <reg name=\"commented\" bitsize=\"64\"/> -->\n"
      "<feature name='one'>\n"
      "  <reg name=\"a\" bitsize=\"64\"/>\n"
      "  <reg name=\"b\" bitsize=\"32\" regnum=\"10\"/>\n"
      "  <reg bitsize=\"16\" name=\"c\" />\n"
      "</feature>\n"
      "<xi:include href=\"two.xml\"/>\n"
      "</target>\n";
  d.docs["two.xml"] = "<feature name=\"two\"><reg name=\"d\" bitsize=\"128\" group=\"vector\"/></feature>";
  auto t = TargetDescription::parse(root, d.fetch());
  INFO((t ? std::string() : t.error()));
  REQUIRE(t);
  REQUIRE(t->registers().size() == 4);
  CHECK(t->find("commented") == nullptr);
  CHECK(t->find("a")->number == 0);
  CHECK(t->find("b")->number == 10);
  CHECK(t->find("c")->number == 11);
  CHECK(t->find("c")->bits == 16);
  CHECK(t->find("d")->number == 12);
  CHECK(t->find("a")->feature == "one");
  CHECK(t->find("d")->feature == "two");
  CHECK(t->architecture().empty());
}

TEST_CASE("target description: malformed descriptions are errors") {
  const auto fetch_nothing = [](std::string_view) -> tl::expected<std::string, std::string> {
    return tl::unexpected(std::string("E00"));
  };
  struct Case {
    const char* doc;
    const char* error;
  };
  for (const Case k : {
           Case{"<target></target>", "names no registers"},
           Case{"<target><reg name=\"a\"/></target>", "bitsize"},
           Case{"<target><reg bitsize=\"64\"/></target>", "name"},
           Case{"<target><reg name=\"a\" bitsize=\"12\"/></target>", "bitsize"},
           Case{"<target><reg name=\"a\" bitsize=\"0\"/></target>", "bitsize"},
           Case{"<target><reg name=\"a\" bitsize=\"x\"/></target>", "bitsize"},
           Case{"<target><reg name=\"a\" bitsize=\"64\" regnum=\"99999\"/></target>", "regnum"},
           Case{"<target><reg name=\"a\" bitsize=\"64\" regnum=\"-1\"/></target>", "regnum"},
           Case{"<target><xi:include/></target>", "without href"},
           Case{"<target><xi:include href=\"missing.xml\"/></target>", "missing.xml: E00"},
       }) {
    CAPTURE(k.doc);
    auto t = TargetDescription::parse(k.doc, fetch_nothing);
    REQUIRE_FALSE(t);
    CHECK(contains(t.error(), k.error));
  }
  // target.xml itself unreadable.
  auto none = TargetDescription::load(fetch_nothing);
  REQUIRE_FALSE(none);
  CHECK(contains(none.error(), "target.xml"));
}

TEST_CASE("target description: an include cycle or an endless chain is an error, not a hang") {
  Documents cycle;
  cycle.docs["target.xml"] = "<target><xi:include href=\"a.xml\"/></target>";
  cycle.docs["a.xml"] = "<feature name=\"a\"><reg name=\"x\" bitsize=\"8\"/><xi:include href=\"b.xml\"/></feature>";
  cycle.docs["b.xml"] = "<feature name=\"b\"><xi:include href=\"a.xml\"/></feature>";
  auto t = TargetDescription::load(cycle.fetch());
  REQUIRE_FALSE(t);
  CHECK(contains(t.error(), "included twice"));
  CHECK(cycle.fetched.size() == 3);

  // doc0 -> doc1 -> doc2 -> ...: every one new, so only the document limit ends it.
  TargetDescription::Fetch chain = [](std::string_view annex) -> tl::expected<std::string, std::string> {
    const unsigned n = annex == "target.xml" ? 0 : static_cast<unsigned>(std::stoul(std::string(annex.substr(3)))) + 1;
    return "<feature name=\"f\"><reg name=\"r" + std::to_string(n) + "\" bitsize=\"8\"/><xi:include href=\"doc" +
           std::to_string(n) + "\"/></feature>";
  };
  auto endless = TargetDescription::load(chain);
  REQUIRE_FALSE(endless);
  CHECK(contains(endless.error(), "more than"));
}

TEST_CASE("target description: xml_attribute") {
  CHECK(xml_attribute("reg name=\"r0\" bitsize=\"64\"", "name") == "r0");
  CHECK(xml_attribute("reg name='r0' bitsize='64'", "bitsize") == "64");
  CHECK(xml_attribute("reg name = \"r0\"", "name") == "r0");
  CHECK(xml_attribute("feature name=\"a&lt;b&gt;&amp;&quot;&apos;\"", "name") == "a<b>&\"'");
  CHECK(xml_attribute("reg regname=\"x\" name=\"y\"", "name") == "y");  // a suffix of another attribute
  CHECK(xml_attribute("reg name=\"x\"", "bitsize") == std::nullopt);
  CHECK(xml_attribute("reg name=\"unterminated", "name") == std::nullopt);
  CHECK(xml_attribute("reg name", "name") == std::nullopt);
  CHECK(xml_attribute("reg\tname=\"tab\"", "name") == "tab");
}
