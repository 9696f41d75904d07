// RspClient (backends/qemu/rsp_client.h), the bridge's client of QEMU's gdbstub, against
// a fake stub on a loopback socket (fake_gdbstub.h) that speaks the wire protocol as
// QEMU 7.2 does: acks, no no-ack mode, `O` console packets, run-length encoding and binary
// escapes in replies, an unasked stop reply right after connect. Every wait has a
// deadline, so a bug fails a case instead of hanging the suite.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <string>

#include "backends/qemu/rsp_client.h"
#include "tests/backends/fake_gdbstub.h"

using namespace std::chrono_literals;
using namespace s390b::qemu;
using s390b::test::console_packet;
using s390b::test::FakeGdbStub;

namespace {

constexpr auto kWait = 2000ms;

std::unique_ptr<RspClient> connect_to(const FakeGdbStub& stub) {
  auto endpoint = Endpoint::parse(stub.endpoint());
  REQUIRE(endpoint);
  auto client = RspClient::connect(*endpoint, kWait);
  INFO((client ? std::string() : client.error()));
  REQUIRE(client);
  return std::move(*client);
}

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

// A stub whose every request is answered "r" + payload.
FakeGdbStub::Options echo_options() {
  FakeGdbStub::Options o;
  o.handler = [](const std::string& p) { return FakeGdbStub::Replies{"r" + p}; };
  return o;
}

// Takes a future's value within the deadline; on a timeout ends the stub's connection
// (which wakes any blocked receive()) so the case fails instead of hanging.
template <typename T>
T get_within(std::future<T>& f, FakeGdbStub& stub) {
  if (f.wait_for(kWait) != std::future_status::ready) {
    stub.close_connection();
    FAIL_CHECK("no result within the deadline");
  }
  return f.get();
}

}  // namespace

TEST_CASE("rsp client: Endpoint::parse") {
  auto tcp = Endpoint::parse("127.0.0.1:1234");
  REQUIRE(tcp);
  CHECK(tcp->host == "127.0.0.1");
  CHECK(tcp->port == 1234);
  CHECK(tcp->unix_path.empty());
  CHECK(tcp->describe() == "127.0.0.1:1234");

  auto local = Endpoint::parse(":1234");
  REQUIRE(local);
  CHECK(local->host == "localhost");
  CHECK(local->port == 1234);

  auto v6 = Endpoint::parse("[::1]:65535");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 65535);
  CHECK(v6->describe() == "[::1]:65535");

  auto named = Endpoint::parse("qemu-host.example:1");
  REQUIRE(named);
  CHECK(named->host == "qemu-host.example");
  CHECK(named->port == 1);

  auto unix_socket = Endpoint::parse("unix:/tmp/qemu-gdb.sock");
  REQUIRE(unix_socket);
  CHECK(unix_socket->unix_path == "/tmp/qemu-gdb.sock");
  CHECK(unix_socket->host.empty());
  CHECK(unix_socket->describe() == "unix:/tmp/qemu-gdb.sock");

  for (const char* bad : {"1234", "host", "host:", "host:0", "host:65536", "host:99999999999", "host:12ab", "host:-1",
                          "host: 12", "unix:", ""}) {
    CAPTURE(bad);
    auto r = Endpoint::parse(bad);
    CHECK_FALSE(r);
    if (!r) CHECK_FALSE(r.error().empty());
  }
  CHECK(contains(Endpoint::parse("host:0").error(), "1-65535"));
  CHECK(contains(Endpoint::parse("unix:/" + std::string(200, 'x')).error(), "too long"));
}

TEST_CASE("rsp client: expand_run_length") {
  CHECK(expand_run_length("abc") == "abc");
  CHECK(expand_run_length("0* ") == "0000");  // ' ' = 32: 3 more copies
  CHECK(expand_run_length("x*\"y") == "xxxxxxy");  // '"' = 34: 5 more
  CHECK(expand_run_length("ab*%c*!") == "a" + std::string(9, 'b') + std::string(5, 'c'));
  CHECK_FALSE(expand_run_length("*a"));          // nothing to repeat
  CHECK_FALSE(expand_run_length("a*"));          // no count
  CHECK_FALSE(expand_run_length(std::string("a*\x1f", 3)));  // a count below 3
}

