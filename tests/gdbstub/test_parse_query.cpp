// Parsers for q/Q/v queries and settings, and unknown packets.
#include <doctest/doctest.h>

#include "parse_support.h"

using namespace s390b::rsp;
using namespace s390b::rsp::test;

TEST_CASE("parse: qSupported from a real GDB") {
  const auto q = parse_as<QuerySupported>(
      "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;"
      "exec-events+;vContSupported+;QThreadEvents+;QThreadOptions+;no-resumed+;"
      "memory-tagging+;xmlRegisters=i386;error-message+");
  CHECK(q.features.size() == 14);
  CHECK(q.supports("multiprocess"));
  CHECK(q.supports("swbreak"));
  CHECK(q.supports("error-message"));
  CHECK_FALSE(q.supports("binary-upload"));
  CHECK_FALSE(q.supports("xmlRegisters"));
  const Feature* xml = q.find("xmlRegisters");
  REQUIRE(xml != nullptr);
  CHECK(xml->state == Feature::State::Value);
  CHECK(xml->value == "i386");
}

TEST_CASE("parse: qSupported forms and leniency") {
  CHECK(parse_as<QuerySupported>("qSupported").features.empty());
  CHECK(parse_as<QuerySupported>("qSupported:").features.empty());
  const auto q = parse_as<QuerySupported>("qSupported:a+;b-;c?;d=x=y;e;;f=;+");
  REQUIRE(q.features.size() == 6);
  CHECK(q.features[0] == Feature{"a", Feature::State::Supported, ""});
  CHECK(q.features[1] == Feature{"b", Feature::State::Unsupported, ""});
  CHECK(q.features[2] == Feature{"c", Feature::State::Query, ""});
  CHECK(q.features[3] == Feature{"d", Feature::State::Value, "x=y"});
  CHECK(q.features[4] == Feature{"e", Feature::State::Supported, ""});
  CHECK(q.features[5] == Feature{"f", Feature::State::Value, ""});
  expect_unknown("qSupportedX", "qSupportedX");
}

TEST_CASE("parse: QStartNoAckMode is matched exactly") {
  parse_as<StartNoAckMode>("QStartNoAckMode");
  expect_unknown("QStartNoAckModeX", "QStartNoAckModeX");
  expect_unknown("QStartNoAck", "QStartNoAck");
}

TEST_CASE("parse: qXfer") {
  CHECK(parse_as<XferFeaturesRead>("qXfer:features:read:target.xml:0,ffb") ==
        XferFeaturesRead{"target.xml", 0, 0xffb});
  CHECK(parse_as<XferFeaturesRead>("qXfer:features:read:s390x-core64.xml:1000,7fff") ==
        XferFeaturesRead{"s390x-core64.xml", 0x1000, 0x7fff});
  CHECK(parse_as<XferRead>("qXfer:threads:read::0,fff") == XferRead{"threads", "", 0, 0xfff});
  CHECK(parse_as<XferRead>("qXfer:memory-map:read::0,100") == XferRead{"memory-map", "", 0, 0x100});
  // An annex may contain `:`; offset,length follows the last one.
  CHECK(parse_as<XferRead>("qXfer:obj:read:a:b:10,20") == XferRead{"obj", "a:b", 0x10, 0x20});
  // Other operations: unknown, so the session replies empty.
  expect_unknown("qXfer:features:write:target.xml:0:abc", "qXfer:features:write");
  expect_unknown("qXfer:siginfo:write::0:ab", "qXfer:siginfo:write");
  expect_error("qXfer:", ParseError::MissingField);
  expect_error("qXfer:features", ParseError::MissingField);
  expect_error("qXfer:features:read", ParseError::MissingField);
  expect_error("qXfer:features:read:target.xml", ParseError::MissingField);
  expect_error("qXfer:features:read:target.xml:0", ParseError::MissingField);
  expect_error("qXfer:features:read:target.xml:0,", ParseError::MissingField);
  expect_error("qXfer:features:read:target.xml:x,1", ParseError::BadNumber);
  expect_error("qXfer:features:read:target.xml:0,10000000000000000", ParseError::NumberOverflow);
  expect_unknown("qXfer", "qXfer");
}

