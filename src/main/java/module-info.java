/**
 * sockmap4j: Linux SOCKMAP and SOCKHASH from Java through the FFM API. See
 * {@link org.sockmap4j.SockMap}, {@link org.sockmap4j.SockHash} and {@link org.sockmap4j.Sockets}.
 */
module org.sockmap4j {
    exports org.sockmap4j;
    exports org.sockmap4j.recipes;
}