TEST_SUITE("concurrency") {

TEST_CASE("rsp client: request and reply in ack mode, as with QEMU 7.2") {
  FakeGdbStub stub(echo_options());
  auto client = connect_to(stub);
  CHECK_FALSE(client->no_ack());  // QEMU 7.2 answered QStartNoAckMode with ""
  CHECK(client->request("qC", nullptr, kWait) == "rqC");
  CHECK(client->request("m1000,4", nullptr, kWait) == "rm1000,4");
  CHECK(stub.received() == std::vector<std::string>{"QStartNoAckMode", "qC", "m1000,4"});
  // Every packet the stub sent was acknowledged, once; the client sent no `-`.
  CHECK(stub.wait_for([](const auto& s) { return s.acks == 3; }));
  const auto seen = stub.snapshot();
  CHECK(seen.packets_sent == 3);
  CHECK(seen.acks == 3);
  CHECK(seen.naks == 0);
  CHECK(stub.problems().empty());
  CHECK(client->round_trips() == 3);
  CHECK_FALSE(client->broken());
}

TEST_CASE("rsp client: a stub that offers no-ack mode gets no acks afterwards") {
  auto options = echo_options();
  options.accept_no_ack = true;
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  CHECK(client->no_ack());
  for (int i = 0; i < 5; ++i) CHECK(client->request("qC", nullptr, kWait) == "rqC");
  auto batch = client->request_batch({"a", "b"}, kWait);
  REQUIRE(batch);
  CHECK(*batch == std::vector<std::string>{"ra", "rb"});
  // Only the OK to QStartNoAckMode itself was acked (it arrived in ack mode).
  CHECK(stub.wait_for([](const auto& s) { return s.received.size() == 8; }));
  CHECK(stub.snapshot().acks == 1);
  CHECK(stub.problems().empty());
}

TEST_CASE("rsp client: a rejected packet is sent again; a corrupt reply is asked for again") {
  SUBCASE("the stub naks the first packet") {
    auto options = echo_options();
    options.nak_requests = 1;
    FakeGdbStub stub(options);
    auto client = connect_to(stub);
    CHECK(client->request("qC", nullptr, kWait) == "rqC");
    CHECK(stub.received() == std::vector<std::string>{"QStartNoAckMode", "qC"});
  }
  SUBCASE("the first reply has a bad checksum") {
    auto options = echo_options();
    options.corrupt_replies = 1;
    FakeGdbStub stub(options);
    auto client = connect_to(stub);
    CHECK_FALSE(client->no_ack());
    CHECK(client->request("qC", nullptr, kWait) == "rqC");
    CHECK(stub.snapshot().naks == 1);
  }
}

TEST_CASE("rsp client: O packets before the reply are console output") {
  FakeGdbStub::Options options;
  options.handler = [](const std::string& p) -> FakeGdbStub::Replies {
    if (p.starts_with("qRcmd,")) return {console_packet("hello "), console_packet("world\n"), "OK"};
    if (p == "x") return {"Ozz"};
    return {""};
  };
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  std::string console;
  CHECK(client->request("qRcmd,6869", &console, kWait) == "OK");
  CHECK(console == "hello world\n");
  // Without a console the output is dropped; the reply is the same.
  CHECK(client->request("qRcmd,6869", nullptr, kWait) == "OK");
  // An `O` that is not hex is a reply, not output.
  console.clear();
  CHECK(client->request("x", &console, kWait) == "Ozz");
  CHECK(console.empty());
}

TEST_CASE("rsp client: replies are run-length expanded and unescaped") {
  FakeGdbStub::Options options;
  options.handler = [](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "g") return {"0* 1*%2"};                               // 0000 111111111 2
    if (p == "x") return {std::string("a}\x03" "b}\x5d" "c}\x04" "d}\x0a" "e")};  // a#b}c$d*e
    if (p == "both") return {std::string("}\x03" "a*!")};            // '#', then a run of 'a'
    return {""};
  };
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  CHECK(client->request("g", nullptr, kWait) == "0000" + std::string(9, '1') + "2");
  CHECK(client->request("x", nullptr, kWait) == "a#b}c$d*e");
  CHECK(client->request("both", nullptr, kWait) == "#aaaaa");
  CHECK(stub.problems().empty());
}

