/**
 * sockmap4j: Linux SOCKMAP and SOCKHASH from Java through the FFM API. See
 * {@link org.sockmap4j.SockMap}, {@link org.sockmap4j.SockHash} and {@link org.sockmap4j.Sockets}.
 */
module org.sockmap4j {
    exports org.sockmap4j;
    exports org.sockmap4j.recipes;
    exports org.sockmap4j.netty;
    exports org.sockmap4j.testing;

    // the `sockmap` CLI; picocli is optional (library users do not need it)
    requires static info.picocli;
    requires static jdk.unsupported; // sun.misc.Signal: the CLI stops cleanly on SIGINT/SIGTERM
    requires static jdk.httpserver; // the JDK HTTP server that `sockmap bench bypass` measures
    opens org.sockmap4j.cli to info.picocli;

    // the Netty adapter (org.sockmap4j.netty); Netty is optional: only that package uses it
    requires static io.netty.common;
    requires static io.netty.buffer;
    requires static io.netty.transport;
    requires static io.netty.transport.unix.common;
    requires static io.netty.transport.classes.epoll;

    // test support for users' tests (org.sockmap4j.testing); JUnit 5 is optional
    requires static org.junit.jupiter.api;
    requires static org.opentest4j;
}
