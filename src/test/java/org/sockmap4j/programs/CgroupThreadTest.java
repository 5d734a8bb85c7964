package org.sockmap4j.programs;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.sockmap4j.Cgroup;
import org.sockmap4j.testing.FdLeakCheck;
import org.sockmap4j.testing.Privileged;
import org.sockmap4j.testing.TestCgroup;

import static org.assertj.core.api.Assertions.assertThat;

/** Cgroup moves a process, or one thread within a threaded subtree, as the kernel reports. */
@Privileged
@ExtendWith(FdLeakCheck.class)
@Timeout(30)
class CgroupThreadTest {
    private static String cgroupOf(String procFile) throws Exception {
        return Files.readString(Path.of(procFile)).lines().filter(l -> l.startsWith("0::")).findFirst().orElseThrow();
    }

    @Test
    void theCallingThreadMovesAloneIntoAThreadedChild() throws Exception {
        String original = cgroupOf("/proc/self/cgroup").substring(3); // "0::/path" -> "/path"
        try (TestCgroup domain = TestCgroup.create()) {
            Path threadedDir = Files.createDirectory(domain.path().resolve("t"));
            try (Cgroup parent = Cgroup.open(domain.path()); Cgroup threaded = Cgroup.open(threadedDir)) {
                threaded.makeThreaded();
                parent.addCurrentProcess();
                String rel = "/" + domain.hierarchyRoot().relativize(domain.path());
                assertThat(cgroupOf("/proc/self/cgroup")).endsWith(rel);
                threaded.addCurrentThread();
                assertThat(cgroupOf("/proc/thread-self/cgroup")).endsWith(rel + "/t");
                // the process as a whole (its main thread) stays in the domain
                assertThat(cgroupOf("/proc/self/task/" + ProcessHandle.current().pid() + "/cgroup")).endsWith(rel);
            } finally {
                // leave the subtree before it is removed: the whole process back where it was
                Files.writeString(domain.hierarchyRoot().resolve(original.substring(1)).resolve("cgroup.procs"),
                        Long.toString(ProcessHandle.current().pid()));
                Files.deleteIfExists(threadedDir);
            }
        }
    }
}
