// The durable log's entry format and its folding into records (no etcd needed).
#include <gtest/gtest.h>

#include <algorithm>

#include "ha/log_fold.h"
#include "ha/records.h"

namespace dflockd::ha {
namespace {

const std::string kPrefix = "/dflockd/0";

std::string Hold(const char* hex) { return kPrefix + "/h/" + hex; }
const char* kT1 = "0000000000000001000000000000000a";
const char* kT2 = "0000000000000002000000000000000b";
const char* kT3 = "0000000000000003000000000000000c";

TEST(LogEntry, RoundTripsPutsAndDeletesWithAnyRecordBytes) {
  std::string entry;
  const std::string odd = std::string("1 l 1 30 0 99 key with spaces\nand a newline\0!", 45);
  AppendLogChange(entry, kPrefix, Hold(kT1), odd);
  AppendLogChange(entry, kPrefix, Hold(kT2), std::nullopt);
  AppendLogChange(entry, kPrefix, kPrefix + "/d/" + kT3, std::string());
  auto changes = DecodeLogEntry(kPrefix, entry);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].key, Hold(kT1));
  EXPECT_EQ((*changes)[0].value, odd);
  EXPECT_EQ((*changes)[1].key, Hold(kT2));
  EXPECT_FALSE((*changes)[1].value);
  EXPECT_EQ((*changes)[2].key, kPrefix + "/d/" + kT3);
  EXPECT_EQ((*changes)[2].value, std::string());
}

TEST(LogEntry, MalformedEntriesAreRefused) {
  std::string good;
  AppendLogChange(good, kPrefix, Hold(kT1), std::string("v"));
  ASSERT_TRUE(DecodeLogEntry(kPrefix, good));
  for (const std::string& bad : {
           std::string("P h/") + kT1 + " 1\nv\n",                       // no header
           std::string("dflockd-log 2\nP h/") + kT1 + " 1\nv\n",        // unknown version
           std::string("dflockd-log 1\nX h/") + kT1 + " 1\nv\n",        // unknown op
           std::string("dflockd-log 1\nP h/") + kT1 + " 5\nv\n",        // length past the end
           std::string("dflockd-log 1\nP h/") + kT1 + " 1\nvv\n",       // no newline after it
           std::string("dflockd-log 1\nD h/") + kT1 + " 1\nv\n",        // a delete with a value
           std::string("dflockd-log 1\nP x/") + kT1 + " 1\nv\n",        // not a record kind
           std::string("dflockd-log 1\nP h/zz 1\nv\n"),                 // not a token
           std::string("dflockd-log 1\nP h/") + kT1 + " -1\nv\n",       // negative length
           good.substr(0, good.size() - 1),                             // cut short
       }) {
    EXPECT_FALSE(DecodeLogEntry(kPrefix, bad)) << bad;
  }
}

TEST(LogEntry, KeysSortByTermThenOrder) {
  std::vector<std::string> keys = {LogKey(kPrefix, 7, 10), LogKey(kPrefix, 7, 9),
                                   LogKey(kPrefix, 12, 1), LogKey(kPrefix, 0x100, 2)};
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<std::string>{keys[1], keys[0], keys[2], keys[3]}));
  for (const auto& k : keys) {
    EXPECT_GE(k, LogRangeStart(kPrefix));
    EXPECT_LT(k, LogRangeEnd(kPrefix));
  }
}

std::vector<LogChange> Changes(std::vector<std::pair<std::string, std::optional<std::string>>> in) {
  std::vector<LogChange> out;
  for (auto& [k, v] : in) out.push_back(LogChange{k, v});
  return out;
}

