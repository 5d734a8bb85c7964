package org.sockmap4j.concurrency;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.AttachMode;
import org.sockmap4j.AttachType;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.KernelFeatures.Feature;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.KernelAssume;
import org.sockmap4j.testing.Privileged;

/**
 * Closing a map, program, attachment or object while other threads use it: every call either
 * completes or throws {@link IllegalStateException} (the library's contract for a closed object;
 * no EBADF {@code BpfException} reaches the caller), the JVM does not crash, and no call acts on
 * another object that got the closed fd number: right after each close the closing thread
 * creates bystander objects of the same kind (the kernel hands out the lowest free number, so
 * they take the old one), and the test checks that no user's call ever changed them.
 */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(120)
class CloseWhileInUseTest {

    private static final int USERS = 2;

    private ExecutorService threads;
    /** Failures seen on user threads, with the round they happened in. */
    private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

    @BeforeEach
    void startThreads() {
        threads = Executors.newFixedThreadPool(USERS);
    }

    @AfterEach
    void stopThreads() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).as("user threads stopped").isTrue();
    }

    /** Runs {@code use} on {@link #USERS} threads until it throws; returns how many calls completed per thread. */
    private List<Future<Long>> users(String what, int round, CountDownLatch started, UserCall use) {
        List<Future<Long>> out = new ArrayList<>();
        for (int u = 0; u < USERS; u++) {
            int user = u;
            Callable<Long> c = () -> {
                long done = 0;
                started.countDown();
                try {
                    while (done < 10_000_000) {
                        use.call(user);
                        done++;
                    }
                    failures.add(what + " round " + round + ": still usable after close");
                } catch (IllegalStateException closed) {
                    return done; // the contract
                } catch (Throwable t) {
                    failures.add(what + " round " + round + " user " + user + " after " + done + " calls: " + t);
                }
                return done;
            };
            out.add(threads.submit(c));
        }
        return out;
    }

    @FunctionalInterface
    private interface UserCall {
        void call(int user) throws Exception;
    }

    /** Waits for the users to start and then a random 0-200 µs, so that the close lands anywhere in a call. */
    private static void closeSoon(CountDownLatch started) throws InterruptedException {
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        long until = System.nanoTime() + ThreadLocalRandom.current().nextLong(200_000);
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    private static long join(List<Future<Long>> users) throws Exception {
        long calls = 0;
        for (Future<Long> f : users) {
            calls += f.get(20, TimeUnit.SECONDS);
        }
        return calls;
    }

    /**
     * Users insert, look up and delete a socket in a SOCKHASH; the map is closed and four new
     * SOCKHASHes are created at once. No user call may fail otherwise than with
     * IllegalStateException, and the new maps must stay empty (a put through the old number
     * would have filled one).
     */
    @Test
    void aMapClosedUnderItsUsers(TestReporter report) throws Exception {
        int rounds = 300;
        long calls = 0;
        try (Loopback lo = Loopback.open(); Loopback.Conn conn = lo.connect()) {
            for (int round = 0; round < rounds; round++) {
                SockHash<Integer> victim = SockHash.create(KeyCodec.u32(), 8);
                CountDownLatch started = new CountDownLatch(USERS);
                List<Future<Long>> users = users("map", round, started, user -> {
                    victim.put(user, conn.fd(user));
                    if (victim.cookie(user) != conn.cookie(user)) {
                        throw new AssertionError("key " + user + " holds another socket");
                    }
                    victim.delete(user);
                });
                closeSoon(started);
                victim.close();
                List<SockHash<Integer>> bystanders = new ArrayList<>();
                try {
                    for (int i = 0; i < 4; i++) {
                        bystanders.add(SockHash.create(KeyCodec.u32(), 8));
                    }
                    calls += join(users);
                    for (SockHash<Integer> b : bystanders) {
                        assertThat(b.keys()).as("a map created after the close, round %d", round).isEmpty();
                    }
                } finally {
                    bystanders.forEach(SockHash::close);
                }
            }
        }
        String summary = "map: " + rounds + " rounds, " + calls + " calls before the close";
        report.publishEntry(summary);
        System.out.println("CloseWhileInUseTest: " + summary);
        assertThat(failures).isEmpty();
        assertThat(calls).isPositive();
    }

    /**
     * Users attach a program to a map, check which program the kernel says is attached, and
     * detach; the program is closed and two other programs are taken from the object at once
     * (new fds). The map must only ever show the victim program, and end with none.
     */
    @Test
    void aProgramClosedWhileItIsAttached(TestReporter report) throws Exception {
        KernelAssume.has(Feature.PROG_QUERY_SOCKMAP, "the users query what is attached to their maps");
        int rounds = 100;
        long calls = 0;
        try (BpfObject obj = BpfObject.openBundled("redirect").load()) {
            for (int round = 0; round < rounds; round++) {
                SkMsgProgram victim = obj.skMsg("msg_pass");
                int victimId = victim.id();
                List<SockHash<Integer>> maps = new ArrayList<>();
                try {
                    for (int u = 0; u < USERS; u++) {
                        maps.add(SockHash.create(KeyCodec.u32(), 1));
                    }
                    CountDownLatch started = new CountDownLatch(USERS);
                    List<Future<Long>> users = users("program", round, started, user -> {
                        SockHash<Integer> map = maps.get(user);
                        try (Attachment a = victim.attach(map)) {
                            List<Integer> ids = map.attachedPrograms(AttachType.SK_MSG_VERDICT);
                            if (!ids.equals(List.of(victimId))) {
                                throw new AssertionError("attached " + ids + ", expected [" + victimId + "]");
                            }
                        }
                    });
                    closeSoon(started);
                    victim.close();
                    try (SkMsgProgram b1 = obj.skMsg("redir_send_to_local");
                         SkMsgProgram b2 = obj.skMsg("redir_send_to_egress")) {
                        calls += join(users);
                        assertThat(b1.id()).isNotEqualTo(victimId);
                    }
                    for (SockHash<Integer> map : maps) {
                        assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).as("round %d", round).isEmpty();
                    }
                } finally {
                    victim.close();
                    maps.forEach(SockHash::close);
                }
            }
        }
        String summary = "program: " + rounds + " rounds, " + calls + " attach/query/detach cycles before the close";
        report.publishEntry(summary);
        System.out.println("CloseWhileInUseTest: " + summary);
        assertThat(failures).isEmpty();
        assertThat(calls).isPositive();
    }

    /**
     * Users read a link's id and update it to the program it runs while it is closed; at once a
     * bystander link of another program is made on another map. The bystander must keep its own
     * program (an update through the old number would have replaced it) and the victim's map
     * must end with none.
     */
    @Test
    void aLinkClosedUnderItsUsers(TestReporter report) throws Exception {
        KernelAssume.has(Feature.SOCKMAP_LINK, "the victim is a link on a socket map");
        int rounds = 200;
        long calls = 0;
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SkMsgProgram prog = obj.skMsg("msg_pass");
             SkMsgProgram other = obj.skMsg("redir_send_to_local");
             SockHash<Integer> map = SockHash.create(KeyCodec.u32(), 1);
             SockHash<Integer> bystanderMap = SockHash.create(KeyCodec.u32(), 1)) {
            int otherId = other.id();
            for (int round = 0; round < rounds; round++) {
                Attachment victim = prog.attach(map, AttachMode.LINK);
                CountDownLatch started = new CountDownLatch(USERS);
                List<Future<Long>> users = users("link", round, started, user -> {
                    if (user == 0) {
                        victim.linkId();
                    } else {
                        victim.update(prog);
                    }
                });
                closeSoon(started);
                victim.close();
                try (Attachment bystander = other.attach(bystanderMap, AttachMode.LINK)) {
                    calls += join(users);
                    assertThat(bystanderMap.attachedPrograms(AttachType.SK_MSG_VERDICT)).as("round %d", round)
                            .containsExactly(otherId);
                }
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).as("round %d", round).isEmpty();
            }
        }
        String summary = "link: " + rounds + " rounds, " + calls + " link calls before the close";
        report.publishEntry(summary);
        System.out.println("CloseWhileInUseTest: " + summary);
        assertThat(failures).isEmpty();
        assertThat(calls).isPositive();
    }

    /**
     * A PROG_ATTACH attachment closed by several threads at once: it is detached exactly once,
     * and no close throws.
     */
    @Test
    void aProgAttachClosedByManyThreadsAtOnce() throws Exception {
        KernelAssume.has(Feature.PROG_QUERY_SOCKMAP, "the test reads what is attached to the map");
        try (BpfObject obj = BpfObject.openBundled("redirect").load();
             SkMsgProgram prog = obj.skMsg("msg_pass");
             SockHash<Integer> map = SockHash.create(KeyCodec.u32(), 1)) {
            for (int round = 0; round < 200; round++) {
                Attachment a = prog.attach(map, AttachMode.PROG_ATTACH);
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).containsExactly(prog.id());
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Long>> closers = new ArrayList<>();
                for (int t = 0; t < USERS; t++) {
                    closers.add(threads.submit(() -> {
                        go.await();
                        a.close();
                        return 1L;
                    }));
                }
                go.countDown();
                a.close();
                assertThat(join(closers)).isEqualTo(USERS);
                assertThat(a.isClosed()).isTrue();
                assertThat(map.attachedPrograms(AttachType.SK_MSG_VERDICT)).as("round %d", round).isEmpty();
            }
        }
    }

    /**
     * Users list an object's programs and maps and take a program from it while another thread
     * closes it (libbpf frees the object on close): each call completes or throws
     * IllegalStateException.
     */
    @Test
    void aBpfObjectClosedUnderItsUsers(TestReporter report) throws Exception {
        int rounds = 50;
        long calls = 0;
        Map<String, Integer> seen = new ConcurrentHashMap<>();
        AtomicLong programs = new AtomicLong();
        String expected;
        try (BpfObject obj = BpfObject.openBundled("redirect").load()) {
            expected = obj.programNames().size() + " programs, " + obj.mapNames().size() + " maps";
        }
        for (int round = 0; round < rounds; round++) {
            BpfObject obj = BpfObject.openBundled("redirect").load();
            CountDownLatch started = new CountDownLatch(USERS);
            List<Future<Long>> users = users("object", round, started, user -> {
                if (user == 0) {
                    seen.merge(obj.programNames().size() + " programs, " + obj.mapNames().size() + " maps", 1,
                            Integer::sum);
                } else {
                    try (SkMsgProgram p = obj.skMsg("msg_pass")) {
                        p.id();
                        programs.incrementAndGet();
                    }
                }
            });
            closeSoon(started);
            obj.close();
            calls += join(users);
        }
        String summary = "object: " + rounds + " rounds, " + calls + " calls before the close: " + seen + ", " + programs
                + " programs taken";
        report.publishEntry(summary);
        System.out.println("CloseWhileInUseTest: " + summary);
        assertThat(failures).isEmpty();
        assertThat(seen).containsOnlyKeys(expected);
    }
}
