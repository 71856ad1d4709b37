// The partition's keys in Redis: the lease, its fencing epoch and the
// fenced stream (engine/scaleout/partition_log.h), against a redis-server
// the test starts on loopback.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/scaleout/partition_log.h"
#include "gtest/gtest.h"
#include "tests/redis_server.h"

namespace sessionwheel::internal {
namespace {

using testing_util::RedisCluster;
using testing_util::RedisServer;

std::string TempDir(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("sw_" + name + "_" + std::to_string(getpid()));
}

class PartitionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok()) << "redis-server did not start";
    redis_ =
        *RedisClient::Connect("127.0.0.1", server_.port(), absl::Seconds(2));
  }
  void TearDown() override {
    server_.Stop();
    std::filesystem::remove_all(dir_);
  }

  std::vector<LogRecord> Records(uint64_t from, uint64_t to) {
    std::vector<LogRecord> out;
    for (uint64_t lsn = from; lsn <= to; ++lsn) {
      out.push_back({lsn, 3, "payload " + std::to_string(lsn)});
    }
    return out;
  }

  const std::string dir_ = TempDir("partition_log");
  RedisServer server_{dir_};
  std::unique_ptr<RedisClient> redis_;
  PartitionLog log_{"sw", 7};
};

// Redis Cluster hashes only the part of a key between its first "{" and
// the next "}": keys whose first braces hold "p7" share a slot.
std::string HashTag(const std::string& key) {
  const size_t open = key.find('{');
  const size_t close = key.find('}', open);
  return key.substr(open + 1, close - open - 1);
}

