// Caffeine as a peer of sessionwheel: the store a JVM user would build for
// Sessions with per-Session TTLs, measured on the workloads of
// bench/benchmarks.cc that it can run, one JSON line per workload.
//
// The store: a Caffeine 2.6 Cache from SID to a small mutable Session,
// expiring each entry at base + ttl through a custom Expiry (variable
// expiration: Caffeine's hierarchical timer wheel), on a fake Ticker moved by
// hand, with maintenance run on the calling thread (executor Runnable::run),
// so nothing happens behind the measurement's back. A ConcurrentHashMap from
// unique_name to SID is the name index, kept consistent by a removal
// listener that also counts expiries. Unlike sessionwheel, an expired
// Session is gone (as with a closed_retention of 0), not kept as closed.
//
// An interaction updates the Session in place and restarts its window with
// policy().expireVariably().setExpiresAfter: what a user holding mutable
// Sessions does, and no REPLACED removal event as a put would send.
//
// Run by ./dev.sh bench-peers (javac against /usr/share/java/caffeine.jar):
//   java -cp build/peers:/usr/share/java/caffeine.jar CaffeinePeer
// SW_BENCH_SESSIONS sets N (default 1,000,000). Each workload runs warm-up
// runs (2; 1 for those that build a store of N every run), then 5 measured
// ones, and prints their median.

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Policy;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

public final class CaffeinePeer {
  static final int WARM_UP_RUNS = 2;
  static final int RUNS = 5;
  static final long MS = 1_000_000L; // Nanoseconds.
  static final long SECOND = 1_000 * MS;
  // Per-operation workloads move the clock 1 ms per this many operations,
  // as bench/benchmarks.cc does.
  static final int OPS_PER_MS = 256;

  // A Session as this store keeps it: the fields the engine's answer has
  // that change, and its two keys.
  static final class Session {
    final String sid;
    final String uniqueName;
    final long createdNanos;
    long updatedNanos;
    long baseNanos; // The ttl window's start: create or last interaction.
    final long ttlNanos;
    boolean inProgress;

    Session(String sid, String uniqueName, long now, long ttlNanos) {
      this.sid = sid;
      this.uniqueName = uniqueName;
      this.createdNanos = this.updatedNanos = this.baseNanos = now;
      this.ttlNanos = ttlNanos;
    }
  }

  // Time, moved by hand.
  static final class FakeTicker implements Ticker {
    long nanos = 1_798_761_600L * SECOND; // 2027-01-01, as the C++ bench.

    @Override
    public long read() {
      return nanos;
    }
  }

  // Each Session expires at base + ttl; reads do not extend it.
  static final class SessionExpiry implements Expiry<String, Session> {
    @Override
    public long expireAfterCreate(String sid, Session s, long now) {
      return s.baseNanos + s.ttlNanos - now;
    }

    @Override
    public long expireAfterUpdate(String sid, Session s, long now, long left) {
      return s.baseNanos + s.ttlNanos - now;
    }

    @Override
    public long expireAfterRead(String sid, Session s, long now, long left) {
      return left;
    }
  }

  // The store: Sessions by SID in Caffeine, SIDs by name beside it.
  static final class Store {
    final FakeTicker ticker = new FakeTicker();
    final ConcurrentHashMap<String, String> byName = new ConcurrentHashMap<>();
    final Cache<String, Session> bySid;
    final Policy.VarExpiration<String, Session> expiration;
    final SplittableRandom random = new SplittableRandom(1);
    long expired; // Counted by the removal listener.

    Store() {
      bySid =
          Caffeine.newBuilder()
              .expireAfter(new SessionExpiry())
              .ticker(ticker)
              .executor(Runnable::run)
              .<String, Session>removalListener(
                  (sid, s, cause) -> {
                    if (cause == RemovalCause.REPLACED) return;
                    byName.remove(s.uniqueName, sid);
                    if (cause == RemovalCause.EXPIRED) expired++;
                  })
              .build();
      expiration = bySid.policy().expireVariably().get();
    }

