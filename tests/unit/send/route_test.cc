#include "send/route.h"

#include <gtest/gtest.h>

namespace qmail::send {
namespace {

Controls controls() {
  Controls c;
  c.locals = {"example.test", "local2.test"};
  c.percenthack = {"example.test"};
  c.virtualdomains = parse_virtualdomains(
      "virt.test:vd\n.wild.test:wd\nuser@special.test:sp\nexcept.virt.test:\n"
      "# comment\nnocolon\nVIRT.test:second\n");
  c.envnoathost = "local2.test";
  return c;
}

TEST(Route, Table) {
  struct Case {
    const char* in;
    bool local;
    const char* want;
  } cases[] = {
      {"alice@example.test", true, "alice@example.test"},
      {"Alice@EXAMPLE.Test", true, "Alice@example.test"},
      {"carol", true, "carol@local2.test"},
      {"dave@virt.test", true, "vd-dave@virt.test"},
      {"Dave@Virt.Test", true, "vd-Dave@virt.test"},
      {"eve@a.wild.test", true, "wd-eve@a.wild.test"},
      {"eve@b.a.wild.test", true, "wd-eve@b.a.wild.test"},
      {"eve@wild.test", false, "eve@wild.test"},
      {"user@special.test", true, "sp-user@special.test"},
      {"other@special.test", false, "other@special.test"},
      {"x@except.virt.test", false, "x@except.virt.test"},
      {"y@remote.test", false, "y@remote.test"},
      {"bob%local2.test@example.test", true, "bob@local2.test"},
      {"z%remote.test@example.test", false, "z@remote.test"},
      {"a%b%example.test@example.test", false, "a@b"},
      {"p%q@remote.test", false, "p%q@remote.test"},
      {"u@d@example.test", true, "u@d@example.test"},
  };
  Controls c = controls();
  for (const auto& tc : cases) {
    Route r = route(c, tc.in);
    EXPECT_EQ(r.local, tc.local) << tc.in;
    EXPECT_EQ(r.address, tc.want) << tc.in;
  }
}

TEST(Route, RecipientmapAfterPercenthackBeforeLocals) {
  Controls c = controls();
  c.recipientmap = parse_recipientmap(
      "old@example.test:new@remote.test\nSales@Shop.test:bob@example.test\n"
      "bad-no-colon\nnoat:x@y.test\n# x@y.test:z@y.test\nold@example.test:second@x.test\n");
  EXPECT_EQ(c.recipientmap.size(), 2u);
  Route r = route(c, "Old@Example.TEST");
  EXPECT_FALSE(r.local);
  EXPECT_EQ(r.address, "new@remote.test");
  r = route(c, "sales@shop.test");
  EXPECT_TRUE(r.local);
  EXPECT_EQ(r.address, "bob@example.test");
  // the percent hack first, then the map
  r = route(c, "old%example.test@example.test");
  EXPECT_EQ(r.address, "new@remote.test");
  // once only: new@remote.test is not mapped again; others unchanged
  r = route(c, "alice@example.test");
  EXPECT_EQ(r.address, "alice@example.test");
}

TEST(Route, CatchAllAndFirstLineWins) {
  Controls c = controls();
  c.virtualdomains = parse_virtualdomains(":catchall\nvirt.test:vd\nvirt.test:other\n");
  EXPECT_EQ(route(c, "x@anything.test").address, "catchall-x@anything.test");
  EXPECT_EQ(route(c, "x@virt.test").address, "vd-x@virt.test");
  // locals come before virtualdomains
  EXPECT_EQ(route(c, "x@example.test").address, "x@example.test");
}

TEST(Route, ParseVirtualdomainsLowercasesKeys) {
  auto vd = parse_virtualdomains("Mixed.Case:Prepend\n");
  ASSERT_EQ(vd.count("mixed.case"), 1u);
  EXPECT_EQ(vd["mixed.case"], "Prepend");
}

}  // namespace
}  // namespace qmail::send

namespace qmail::send {
namespace {

TEST(Route, VerpSender) {
  EXPECT_EQ(verp_sender("list-@example.test-@[]", "joe@remote.test"),
            "list-joe=remote.test@example.test");
  EXPECT_EQ(verp_sender("list-@example.test-@[]", "nodomain"), "list-@example.test-@[]");
  EXPECT_EQ(verp_sender("a@b", "joe@remote.test"), "a@b");
  EXPECT_EQ(verp_sender("", "joe@remote.test"), "");
  EXPECT_EQ(verp_sender("-@[]", "joe@remote.test"), "-@[]");
}

TEST(Route, StripVdomPrepend) {
  Controls c;
  c.virtualdomains = parse_virtualdomains(
      "virt.test:joe\n.sub.test:bob-x\nout.sub.test:\nme@one.test:mine\n:catch\n");
  EXPECT_EQ(strip_vdom_prepend(c, "joe-info@virt.test"), "info@virt.test");
  EXPECT_EQ(strip_vdom_prepend(c, "bob-x-a@deep.sub.test"), "a@deep.sub.test");
  EXPECT_EQ(strip_vdom_prepend(c, "catch-a@out.sub.test"), "catch-a@out.sub.test");
  EXPECT_EQ(strip_vdom_prepend(c, "mine-me@one.test"), "me@one.test");
  EXPECT_EQ(strip_vdom_prepend(c, "catch-z@else.test"), "z@else.test");
  EXPECT_EQ(strip_vdom_prepend(c, "other-info@virt.test"), "other-info@virt.test");
  EXPECT_EQ(strip_vdom_prepend(Controls{}, "joe-info@virt.test"), "joe-info@virt.test");
}

}  // namespace
}  // namespace qmail::send