TEST_F(PartitionLogTest, KeysOfOnePartitionShareOneHashTag) {
  EXPECT_EQ(log_.lease_key(), "sw:{p7}:lease");
  EXPECT_EQ(log_.log_key(), "sw:{p7}:log");
  EXPECT_EQ(HashTag(log_.lease_key()), "p7");
  EXPECT_EQ(HashTag(log_.log_key()), "p7");
  // Every key the scripts touch is in that slot: after an append and a
  // checkpoint, every key of the server carries the tag.
  ASSERT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  ASSERT_TRUE(log_.Append(*redis_, 1, 5, Records(1, 2)).ok());
  ASSERT_TRUE(log_.PutCheckpoint(*redis_, 1, 2, "x").ok());
  auto keys = redis_->Command({"KEYS", "*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->elements.size(), 6u);
  for (const RedisReply& key : keys->elements) {
    EXPECT_EQ(HashTag(key.str), "p7") << key.str;
  }
}

TEST(RedisClientTest, ASlotIsRedisClustersHashSlot) {
  // CRC16-XMODEM of "123456789" is 0x31C3; Redis's own examples.
  EXPECT_EQ(RedisClient::Slot("123456789"), 0x31C3);
  EXPECT_EQ(RedisClient::Slot("foo"), 12182);
  EXPECT_EQ(RedisClient::Slot("{user1000}.following"),
            RedisClient::Slot("{user1000}.followers"));
  EXPECT_EQ(RedisClient::Slot("sw:{p7}:lease"), RedisClient::Slot("p7"));
  EXPECT_EQ(RedisClient::Slot("foo{}{bar}"), RedisClient::Slot("foo{}{bar}"));
}

// A key of partition p's lease, and its slot's master as node `asked` of
// `cluster` sees it.
struct SlotKey {
  std::string key;
  int slot = 0;
  int master = -1;
};
SlotKey LeaseKeyOf(const RedisCluster& cluster, int p, int asked) {
  SlotKey out;
  out.key = "sw:{p" + std::to_string(p) + "}:lease";
  out.slot = RedisClient::Slot(out.key);
  out.master = cluster.MasterOf(out.slot, asked);
  return out;
}

// Polls node `asked` (bounded: 30 s) until it sees the cluster whole again
// with `slot` served by a node other than `dead`; returns that node, or -1.
int WaitForPromotion(const RedisCluster& cluster, int slot, int dead,
                     int asked) {
  for (int i = 0; i < 3000; ++i) {
    const int master = cluster.MasterOf(slot, asked);
    auto info = cluster.Ask(asked, {"CLUSTER", "INFO"});
    if (master >= 0 && master != dead && info.ok() &&
        info->str.find("cluster_state:ok") != std::string::npos) {
      return master;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// Kills the master of `slot_key`'s slot, after `by_command` and `by_script`
// used it, and checks that each one's next call reaches the replica
// promoted in its place: no MOVED tells them (the dead master sends
// none), so each must ask another node for the slot map.
void KillTheMasterAndCarryOn(RedisCluster& cluster, const SlotKey& slot_key,
                             RedisClient& by_command, RedisClient& by_script,
                             int asked) {
  const std::string& key = slot_key.key;
  const RedisScript get{"return redis.call('GET', KEYS[1])"};
  ASSERT_TRUE(by_command.Command({"SET", key, "before"}).ok());
  auto replicated = by_command.Command({"WAIT", "1", "2000"});
  ASSERT_TRUE(replicated.ok()) << replicated.status();
  ASSERT_EQ(replicated->integer, 1);  // Its replica has it.
  auto seen = by_script.Eval(get, {key}, {});
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_EQ(seen->str, "before");

  cluster.Kill(slot_key.master);
  ASSERT_NE(WaitForPromotion(cluster, slot_key.slot, slot_key.master, asked),
            -1)
      << "no replica was promoted";

  auto got = by_command.Command({"GET", key});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str, "before");
  ASSERT_TRUE(by_command.Command({"SET", key, "after"}).ok());
  auto by_eval = by_script.Eval(get, {key}, {});
  ASSERT_TRUE(by_eval.ok()) << by_eval.status();
  EXPECT_EQ(by_eval->str, "after");
}

// In a cluster of 3 masters with a replica each, two clients given node 0
// use a slot whose master is node 0 itself (`on_the_given_node`) or
// another, which is then killed (KillTheMasterAndCarryOn); the slot map is
// asked of a node still alive.
void FailOverASlotsMaster(const std::string& dir_name, bool on_the_given_node) {
  const std::string dir = TempDir(dir_name);
  {
    RedisCluster cluster(dir, /*replicas=*/1);
    ASSERT_TRUE(cluster.ok()) << "the Redis Cluster did not form";
    SlotKey slot_key;
    for (int p = 0;
         on_the_given_node ? slot_key.master != 0 : slot_key.master <= 0; ++p) {
      slot_key = LeaseKeyOf(cluster, p, 0);
      ASSERT_NE(slot_key.master, -1);
    }
    auto by_command =
        RedisClient::Connect("127.0.0.1", cluster.port(0), absl::Seconds(1));
    auto by_script =
        RedisClient::Connect("127.0.0.1", cluster.port(0), absl::Seconds(1));
    ASSERT_TRUE(by_command.ok() && by_script.ok());
    KillTheMasterAndCarryOn(cluster, slot_key, **by_command, **by_script,
                            /*asked=*/on_the_given_node ? 1 : 0);
  }
  std::filesystem::remove_all(dir);
}

TEST(RedisClientTest, AfterAMasterDiesTheNextCallReachesItsPromotedReplica) {
  FailOverASlotsMaster("cluster_failover", /*on_the_given_node=*/false);
}

TEST(RedisClientTest, AfterTheGivenNodeDiesTheNextCallReachesItsReplica) {
  FailOverASlotsMaster("cluster_seed_failover", /*on_the_given_node=*/true);
}

TEST(RedisClientTest, AfterAMasterStopsAnsweringALaterCallReachesItsReplica) {
  const std::string dir = TempDir("cluster_pause");
  {
    RedisCluster cluster(dir, /*replicas=*/1);
    ASSERT_TRUE(cluster.ok()) << "the Redis Cluster did not form";
    SlotKey slot_key;
    for (int p = 0; slot_key.master <= 0; ++p) {
      slot_key = LeaseKeyOf(cluster, p, 0);
      ASSERT_NE(slot_key.master, -1);
    }
    auto client = RedisClient::Connect("127.0.0.1", cluster.port(0),
                                       absl::Milliseconds(300));
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE((*client)->Command({"SET", slot_key.key, "before"}).ok());
    auto replicated = (*client)->Command({"WAIT", "1", "2000"});
    ASSERT_TRUE(replicated.ok()) << replicated.status();
    ASSERT_EQ(replicated->integer, 1);

    cluster.Pause(slot_key.master);
    ASSERT_NE(WaitForPromotion(cluster, slot_key.slot, slot_key.master, 0), -1)
        << "no replica was promoted";
    // The paused master takes the command and never answers: the call's
    // whole time goes waiting for it, none is left to ask another node
    // then, so the next call asks first.
    auto first = (*client)->Command({"GET", slot_key.key});
    EXPECT_TRUE(absl::IsUnavailable(first.status())) << first.status();
    auto next = (*client)->Command({"GET", slot_key.key});
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->str, "before");
    cluster.Kill(slot_key.master);
  }
  std::filesystem::remove_all(dir);
}

TEST_F(PartitionLogTest, ALeaseIsExclusiveAndEachTakingRaisesTheEpoch) {
  EXPECT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  EXPECT_EQ(*log_.Acquire(*redis_, "b", absl::Seconds(10)), 0u);  // Held.
  auto holder = *log_.Holder(*redis_);
  ASSERT_TRUE(holder.has_value());
  EXPECT_EQ(holder->first, "a");
  EXPECT_EQ(holder->second, 1u);
  // Only its holder at its epoch renews or releases it.
  EXPECT_FALSE(*log_.Renew(*redis_, "b", 1, absl::Seconds(10)));
  EXPECT_FALSE(*log_.Renew(*redis_, "a", 2, absl::Seconds(10)));
  EXPECT_TRUE(*log_.Renew(*redis_, "a", 1, absl::Seconds(10)));
  ASSERT_TRUE(log_.Release(*redis_, "b", 1).ok());
  EXPECT_TRUE(log_.Holder(*redis_)->has_value());
  ASSERT_TRUE(log_.Release(*redis_, "a", 1).ok());
  EXPECT_FALSE(log_.Holder(*redis_)->has_value());
  EXPECT_EQ(*log_.Acquire(*redis_, "b", absl::Seconds(10)), 2u);
}

TEST_F(PartitionLogTest, ALeaseCarriesItsExpiryAndItsRenewalExtendsIt) {
  ASSERT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(3)), 1u);
  auto ttl = redis_->Command({"PTTL", log_.lease_key()});
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 3000);
  ASSERT_TRUE(*log_.Renew(*redis_, "a", 1, absl::Seconds(30)));
  ttl = redis_->Command({"PTTL", log_.lease_key()});
  EXPECT_GT(ttl->integer, 3000);
}

