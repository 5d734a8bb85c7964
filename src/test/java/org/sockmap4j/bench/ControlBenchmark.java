package org.sockmap4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.sockmap4j.AttachMode;
import org.sockmap4j.Attachment;
import org.sockmap4j.BpfObject;
import org.sockmap4j.KeyCodec;
import org.sockmap4j.SkMsgProgram;
import org.sockmap4j.SockHash;
import org.sockmap4j.Sockets;

/**
 * Key iteration over 10,000 entries, loading a bundled object, and attaching/detaching a program
 * (a socket-map link), each timed as a whole.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class ControlBenchmark {
    static final int ENTRIES = 10_000;

    private ServerSocketChannel server;
    private SocketChannel client;
    private SocketChannel accepted;
    private SockHash<Integer> big;
    private byte[] bypassElf;
    private BpfObject redirect;
    private SkMsgProgram msgPass;
    private SockHash<Integer> attachTarget;

    @Setup(Level.Trial)
    public void open() throws IOException {
        server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        client = SocketChannel.open(server.getLocalAddress());
        accepted = server.accept();
        int fd = Sockets.fd(client);
        big = SockHash.builder(KeyCodec.u32()).maxEntries(ENTRIES).name("bench_iter").create();
        for (int i = 0; i < ENTRIES; i++) {
            big.put(i, fd); // one socket under 10,000 keys
        }
        try (InputStream in = BpfObject.class.getResourceAsStream("/org/sockmap4j/bpf/bypass.bpf.o")) {
            bypassElf = in.readAllBytes();
        }
        redirect = BpfObject.openBundled("redirect").load();
        msgPass = redirect.skMsg("msg_pass");
        attachTarget = SockHash.builder(KeyCodec.u32()).maxEntries(16).name("bench_att").create();
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        attachTarget.close();
        msgPass.close();
        redirect.close();
        big.close();
        accepted.close();
        client.close();
        server.close();
    }

    @Benchmark
    public List<Integer> iterate10k() {
        return big.keys();
    }

    @Benchmark
    public void loadObject() {
        try (BpfObject obj = BpfObject.open(bypassElf, "bypass").load()) {
            // open, load (verifier) and close
        }
    }

    @Benchmark
    public void attachDetach() {
        try (Attachment a = msgPass.attach(attachTarget, AttachMode.LINK)) {
            // link created; closing it detaches
        }
    }
}