TEST_CASE("rsp client: request_batch sends N packets and returns N replies in order") {
  FakeGdbStub stub(echo_options());
  auto client = connect_to(stub);
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) payloads.push_back("p" + std::to_string(i));
  auto replies = client->request_batch(payloads, kWait);
  REQUIRE(replies);
  REQUIRE(replies->size() == payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) CHECK((*replies)[i] == "r" + payloads[i]);
  auto received = stub.received();
  received.erase(received.begin());  // QStartNoAckMode
  CHECK(received == payloads);
  CHECK(client->round_trips() == 1 + payloads.size());
  auto empty = client->request_batch({}, kWait);
  REQUIRE(empty);
  CHECK(empty->empty());
  // The connection is still in step: the next request gets its own reply.
  CHECK(client->request("after", nullptr, kWait) == "rafter");
}

TEST_CASE("rsp client: the stop reply QEMU sends unasked on connect is skipped") {
  auto options = echo_options();
  options.greeting = {"T02thread:01;"};
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  CHECK(client->request("qC", nullptr, kWait) == "rqC");
  CHECK(client->request("?", nullptr, kWait) == "r?");
  CHECK(stub.wait_for([](const auto& s) { return s.acks == 4; }));  // the greeting was acked too
}

TEST_CASE("rsp client: the stub closing the connection breaks the client") {
  auto options = echo_options();
  FakeGdbStub* self = nullptr;
  options.handler = [&self](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "k") {
      self->close_connection();
      return {};
    }
    return {"r" + p};
  };
  FakeGdbStub stub(options);
  self = &stub;
  auto client = connect_to(stub);
  CHECK(client->request("qC", nullptr, kWait) == "rqC");
  auto r = client->request("k", nullptr, kWait);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error(), "closed the connection"));
  CHECK(contains(r.error(), stub.endpoint()));
  CHECK(client->broken());
  CHECK(client->failure() == r.error());
  // Every later operation fails at once with the same reason.
  auto again = client->request("qC", nullptr, kWait);
  REQUIRE_FALSE(again);
  CHECK(again.error() == r.error());
  CHECK_FALSE(client->send("c"));
  CHECK_FALSE(client->receive(kWait));
  CHECK_FALSE(client->interrupt());
  CHECK_FALSE(client->request_batch({"a"}, kWait));
}

TEST_CASE("rsp client: no reply within the timeout breaks the client") {
  FakeGdbStub::Options options;
  options.handler = [](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "slow") return {};
    return {"OK"};
  };
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  const auto start = std::chrono::steady_clock::now();
  auto r = client->request("slow", nullptr, 50ms);
  CHECK(std::chrono::steady_clock::now() - start < kWait);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error(), "did not answer in time"));
  CHECK(client->broken());
  CHECK(client->failure() == r.error());
  // A batch has the same deadline.
  FakeGdbStub stub2(options);
  auto client2 = connect_to(stub2);
  auto b = client2->request_batch({"x", "slow"}, 50ms);
  CHECK_FALSE(b);
  CHECK(client2->broken());
}

TEST_CASE("rsp client: interrupt() from another thread stops a guest whose stop is awaited") {
  FakeGdbStub::Options options;
  options.handler = [](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "c") return {};  // the reply is the stop, later
    return {"OK"};
  };
  options.on_interrupt = [] { return FakeGdbStub::Replies{console_packet("stopping\n"), "T02thread:01;"}; };
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  REQUIRE(client->send("c"));
  std::string console;
  auto waiter = std::async(std::launch::async, [&] { return client->receive(std::nullopt, &console); });
  REQUIRE(stub.wait_for([](const auto& s) { return s.received.size() == 2; }));
  // Nothing comes before the interrupt.
  CHECK(waiter.wait_for(20ms) == std::future_status::timeout);
  REQUIRE(client->interrupt());
  auto stop = get_within(waiter, stub);
  REQUIRE(stop);
  CHECK(*stop == "T02thread:01;");
  CHECK(console == "stopping\n");
  CHECK(stub.snapshot().interrupts == 1);
  CHECK(client->request("qC", nullptr, kWait) == "OK");
  CHECK(stub.problems().empty());
}