TEST_F(PartitionLogTest, ALapsedLeaseIsTakenWithAHigherEpoch) {
  EXPECT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  // A lapse is Redis removing the key when its PX runs out (pinned above):
  // remove it here, rather than wait in real time.
  ASSERT_TRUE(redis_->Command({"DEL", log_.lease_key()}).ok());
  EXPECT_EQ(*log_.Acquire(*redis_, "b", absl::Seconds(10)), 2u);
  EXPECT_FALSE(*log_.Renew(*redis_, "a", 1, absl::Seconds(10)));
}

TEST_F(PartitionLogTest, AStaleEpochsAppendIsRefusedByRedis) {
  ASSERT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  EXPECT_EQ(*log_.Append(*redis_, 1, 1000, Records(1, 3)), 3u);
  ASSERT_TRUE(log_.Release(*redis_, "a", 1).ok());
  ASSERT_EQ(*log_.Acquire(*redis_, "b", absl::Seconds(10)), 2u);
  // The old owner's late records and watermark are refused, whole.
  auto late = log_.Append(*redis_, 1, 5000, Records(4, 5));
  EXPECT_TRUE(absl::IsAborted(late.status())) << late.status();
  EXPECT_EQ(*log_.Head(*redis_), 3u);
  EXPECT_EQ(**log_.Reported(*redis_), 1000);
  EXPECT_EQ(log_.PutCheckpoint(*redis_, 1, 3, "x").code(),
            absl::StatusCode::kAborted);
  // The new owner continues the stream.
  EXPECT_EQ(*log_.Append(*redis_, 2, 2000, Records(4, 4)), 4u);
  auto all = *log_.Read(*redis_, 1, 100, absl::ZeroDuration());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].payload, "payload 4");
}

TEST_F(PartitionLogTest, AnAppendSkipsWhatTheStreamHasAndRefusesAGap) {
  ASSERT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  EXPECT_EQ(*log_.Append(*redis_, 1, std::nullopt, Records(1, 3)), 3u);
  // A retry of an append whose reply was lost changes nothing.
  EXPECT_EQ(*log_.Append(*redis_, 1, std::nullopt, Records(2, 5)), 5u);
  EXPECT_EQ(log_.Read(*redis_, 1, 100, absl::ZeroDuration())->size(), 5u);
  auto gap = log_.Append(*redis_, 1, std::nullopt, Records(7, 7));
  EXPECT_TRUE(absl::IsDataLoss(gap.status())) << gap.status();
  // The watermark only grows.
  ASSERT_TRUE(log_.Append(*redis_, 1, 900, {}).ok());
  ASSERT_TRUE(log_.Append(*redis_, 1, 800, {}).ok());
  EXPECT_EQ(**log_.Reported(*redis_), 900);
}

TEST_F(PartitionLogTest, ACheckpointTrimsTheStreamBehindIt) {
  ASSERT_EQ(*log_.Acquire(*redis_, "a", absl::Seconds(10)), 1u);
  ASSERT_TRUE(log_.Append(*redis_, 1, std::nullopt, Records(1, 10)).ok());
  ASSERT_TRUE(log_.PutCheckpoint(*redis_, 1, 6, std::string("ck\0pt", 5)).ok());
  auto checkpoint = *log_.GetCheckpoint(*redis_);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->lsn, 6u);
  EXPECT_EQ(checkpoint->bytes, std::string("ck\0pt", 5));
  auto rest = *log_.Read(*redis_, 1, 100, absl::ZeroDuration());
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest.front().lsn, 6u);
  // XREAD from a position: what follows it, or nothing after the wait.
  auto tail = *log_.Read(*redis_, 9, 100, absl::Milliseconds(10));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].lsn, 9u);
  EXPECT_TRUE(log_.Read(*redis_, 11, 100, absl::Milliseconds(10))->empty());
}

}  // namespace
}  // namespace sessionwheel::internal
