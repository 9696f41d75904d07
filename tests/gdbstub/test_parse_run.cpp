// Parsers for thread ids and run control: H T ? c s C S vCont vCont? k vKill D !.
#include <doctest/doctest.h>

#include "parse_support.h"

using namespace s390b::rsp;
using namespace s390b::rsp::test;

TEST_CASE("parse: thread ids, plain and multiprocess") {
  CHECK(parse_thread_id("1").value() == ThreadId::plain(IdPart::id(1)));
  CHECK(parse_thread_id("1f").value() == ThreadId::plain(IdPart::id(0x1f)));
  CHECK(parse_thread_id("0").value() == ThreadId::plain(IdPart::any()));
  CHECK(parse_thread_id("-1").value() == ThreadId::plain(IdPart::all()));
  CHECK(parse_thread_id("p1.2").value() == ThreadId{IdPart::id(1), IdPart::id(2)});
  CHECK(parse_thread_id("p1.-1").value() == ThreadId{IdPart::id(1), IdPart::all()});
  CHECK(parse_thread_id("p-1.-1").value() == ThreadId{IdPart::all(), IdPart::all()});
  CHECK(parse_thread_id("p0.0").value() == ThreadId{IdPart::any(), IdPart::any()});
  // `p<pid>` alone: every thread of the process.
  CHECK(parse_thread_id("p2a").value() == ThreadId{IdPart::id(0x2a), IdPart::all()});
  CHECK(parse_thread_id("").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("p").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("p1.").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("-2").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("q1").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("p1.2.3").error() == ParseError::BadThreadId);
  CHECK(parse_thread_id("10000000000000000").error() == ParseError::NumberOverflow);
}

TEST_CASE("parse: H and T") {
  CHECK(parse_as<SetThread>("Hg0") == SetThread{ThreadOp::General, ThreadId::plain(IdPart::any())});
  CHECK(parse_as<SetThread>("Hc-1") == SetThread{ThreadOp::Continue, ThreadId::plain(IdPart::all())});
  CHECK(parse_as<SetThread>("Hgp1.2") == SetThread{ThreadOp::General, ThreadId{IdPart::id(1), IdPart::id(2)}});
  expect_error("H", ParseError::MissingField);
  expect_error("Hg", ParseError::BadThreadId);
  expect_error("Hx1", ParseError::BadValue);
  CHECK(parse_as<ThreadAlive>("T3") == ThreadAlive{ThreadId::plain(IdPart::id(3))});
  CHECK(parse_as<ThreadAlive>("Tp1.3").thread.pid == IdPart::id(1));
  expect_error("T", ParseError::BadThreadId);
  expect_error("Tzz", ParseError::BadThreadId);
}

TEST_CASE("parse: ? c s C S k ! D vKill") {
  parse_as<QueryHalt>("?");
  expect_unknown("?x", "?");
  CHECK(parse_as<Continue>("c") == Continue{});
  CHECK(parse_as<Continue>("c1000") == Continue{0x1000});
  expect_error("cxyz", ParseError::BadNumber);
  CHECK(parse_as<Step>("s") == Step{});
  CHECK(parse_as<Step>("s3ff8") == Step{0x3ff8});
  expect_error("s10000000000000000", ParseError::NumberOverflow);
  CHECK(parse_as<ContinueWithSignal>("C05") == ContinueWithSignal{5, std::nullopt});
  CHECK(parse_as<ContinueWithSignal>("C02;1000") == ContinueWithSignal{2, 0x1000});
  CHECK(parse_as<StepWithSignal>("S0b") == StepWithSignal{0x0b, std::nullopt});
  CHECK(parse_as<StepWithSignal>("S0b;20") == StepWithSignal{0x0b, 0x20});
  expect_error("C", ParseError::MissingField);
  expect_error("C100", ParseError::NumberOverflow);
  expect_error("C05;", ParseError::MissingField);
  expect_error("Sxx", ParseError::BadNumber);
  parse_as<Kill>("k");
  parse_as<ExtendedMode>("!");
  CHECK(parse_as<Detach>("D") == Detach{});
  CHECK(parse_as<Detach>("D;1a") == Detach{0x1a});
  expect_error("D1", ParseError::TrailingData);
  expect_error("D;", ParseError::MissingField);
  expect_error("D;q", ParseError::BadNumber);
  CHECK(parse_as<VKill>("vKill;2") == VKill{2});
  expect_error("vKill;", ParseError::MissingField);
  expect_unknown("vKill", "vKill");
}

TEST_CASE("parse: vCont? and vCont actions") {
  parse_as<VContQuery>("vCont?");
  using K = VContAction::Kind;
  {
    const auto v = parse_as<VCont>("vCont;c");
    REQUIRE(v.actions.size() == 1);
    CHECK(v.actions[0] == VContAction{K::Continue, 0, 0, 0, std::nullopt});
  }
  {
    const auto v = parse_as<VCont>("vCont;s:p1.2;c:p1.-1");
    REQUIRE(v.actions.size() == 2);
    CHECK(v.actions[0].kind == K::Step);
    CHECK(v.actions[0].thread == ThreadId{IdPart::id(1), IdPart::id(2)});
    CHECK(v.actions[1].kind == K::Continue);
    CHECK(v.actions[1].thread == ThreadId{IdPart::id(1), IdPart::all()});
  }
  {
    const auto v = parse_as<VCont>("vCont;C05:2;S0b;t:3;r1000,2000:1");
    REQUIRE(v.actions.size() == 4);
    CHECK(v.actions[0] == VContAction{K::ContinueSignal, 5, 0, 0, ThreadId::plain(IdPart::id(2))});
    CHECK(v.actions[1] == VContAction{K::StepSignal, 0x0b, 0, 0, std::nullopt});
    CHECK(v.actions[2] == VContAction{K::Stop, 0, 0, 0, ThreadId::plain(IdPart::id(3))});
    CHECK(v.actions[3] == VContAction{K::RangeStep, 0, 0x1000, 0x2000, ThreadId::plain(IdPart::id(1))});
  }
  expect_error("vCont;", ParseError::MissingField);
  expect_error("vCont;c;", ParseError::MissingField);
  expect_error("vCont;q", ParseError::BadAction);
  expect_error("vCont;cx", ParseError::TrailingData);
  expect_error("vCont;c:", ParseError::BadThreadId);
  expect_error("vCont;C", ParseError::MissingField);
  expect_error("vCont;C123", ParseError::NumberOverflow);
  expect_error("vCont;r1000", ParseError::MissingField);
  expect_error("vCont;r1000,", ParseError::MissingField);
  // Neither `vCont` alone nor `vContX` is a vCont packet.
  expect_unknown("vCont", "vCont");
  expect_unknown("vContX", "vContX");
  expect_unknown("vCont?x", "vCont?x");
}