TEST_CASE("parse: thread queries") {
  parse_as<ThreadInfoFirst>("qfThreadInfo");
  parse_as<ThreadInfoNext>("qsThreadInfo");
  parse_as<QueryCurrentThread>("qC");
  // qC must not swallow qCRC.
  expect_unknown("qCRC:1000,40", "qCRC");
  CHECK(parse_as<ThreadExtraInfo>("qThreadExtraInfo,2").thread == ThreadId::plain(IdPart::id(2)));
  CHECK(parse_as<ThreadExtraInfo>("qThreadExtraInfo,p1.2").thread ==
        ThreadId{IdPart::id(1), IdPart::id(2)});
  expect_error("qThreadExtraInfo,", ParseError::BadThreadId);
  expect_unknown("qThreadExtraInfo:2", "qThreadExtraInfo");
}

TEST_CASE("parse: qAttached, qRcmd, qOffsets, qSymbol, qTStatus, vMustReplyEmpty") {
  CHECK(parse_as<QueryAttached>("qAttached") == QueryAttached{});
  CHECK(parse_as<QueryAttached>("qAttached:1") == QueryAttached{1});
  CHECK(parse_as<QueryAttached>("qAttached:") == QueryAttached{});  // lenient
  expect_error("qAttached:z", ParseError::BadNumber);

  CHECK(parse_as<MonitorCommand>("qRcmd,68656c70").command == "help");
  CHECK(parse_as<MonitorCommand>("qRcmd,").command.empty());
  CHECK(parse_as<MonitorCommand>("qRcmd,766965772061722031").command == "view ar 1");
  expect_error("qRcmd,6", ParseError::BadHexData);
  expect_error("qRcmd,zz", ParseError::BadHexData);
  expect_unknown("qRcmd", "qRcmd");

  parse_as<QueryOffsets>("qOffsets");
  CHECK(parse_as<QuerySymbol>("qSymbol::") == QuerySymbol{});
  CHECK(parse_as<QuerySymbol>("qSymbol:1000:6d61696e") == QuerySymbol{0x1000, "main"});
  CHECK(parse_as<QuerySymbol>("qSymbol::6d61696e") == QuerySymbol{std::nullopt, "main"});
  expect_error("qSymbol:", ParseError::MissingField);
  expect_error("qSymbol:zz:6d", ParseError::BadNumber);
  expect_error("qSymbol::6", ParseError::BadHexData);

  parse_as<QueryTraceStatus>("qTStatus");
  parse_as<MustReplyEmpty>("vMustReplyEmpty");
}

TEST_CASE("parse: Q settings and LLDB queries") {
  CHECK(parse_as<SetThreadEvents>("QThreadEvents:1").enable);
  CHECK_FALSE(parse_as<SetThreadEvents>("QThreadEvents:0").enable);
  expect_error("QThreadEvents:2", ParseError::BadValue);
  expect_error("QThreadEvents:", ParseError::MissingField);
  CHECK(parse_as<SetNonStop>("QNonStop:1").enable);
  expect_error("QNonStop:01", ParseError::BadValue);
  parse_as<ListThreadsInStopReply>("QListThreadsInStopReply");
  parse_as<EnableErrorStrings>("QEnableErrorStrings");
  parse_as<HostInfo>("qHostInfo");
  parse_as<ProcessInfo>("qProcessInfo");
}

TEST_CASE("parse: unknown packets are values, not errors") {
  expect_unknown("", "");
  expect_unknown("vFile:open:6a7573742070726f62696e67,0,1c0", "vFile");
  expect_unknown("qGDBServerVersion", "qGDBServerVersion");
  expect_unknown("QEnableErrorStringsNow", "QEnableErrorStringsNow");  // a longer name is another packet
  expect_unknown("qRegisterInfo0", "qRegisterInfo0");
  expect_unknown("jThreadsInfo", "j");
  expect_unknown("R00", "R");
  expect_unknown("qL1200000000000000000", "qL1200000000000000000");
  expect_unknown("vRun;", "vRun");
  expect_unknown("_M1000,rwx", "_M1000");
  // Hostile names are capped.
  CHECK(parse_as<Unknown>("q" + std::string(5000, 'a')).name.size() == 64);
}