std::vector<LogChange> All(const LogFold::Plan& plan) {
  std::vector<LogChange> out;
  for (const auto& b : plan.batches) out.insert(out.end(), b.begin(), b.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

TEST(LogFold, AGrantReleasedBeforeItsFoldCostsNoRecord) {
  LogFold fold;
  fold.Committed(LogKey(kPrefix, 1, 1), Changes({{Hold(kT1), "a"}, {Hold(kT2), "b"}}));
  fold.Committed(LogKey(kPrefix, 1, 2), Changes({{Hold(kT1), std::nullopt}}));
  EXPECT_EQ(fold.entries(), 2u);
  auto plan = fold.Start(128);
  ASSERT_TRUE(plan);
  auto all = All(*plan);
  ASSERT_EQ(all.size(), 1u);  // kT1 was never written as a record: no delete for it
  EXPECT_EQ(all[0].key, Hold(kT2));
  EXPECT_EQ(all[0].value, "b");
  EXPECT_EQ(plan->last_log_key, LogKey(kPrefix, 1, 2));
  EXPECT_TRUE(fold.folding());
  EXPECT_FALSE(fold.Start(128));  // one fold at a time
  fold.Finished(true);
  EXPECT_EQ(fold.entries(), 0u);
  EXPECT_FALSE(fold.Start(128));  // nothing left

  // kT2 is a record now: its release must delete it.
  fold.Committed(LogKey(kPrefix, 1, 3), Changes({{Hold(kT2), std::nullopt}}));
  plan = fold.Start(128);
  ASSERT_TRUE(plan);
  all = All(*plan);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, Hold(kT2));
  EXPECT_FALSE(all[0].value);
}

TEST(LogFold, ALoadedTailIsFoldedWithItsRecords) {
  LogTail tail;
  tail.records = {Hold(kT1)};
  tail.net = {{Hold(kT1), std::nullopt}, {Hold(kT3), "c"}};
  tail.last_key = LogKey(kPrefix, 3, 40);
  tail.entries = 5;
  LogFold fold;
  fold.Reset(tail);
  EXPECT_EQ(fold.entries(), 5u);
  auto plan = fold.Start(128);
  ASSERT_TRUE(plan);
  auto all = All(*plan);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].key, Hold(kT1));
  EXPECT_FALSE(all[0].value);
  EXPECT_EQ(all[1].key, Hold(kT3));
  EXPECT_EQ(plan->last_log_key, LogKey(kPrefix, 3, 40));
}

TEST(LogFold, BatchesLeaveRoomForTheLogDelete) {
  LogFold fold;
  std::vector<LogChange> many;
  for (int i = 0; i < 10; ++i) {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%032x", i + 1);
    many.push_back(LogChange{Hold(hex), "v"});
  }
  fold.Committed(LogKey(kPrefix, 1, 1), many);
  auto plan = fold.Start(4);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->batches.size(), 4u);  // 3 + 3 + 3 + 1, each leaving one op free
  for (const auto& b : plan->batches) EXPECT_LE(b.size(), 3u);
  EXPECT_EQ(All(*plan).size(), 10u);
}

TEST(LogFold, AFailedFoldIsRetriedUnderNewerChanges) {
  LogFold fold;
  fold.Committed(LogKey(kPrefix, 1, 1), Changes({{Hold(kT1), "old"}, {Hold(kT2), "b"}}));
  ASSERT_TRUE(fold.Start(128));
  // While it is in flight, kT1 changes again and kT2 is released.
  fold.Committed(LogKey(kPrefix, 1, 2), Changes({{Hold(kT1), "new"}, {Hold(kT2), std::nullopt}}));
  fold.Finished(false);
  EXPECT_EQ(fold.entries(), 2u);
  auto plan = fold.Start(128);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->last_log_key, LogKey(kPrefix, 1, 2));
  auto all = All(*plan);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].key, Hold(kT1));
  EXPECT_EQ(all[0].value, "new");  // the newer change wins
  // The failed fold may have written kT2's record: its release deletes it.
  EXPECT_EQ(all[1].key, Hold(kT2));
  EXPECT_FALSE(all[1].value);
}

}  // namespace
}  // namespace dflockd::ha