    // Creates a Session, or returns null if the name is held.
    Session create(String uniqueName, long ttlNanos) {
      String sid = mintSid();
      if (byName.putIfAbsent(uniqueName, sid) != null) return null;
      Session s = new Session(sid, uniqueName, ticker.nanos, ttlNanos);
      bySid.put(sid, s);
      return s;
    }

    Session fetchBySid(String sid) {
      return bySid.getIfPresent(sid);
    }

    Session fetchByName(String uniqueName) {
      String sid = byName.get(uniqueName);
      return sid == null ? null : bySid.getIfPresent(sid);
    }

    Session recordInteraction(String sid) {
      Session s = bySid.getIfPresent(sid);
      if (s == null) return null;
      s.inProgress = true;
      s.updatedNanos = s.baseNanos = ticker.nanos;
      expiration.setExpiresAfter(sid, s.ttlNanos, TimeUnit.NANOSECONDS);
      return s;
    }

    // "KC" + 32 random lower-case hex digits, as the engine mints.
    String mintSid() {
      char[] c = new char[34];
      c[0] = 'K';
      c[1] = 'C';
      for (int word = 0; word < 2; ++word) {
        long bits = random.nextLong();
        for (int i = 0; i < 16; ++i, bits >>>= 4) {
          c[2 + word * 16 + i] = Character.forDigit((int) (bits & 0xf), 16);
        }
      }
      return new String(c);
    }
  }

  // The n-th unique_name: 16 hex digits of a bijective mix of n (splitmix64's
  // finalizer), as bench/workload.cc makes them.
  static String uniqueName(long n) {
    long x = n;
    x ^= x >>> 30;
    x *= 0xbf58476d1ce4e5b9L;
    x ^= x >>> 27;
    x *= 0x94d049bb133111ebL;
    x ^= x >>> 31;
    String hex = Long.toHexString(x);
    return "0".repeat(16 - hex.length()) + hex;
  }

  // Live Sessions get ttls from 1 to 2 hours: none expires during a run.
  static long liveTtlNanos(long i) {
    return (3600 + ((i * 0x9e3779b97f4a7c15L) >>> 52) % 3600) * SECOND;
  }

  interface Run {
    // Does one run and returns its figure.
    double run();
  }

  // Prints the median of RUNS runs after WARM_UP_RUNS (or `warmUpRuns`), as
  // a JSON line.
  static void report(String workload, String unit, Run run) {
    report(workload, unit, WARM_UP_RUNS, run);
  }

  static void report(String workload, String unit, int warmUpRuns, Run run) {
    for (int i = 0; i < warmUpRuns; ++i) run.run();
    double[] v = new double[RUNS];
    for (int i = 0; i < RUNS; ++i) v[i] = run.run();
    double[] sorted = v.clone();
    Arrays.sort(sorted);
    System.out.printf(
        "{\"peer\": \"caffeine\", \"workload\": \"%s\", \"n\": %d, \"median\": %.1f,"
            + " \"unit\": \"%s\", \"runs\": %s}%n",
        workload, n, sorted[RUNS / 2], unit, json(v));
    System.out.flush();
  }