TEST_CASE("rsp client: shutdown() from another thread wakes a blocked receive with an error") {
  FakeGdbStub::Options options;
  options.handler = [](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "c") return {};
    return {"OK"};
  };
  FakeGdbStub stub(options);
  auto client = connect_to(stub);
  REQUIRE(client->send("c"));
  auto waiter = std::async(std::launch::async, [&] { return client->receive(std::nullopt); });
  CHECK(waiter.wait_for(20ms) == std::future_status::timeout);
  client->shutdown();
  auto r = get_within(waiter, stub);
  REQUIRE_FALSE(r);
  CHECK(contains(r.error(), "closed by the bridge"));
  CHECK(client->broken());
  CHECK(contains(client->failure(), "closed by the bridge"));
  CHECK(stub.wait_for([](const auto& s) { return s.closed == 1; }));
}

TEST_CASE("rsp client: a garbage reply breaks the connection with a clear message") {
  FakeGdbStub* self = nullptr;
  FakeGdbStub::Options options;
  options.handler = [&self](const std::string& p) -> FakeGdbStub::Replies {
    if (p == "big") {
      self->send_raw("$" + std::string(RspClient::max_reply + 16, 'a') + "#00");
      return {};
    }
    if (p == "rle") return {"*abc"};
    if (p == "escape") return {"abc}"};
    if (p == "noise") {
      self->send_raw("xyz");  // between packets: ignored
      return {"OK"};
    }
    return {"OK"};
  };
  FakeGdbStub stub(options);
  self = &stub;
  SUBCASE("noise between packets is ignored") {
    auto client = connect_to(stub);
    CHECK(client->request("noise", nullptr, kWait) == "OK");
    CHECK(client->request("qC", nullptr, kWait) == "OK");
  }
  SUBCASE("an oversized packet") {
    auto client = connect_to(stub);
    auto r = client->request("big", nullptr, kWait);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "longer than"));
    CHECK(contains(r.error(), std::to_string(RspClient::max_reply)));
    CHECK(client->broken());
    CHECK(client->failure() == r.error());
  }
  SUBCASE("a run-length count with nothing to repeat") {
    auto client = connect_to(stub);
    auto r = client->request("rle", nullptr, kWait);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "run-length"));
    CHECK(client->broken());
  }
  SUBCASE("a lone escape character") {
    auto client = connect_to(stub);
    auto r = client->request("escape", nullptr, kWait);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "escape"));
    CHECK(client->broken());
  }
}

TEST_CASE("rsp client: connecting to something that is not a gdbstub") {
  SUBCASE("nothing listens") {
    auto r = RspClient::connect(*Endpoint::parse("unix:/nonexistent-dir/gdb.sock"), kWait);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "cannot connect to unix:/nonexistent-dir/gdb.sock"));
  }
  SUBCASE("a peer that never answers") {
    FakeGdbStub::Options options;
    options.silent = true;
    FakeGdbStub stub(options);
    auto r = RspClient::connect(*Endpoint::parse(stub.endpoint()), 200ms);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "not a gdbstub"));
    CHECK(contains(r.error(), "did not answer in time"));
  }
  SUBCASE("a peer that rejects every packet") {
    FakeGdbStub::Options options;
    options.nak_requests = 1000;
    FakeGdbStub stub(options);
    auto r = RspClient::connect(*Endpoint::parse(stub.endpoint()), kWait);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), "not a gdbstub"));
    CHECK(contains(r.error(), "rejected a packet"));
    CHECK(stub.received().empty());
  }
  SUBCASE("a peer that closes at its first real request") {
    FakeGdbStub* self = nullptr;
    FakeGdbStub::Options options;
    options.handler = [&self](const std::string&) -> FakeGdbStub::Replies {
      self->close_connection();
      return {};
    };
    FakeGdbStub stub(options);
    self = &stub;
    // QStartNoAckMode is answered by the stub itself; the first real request closes.
    auto client = connect_to(stub);
    CHECK_FALSE(client->request("qSupported", nullptr, kWait));
  }
}

}  // TEST_SUITE("concurrency")