  static String json(double[] v) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < v.length; ++i) {
      b.append(i == 0 ? "" : ", ").append(String.format("%.1f", v[i]));
    }
    return b.append("]").toString();
  }

  static void fail(String why) {
    System.err.println("CaffeinePeer: " + why);
    System.exit(1);
  }

  static int n;
  static String[] names;

  // A store holding the n Sessions, with long ttls.
  static Store liveStore(String[] sidsOut) {
    Store store = new Store();
    for (int i = 0; i < n; ++i) {
      Session s = store.create(names[i], liveTtlNanos(i));
      if (s == null) fail("create refused a fresh name");
      if (sidsOut != null) sidsOut[i] = s.sid;
    }
    return store;
  }

  static <T> T[] shuffled(T[] keys, long seed) {
    T[] out = keys.clone();
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = out.length - 1; i > 0; --i) {
      int j = r.nextInt(i + 1);
      T t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  static double millis(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }

  // Heap in use after a full collection, as well as the JVM can tell.
  static long usedAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 4; ++i) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      used = Math.min(used, rt.totalMemory() - rt.freeMemory());
    }
    return used;
  }

  public static void main(String[] args) {
    String env = System.getenv("SW_BENCH_SESSIONS");
    n = env == null || env.isEmpty() ? 1_000_000 : Integer.parseInt(env);
    names = new String[n];
    for (int i = 0; i < n; ++i) names[i] = uniqueName(i);

    // create: n Sessions into an empty store.
    report(
        "create",
        "ops/s",
        1,
        () -> {
          Store store = new Store();
          long start = System.nanoTime();
          for (int i = 0; i < n; ++i) {
            if (store.create(names[i], liveTtlNanos(i)) == null) fail("create refused");
          }
          return n / seconds(start);
        });

    // The per-operation workloads share one live store, keys in random order.
    String[] sids = new String[n];
    Store live = liveStore(sids);
    String[] randomSids = shuffled(sids, 1);
    String[] randomNames = shuffled(names, 2);

    report(
        "fetch_sid",
        "ops/s",
        () -> {
          long start = System.nanoTime();
          for (String sid : randomSids) {
            if (live.fetchBySid(sid) == null) fail("fetch by SID missed");
          }
          return n / seconds(start);
        });
    report(
        "fetch_name",
        "ops/s",
        () -> {
          long start = System.nanoTime();
          for (String name : randomNames) {
            if (live.fetchByName(name) == null) fail("fetch by name missed");
          }
          return n / seconds(start);
        });
    report(
        "interaction",
        "ops/s",
        () -> {
          long start = System.nanoTime();
          for (int i = 0; i < n; ++i) {
            if (live.recordInteraction(randomSids[i]) == null) fail("interaction missed");
            if ((i + 1) % OPS_PER_MS == 0) live.ticker.nanos += MS;
          }
          return n / seconds(start);
        });

    // expire_same_tick: n Sessions with a 60 s ttl created a tenth per ms
    // over 10 ms (as the C++ bench), the clock moved past them all, and
    // cleanUp() called until every one is gone. Timed: the cleanUps.
    report(
        "expire_same_tick",
        "ms",
        1,
        () -> {
          Store store = new Store();
          for (int ms = 1; ms <= 10; ++ms) {
            store.ticker.nanos += MS;
            for (int i = n * (ms - 1) / 10; i < n * ms / 10; ++i) {
              store.create(names[i], 60 * SECOND);
            }
          }
          store.ticker.nanos += 60 * SECOND;
          long start = System.nanoTime();
          while (store.expired < n) store.bySid.cleanUp();
          double ms = millis(start);
          if (store.bySid.estimatedSize() != 0 || !store.byName.isEmpty()) fail("not all gone");
          return ms;
        });

    // expire_spread: n Sessions created over 60 s of clock, a batch every
    // 10 ms, each with a 60 s ttl; then the clock moves through the next
    // 60 s in 1 s steps with a cleanUp() at each. Timed: those steps.
    report(
        "expire_spread",
        "ms",
        1,
        () -> {
          Store store = new Store();
          final int ticks = 6000;
          for (int t = 0; t < ticks; ++t) {
            for (long i = (long) n * t / ticks; i < (long) n * (t + 1) / ticks; ++i) {
              store.create(names[(int) i], 60 * SECOND);
            }
            store.ticker.nanos += 10 * MS;
          }
          store.bySid.cleanUp();
          long start = System.nanoTime();
          for (int s = 0; s <= 60 && store.expired < n; ++s) {
            store.ticker.nanos += SECOND;
            store.bySid.cleanUp();
          }
          double ms = millis(start);
          if (store.expired != n) fail("ticking through did not expire every Session");
          return ms;
        });

    // bytes per Session: heap in use after GC with a store of n live
    // Sessions (SIDs, names and the Session objects included) minus before.
    // No warm-up: nothing here depends on the JIT.
    report(
        "bytes_per_session",
        "bytes",
        0,
        () -> {
          long before = usedAfterGc();
          Store store = new Store();
          for (int i = 0; i < n; ++i) {
            // A fresh String, as a request would bring: the store keeps it.
            store.create(new String(names[i].toCharArray()), liveTtlNanos(i));
          }
          long after = usedAfterGc();
          if (store.bySid.estimatedSize() != n) fail("lost a Session");
          return (double) (after - before) / n;
        });
  }
}
